"""The emulator's clock in its fMP4 (prft boxes) and its GOP setting (settings.gops): what
the gateway's PROGRAM-DATE-TIME and its target-duration rules are tested against."""

from datetime import UTC, datetime

import pytest

from gateway.emulator.settings import SettingsError
from gateway.media.fmp4 import Fmp4Reader, Fragment
from tests.emulator.conftest import api, login, read_for, small_settings


async def test_fragments_carry_the_cameras_time_in_prft_boxes(make_emulator, http):
    """ISO/IEC 14496-12 8.16.5: each fragment's prft says when its first frame was taken,
    on the emulator's clock (timeline zero is its start); a recording says the recorded
    instant; the setting turns them off."""
    emulator = await make_emulator()
    session = await login(http, emulator)
    params = {"session": session, "cameraId": emulator.camera_ids[0], "format": "fmp4", "quality": "low"}
    async with http.get(api(emulator, "media"), params=params) as resp:
        live = await read_for(resp, 1.2)
    samples = [s for e in Fmp4Reader().feed(live) if isinstance(e, Fragment) for s in e.samples]
    assert samples and all(
        s.captured_at == pytest.approx(emulator.epoch_wall + s.decode_time / 90000, abs=1e-6) for s in samples
    )
    assert samples[-1].captured_at <= datetime.now(UTC).timestamp()

    at = emulator.epoch_wall - 3600 + 0.5  # a keyframe every second from the emulator's start
    past = datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    async with http.get(api(emulator, "media"), params={**params, "t": past + ",g"}) as resp:
        recorded = await read_for(resp, 1.0)
    first = next(s for e in Fmp4Reader().feed(recorded) if isinstance(e, Fragment) for s in e.samples)
    assert first.decode_time == 0 and first.is_keyframe
    assert first.captured_at == pytest.approx(emulator.epoch_wall - 3600 + 1.0, abs=1e-6)  # the keyframe after

    plain = await make_emulator(prft=False)
    session = await login(http, plain)
    async with http.get(api(plain, "media"), params={**params, "session": session}) as resp:
        body = await read_for(resp, 0.5)
    assert b"prft" not in body and all(
        s.captured_at is None for e in Fmp4Reader().feed(body) if isinstance(e, Fragment) for s in e.samples
    )


async def test_gops_setting_places_the_keyframes(make_emulator, http, tmp_path):
    emulator = await make_emulator(loop_seconds=4.0, gops=(1.0, 3.0))
    loop = emulator.library[emulator.camera_ids[0]].video["low"].loop
    starts = [f.start / loop.timescale for f in loop.fragments if f.keyframe]
    assert starts == [0.0, 1.0]  # then the loop repeats: a 1 s GOP, a 3 s one
    for bad in ((1.0, 2.0), (1.0, 2.95, 0.05)):
        with pytest.raises(SettingsError, match="gops"):
            small_settings("", loop_seconds=4.0, gops=bad).validate()
