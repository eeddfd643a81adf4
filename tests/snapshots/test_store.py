"""The store against an in-memory WEP: what is fetched, what is cut locally, what is kept."""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from gateway.api.errors import ApiError
from gateway.config import SnapshotsConfig
from gateway.emulator.jpeg import render_jpeg
from gateway.emulator.params import Roi as EmulatorRoi
from gateway.snapshots.request import ImageRefRequest, parse_snapshot
from gateway.snapshots.store import SnapshotStore
from gateway.wep.errors import WepUnavailable
from transcoders.jpeg import decode_rgb

FULL = (320, 180)
NOW = datetime(2026, 1, 1, tzinfo=UTC).timestamp()


class FakeWep:
    """Answers like the emulator (same renderer), counts calls, can be held or made to fail."""

    def __init__(self):
        self.calls: list[tuple] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail: Exception | None = None

    async def jpeg(self, camera_id, *, t="live", roi=None, size=None):
        self.calls.append(("jpeg", camera_id, t, roi, size))
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        emulator_roi = EmulatorRoi(*map(float, roi.split(","))) if roi else None
        emulator_size = tuple(map(int, size.split(","))) if size else None
        return render_jpeg(0, len(self.calls), 60, FULL, emulator_roi, emulator_size)

    async def image_ref(self, camera_id, path, ref_type):
        self.calls.append(("imageRef", camera_id, path, ref_type))
        return render_jpeg(1, 0, 60, FULL, None, None)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


async def known_camera(camera_id):
    if camera_id != "cam1":
        raise ApiError(404, "not_found", f"no camera {camera_id!r}")


@pytest.fixture
def executor():
    with ThreadPoolExecutor(2) as pool:
        yield pool


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def wep():
    return FakeWep()


@pytest.fixture
def store(wep, executor, clock):
    return SnapshotStore(
        wep,
        SnapshotsConfig(cache_bytes=1 << 20, live_ttl=1.0),
        executor,
        known_camera,
        clock=clock,
        wall_clock=lambda: NOW,
    )


def snap(camera="cam1", **query):
    return parse_snapshot(camera, list(query.items()))


PAST = "2025-12-31T23:00:00Z"


async def test_past_instant_fetched_once_and_immutable(store, wep, clock):
    first = await store.snapshot(snap(t=PAST))
    clock.now += 1e6
    again = await store.snapshot(snap(t="20251231T230000.000Z,c"))
    assert again is first and first.immutable
    assert wep.calls == [("jpeg", "cam1", "20251231T230000.000Z,c", None, None)]
    assert (store.stats.hits, store.stats.misses, store.stats.upstream_fetches) == (1, 1, 1)
    assert store.max_age(first) == 86400


async def test_recent_instant_is_kept_like_live(store, wep, clock):
    recent = datetime.fromtimestamp(NOW - 5, UTC).isoformat()
    entry = await store.snapshot(snap(t=recent))
    assert not entry.immutable and entry.expires_at == clock.now + 1.0


async def test_live_expires_after_ttl(store, wep, clock):
    await store.snapshot(snap())
    clock.now += 0.5
    await store.snapshot(snap())
    assert len(wep.calls) == 1
    clock.now += 0.5
    await store.snapshot(snap())
    assert len(wep.calls) == 2


async def test_crop_of_cached_frame_is_cut_locally(store, wep):
    full = await store.snapshot(snap(t=PAST))
    crop = await store.snapshot(snap(t=PAST, roi="0.25,0.25,0.75,0.75", size="80x45"))
    assert len(wep.calls) == 1 and store.stats.local_crops == 1
    assert decode_rgb(crop.body).shape == (45, 80, 3)
    assert crop.immutable and crop.etag != full.etag
    # A crop of another instant, or another camera's frame, still goes to WEP.
    await store.snapshot(snap(t="2025-12-31T23:00:01Z", roi="0.25,0.25,0.75,0.75"))
    assert len(wep.calls) == 2 and wep.calls[1][3] == "0.25,0.25,0.75,0.75"


async def test_a_crop_is_never_the_source_of_another(store, wep):
    await store.snapshot(snap(t=PAST, size="160x90"))
    await store.snapshot(snap(t=PAST, roi="0,0,0.5,0.5"))
    assert len(wep.calls) == 2 and store.stats.local_crops == 0


async def test_live_crop_expires_with_its_frame(store, wep, clock):
    full = await store.snapshot(snap())
    clock.now += 0.6
    crop = await store.snapshot(snap(roi="0,0,0.5,0.5"))
    assert crop.expires_at == full.expires_at and len(wep.calls) == 1
    clock.now += 0.4
    await store.snapshot(snap(roi="0,0,0.5,0.5"))
    assert len(wep.calls) == 2 and wep.calls[1][3] == "0.0,0.0,0.5,0.5"


async def test_crop_waits_for_its_frame_in_flight(store, wep):
    wep.gate.clear()
    full = asyncio.create_task(store.snapshot(snap(t=PAST)))
    await asyncio.sleep(0.01)
    crop = asyncio.create_task(store.snapshot(snap(t=PAST, roi="0.5,0.5,1,1")))
    await asyncio.sleep(0.01)
    wep.gate.set()
    await asyncio.wait_for(asyncio.gather(full, crop), 10)
    assert len(wep.calls) == 1 and store.stats.local_crops == 1


async def test_concurrent_requests_share_one_fetch_and_one_error(store, wep):
    wep.gate.clear()
    wep.fail = WepUnavailable(503, None, "SERVICE_UNAVAILABLE", "busy")
    waiters = [asyncio.create_task(store.snapshot(snap(t=PAST))) for _ in range(20)]
    await asyncio.sleep(0.01)
    wep.gate.set()
    outcomes = await asyncio.wait_for(asyncio.gather(*waiters, return_exceptions=True), 10)
    assert all(isinstance(o, WepUnavailable) for o in outcomes)
    assert len(wep.calls) == 1 and store.stats.upstream_errors == 1 and store.stats.coalesced == 19
    assert len(store.cache) == 0  # the error is not kept: the next request asks again
    wep.fail = None
    await store.snapshot(snap(t=PAST))
    assert len(wep.calls) == 2


async def test_unknown_camera_never_reaches_wep(store, wep):
    with pytest.raises(ApiError) as caught:
        await store.snapshot(snap(camera="nope"))
    assert caught.value.status == 404 and wep.calls == []


async def test_zero_ttl_shares_but_keeps_nothing(wep, executor, clock):
    store = SnapshotStore(wep, SnapshotsConfig(live_ttl=0.0), executor, known_camera, clock=clock)
    await store.snapshot(snap())
    await store.snapshot(snap())
    assert len(wep.calls) == 2 and len(store.cache) == 0


async def test_image_ref_cached(store, wep):
    wanted = ImageRefRequest("cam1", "events/1", "THUMBNAIL")
    first = await store.image_ref(wanted)
    assert await store.image_ref(wanted) is first and first.immutable
    assert wep.calls == [("imageRef", "cam1", "events/1", "THUMBNAIL")]


async def test_undecodable_frame_falls_back_to_wep(store, wep):
    # A full frame that does not decode (a proxy's truncated answer) must not break crops.
    await store.snapshot(snap(t=PAST))
    key = snap(t=PAST)
    broken = store.cache.get(key)
    store.cache.put(key, type(broken)(b"\xff\xd8 not a jpeg", broken.etag, None))
    crop = await store.snapshot(snap(t=PAST, roi="0,0,0.5,0.5"))
    assert len(wep.calls) == 2 and store.stats.local_crop_failures == 1
    assert decode_rgb(crop.body).shape == (90, 160, 3)
