"""The WEP emulator reads numbers in queries, bodies and tokens as ASCII digits only: what
was a 500 (`'²'.isdigit()` is true, `int('²')` raises) is the guide's 400/401 envelope,
issue 19."""

from __future__ import annotations

import pytest

from gateway.emulator.cameras import SERVER_ID
from tests.emulator.conftest import api, assert_envelope, login, login_body

EVER = {"from": "2000-01-01T00:00:00.000Z", "to": "2100-01-01T00:00:00.000Z"}
BAD = ["²", "٣", "99999999999999999999"]


@pytest.mark.parametrize("value", BAD)
async def test_a_search_limit_that_is_not_ascii_digits_is_a_400(emulator, http, value):
    session = await login(http, emulator)
    params = {"session": session, "queryType": "TIME_RANGE", "serverId": SERVER_ID, "limit": value, **EVER}
    async with http.get(api(emulator, "events/search"), params=params) as resp:
        assert resp.status == 400
        assert_envelope(await resp.json(), 400, "BAD_REQUEST")


@pytest.mark.parametrize("value", BAD)
async def test_an_alarm_history_limit_that_is_not_ascii_digits_is_a_400(emulator, http, value):
    session = await login(http, emulator)
    async with http.get(api(emulator, "alarm-history"), params={"session": session, "id": "1", "limit": value}) as resp:
        assert resp.status == 400
        assert "limit" in (await resp.json())["message"]


@pytest.mark.parametrize("value", BAD)
async def test_a_preset_id_that_is_not_ascii_digits_is_a_400(make_emulator, http, value):
    emulator = await make_emulator(ptz_camera=1)
    session = await login(http, emulator)
    body = {"session": session, "id": emulator.camera_ids[0], "presetId": value}
    async with http.put(api(emulator, "camera/commands/preset"), json=body) as resp:
        assert resp.status == 400
        assert "presetId" in (await resp.json())["message"]


@pytest.mark.parametrize("value", BAD)
async def test_a_token_timestamp_that_is_not_ascii_digits_is_a_401(emulator, http, value):
    body = login_body(emulator, authorizationToken=f"{emulator.settings.user_nonce}:{value}:{'0' * 64}")
    async with http.post(api(emulator, "login"), json=body) as resp:
        assert resp.status == 401
        assert (await resp.json())["message"] == "authorization token timestamp is not a Unix time"


@pytest.mark.parametrize("value", ["nan", "inf", "1e999", "²"])
async def test_a_fault_count_that_is_not_a_finite_number_is_a_400(emulator, http, value):
    async with http.post(f"{emulator.url}/_emulator/fail", params={"count": value}) as resp:
        assert resp.status == 400
