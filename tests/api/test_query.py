"""Numbers in queries and paths are ASCII digits only: every route that reads one answers
400 naming the parameter, never 500 (`?_HLS_msn=²` was a 500: `'²'.isdigit()` is true and
`int('²')` raises; `int('٣')` is 3), issue 19."""

from __future__ import annotations

import dataclasses
from urllib.parse import quote

import aiohttp
import pytest

from gateway.api.query import ParameterError, ascii_int, is_ascii_decimal, is_ascii_digits
from tests.auth.secure import ADMIN_KEY, TOKEN_SECRET, admin_headers
from tests.conftest import config_for, serving

# A superscript two, an Arabic-Indic three, a sign, a space, an exponent, nothing, past 2^64.
BAD = ["²", "٣", "+1", " 1", "1e3", "", "99999999999999999999"]

# (method, path, query, parameter): "{v}" is where the bad value goes.
ROUTES = [
    ("GET", "/hls/{camera}/high/playlist.m3u8", {"_HLS_msn": "{v}"}, "_HLS_msn"),
    ("GET", "/hls/{camera}/high/playlist.m3u8", {"_HLS_msn": "1", "_HLS_part": "{v}"}, "_HLS_part"),
    ("GET", "/api/v1/events", {"limit": "{v}"}, "limit"),
    ("GET", "/api/v1/rules/{v}", {}, "id"),
    ("GET", "/api/v1/rules/1/history", {"limit": "{v}"}, "limit"),
    ("GET", "/api/admin/v1/scripts/{v}", {}, "id"),
    ("POST", "/api/v1/cameras/{camera}/presets/{v}/goto", {}, "n"),
    ("POST", "/api/v1/cameras/{camera}/outputs/{v}", {}, "n"),
    ("GET", "/api/v1/cameras/{camera}/snapshot.jpg", {"size": "{v}"}, "size"),
    ("GET", "/api/v1/cameras/{camera}/snapshot.jpg", {"roi": "{v}"}, "roi"),
]


@pytest.fixture
async def base(emulator):
    config = config_for(emulator)
    auth = dataclasses.replace(config.auth, admin_key=ADMIN_KEY, token_secret=TOKEN_SECRET)
    async with serving(dataclasses.replace(config, auth=auth)) as server:
        yield str(server.make_url("")).rstrip("/"), emulator.camera_ids[0]


@pytest.mark.parametrize("method, path, query, parameter", ROUTES, ids=[f"{r[0]} {r[1]} {r[3]}" for r in ROUTES])
async def test_a_number_that_is_not_ascii_digits_is_a_400_naming_it(base, method, path, query, parameter):
    url, camera = base
    problems = []
    async with aiohttp.ClientSession() as http:
        for value in BAD:
            if "{v}" in path and not value:
                continue  # an empty path segment matches no route: the router's 404
            target = path.replace("{camera}", camera).replace("{v}", quote(value, safe=""))
            params = {name: text.replace("{v}", value) for name, text in query.items()}  # percent-encoded
            async with http.request(method, url + target, params=params, headers=admin_headers()) as response:
                body = await response.json(content_type=None)
            message = body.get("error", {}).get("message", "")
            if response.status != 400 or parameter not in message:
                problems.append(f"{value!r}: {response.status} {message!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("text", [*BAD, "-1", "1.0", "0x1", "1_0", "\uff11"])  # FULLWIDTH DIGIT ONE
def test_ascii_int_refuses(text):
    with pytest.raises(ParameterError) as caught:
        ascii_int(text, "limit", 1, 1000)
    assert (caught.value.parameter, str(caught.value)) == ("limit", "limit must be a whole number from 1 to 1000")


def test_ascii_int_accepts_digits_within_bounds():
    assert [ascii_int(text, "n", 0, 2**64 - 1) for text in ("0", "7", "0042", "18446744073709551615")] == [
        0,
        7,
        42,
        2**64 - 1,
    ]
    with pytest.raises(ParameterError):
        ascii_int("18446744073709551616", "n", 0, 2**64 - 1)
    with pytest.raises(ParameterError):
        ascii_int("9" * 5000, "n", 0, 2**64 - 1)  # refused before int(), which would raise on 4301 digits


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0", True),
        ("-0", True),
        (".5", True),
        ("0.250", True),
        ("1.", True),
        ("1e3", False),
        ("+1", False),
        (" 1", False),
        ("nan", False),
        ("inf", False),
        ("1_0", False),
        ("\u0660.\u0665", False),  # ARABIC-INDIC 0.5: float() reads it
        ("", False),
        ("-", False),
        (".", False),
        ("1.2.3", False),
    ],
)
def test_is_ascii_decimal(text, expected):
    assert is_ascii_decimal(text) is expected


def test_is_ascii_digits():
    assert is_ascii_digits("0123456789")
    assert not any(is_ascii_digits(text) for text in ("²", "٣", "\uff11", "", " 1", "+1"))
