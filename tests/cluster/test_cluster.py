"""Three gateway nodes on one Redis in front of the WEP emulator (issue 18's "done when")."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

pytestmark = pytest.mark.peer

CAMERA_PULL = "{camera}/fmp4/high"


def video_pulls(emulator, camera: str) -> int:
    return emulator.stats["media_connections"].get(f"{camera}/fmp4/high", 0)


def audio_pulls(emulator, camera: str) -> int:
    return sum(count for key, count in emulator.stats["media_connections"].items() if key.startswith(f"{camera}/webm/"))


class LiveReader:
    """A /live player: counts the bytes it gets and when it last got any."""

    def __init__(self, http: aiohttp.ClientSession, url: str):
        self.url = url
        self.bytes = 0
        self.last = 0.0
        self.requests = 0
        self._http = http
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        self.requests += 1
        async with self._http.get(self.url, timeout=aiohttp.ClientTimeout(total=None, sock_read=30)) as resp:
            assert resp.status == 200, await resp.text()
            async for chunk in resp.content.iter_any():
                self.bytes += len(chunk)
                self.last = time.monotonic()

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def mint(http: aiohttp.ClientSession, base: str, **body) -> dict:
    async with http.post(f"{base}/api/v1/tokens", json={"cameras": ["*"], **body}) as resp:
        assert resp.status == 201, await resp.text()
        return await resp.json()


async def wait_until(predicate, timeout: float, what: str, step: float = 0.05) -> float:
    """Seconds it took until predicate() is true; AssertionError naming `what` after timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if await predicate() if asyncio.iscoroutinefunction(predicate) else predicate():
            return time.monotonic() - start
        await asyncio.sleep(step)
    raise AssertionError(f"not within {timeout}s: {what}")


async def test_one_pull_for_the_cluster_and_failover(emulator, cluster, admin_http):
    nodes = await cluster.start(3)
    camera = emulator.camera_ids[0]
    token = (await mint(admin_http, nodes[0].base, ttl=600))["token"]
    async with aiohttp.ClientSession() as http:
        readers = [LiveReader(http, f"{nodes[i % 3].base}/live/{camera}.mp4?token={token}") for i in range(30)]
        try:
            await wait_until(lambda: all(r.bytes > 20_000 for r in readers), 20, "every player gets media")
            assert video_pulls(emulator, camera) == 1, (emulator.stats["media_connections"], cluster.logs())
            assert audio_pulls(emulator, camera) <= 1, emulator.stats["media_connections"]

            view: dict = {}

            async def owner_listed() -> bool:  # members beat once a second: the view may lag
                nonlocal view
                async with admin_http.get(f"{nodes[1].base}/api/v1/cluster") as resp:
                    assert resp.status == 200, await resp.text()
                    view = await resp.json()
                listed = any({"camera": camera, "quality": "high"} in n["cameras"] for n in view["nodes"])
                return listed and sum(n["viewers"] for n in view["nodes"]) == 30

            await wait_until(owner_listed, 5, "the owner and 30 viewers in the cluster view")
            owners = [n for n in view["nodes"] if {"camera": camera, "quality": "high"} in n["cameras"]]
            assert [n["node_id"] for n in view["nodes"]] == ["node-a", "node-b", "node-c"], view
            assert len(owners) == 1, view
            assert [n["viewers"] for n in view["nodes"]] == [10, 10, 10], view
            owner = next(node for node in nodes if node.name == owners[0]["node_id"])
            others = [node for node in nodes if node is not owner]

            await cluster.kill(owner)
            killed_at = time.monotonic()
            survivors = [r for r in readers if not r.url.startswith(owner.base)]

            async def new_owner() -> bool:
                async with admin_http.get(f"{others[0].base}/api/v1/cluster") as resp:
                    nodes_now = (await resp.json())["nodes"]
                return any(
                    {"camera": camera, "quality": "high"} in n["cameras"] and n["node_id"] != owner.name
                    for n in nodes_now
                )

            took_owner = await wait_until(new_owner, 5, "a new owner")
            marks = {id(r): r.bytes for r in survivors}
            took_media = await wait_until(
                lambda: all(r.bytes > marks[id(r)] + 5000 for r in survivors), 8, "media again on the other nodes"
            )
            assert all(r.requests == 1 and not r.task.done() for r in survivors), "a player had to reconnect"
            print(
                f"new owner after {took_owner:.2f}s; media {took_media:.2f}s later ({time.monotonic() - killed_at:.2f}s after the kill)"
            )
            assert video_pulls(emulator, camera) == 2, emulator.stats["media_connections"]
        finally:
            for reader in readers:
                await reader.stop()


async def test_one_talker_per_speaker_across_nodes(emulator, cluster, admin_http):
    """A file played through node A holds the camera's speaker for the whole cluster: the
    same rank on node B is refused with 409 naming A; once A's talk ends, B may talk."""
    from tests.talkdown.audio import tone, wav_bytes

    node_a, node_b = await cluster.start(2)
    camera = emulator.camera_ids[0]  # the emulator's first camera has a speaker
    long_file = wav_bytes(tone(6.0, 8000), 8000)
    url = "/api/v1/cameras/{camera}/talkdown"

    async def play(node) -> tuple[int, dict]:
        async with admin_http.post(
            node.base + url.format(camera=camera), data=long_file, headers={"Content-Type": "audio/wav"}
        ) as resp:
            return resp.status, await resp.json()

    first = asyncio.get_running_loop().create_task(play(node_a))
    await wait_until(lambda: emulator.stats["talk_bytes"].get(camera, 0) > 0, 10, "node A talking")
    status, body = await play(node_b)
    assert status == 409, body
    assert body["error"]["code"] == "speaker_busy" and "node-a" in body["error"]["message"], body
    status, body = await first
    assert status == 200, body
    status, body = await play(node_b)  # the lease went with A's talk
    assert status == 200, body
