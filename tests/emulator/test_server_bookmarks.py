"""Bookmarks through real HTTP (guide, /bookmark, /bookmarks, /bookmark/search): create, read,
update only the given fields, delete, search, and the 400/404 envelopes."""

import pytest

from tests.emulator.conftest import api, assert_envelope, login

SPEC = {"name": "Front door", "description": "delivery", "startTime": "2018-10-03T23:51:09.980Z",
        "endTime": "2018-10-03T23:53:10.000Z", "isProtected": False}  # fmt: skip
EVER = {"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}


async def call(http, emulator, method: str, path: str, session: str, body: dict | None = None,
               **params) -> tuple[int, dict]:  # fmt: skip
    if body is None:
        kwargs = {"params": {"session": session, **params}}
    else:
        kwargs = {"json": {"session": session, **body}}
    async with http.request(method, api(emulator, path), **kwargs) as resp:
        return resp.status, await resp.json()


async def add(http, emulator, session: str, **fields) -> dict:
    bookmark = {**SPEC, "cameraIds": [emulator.camera_ids[0]], **fields}
    status, body = await call(http, emulator, "POST", "bookmark", session, {"bookmark": bookmark})
    assert status == 200, body
    return body["result"]["bookmark"]


async def test_create_read_update_delete(emulator, http):
    session = await login(http, emulator)
    cam1, cam2 = emulator.camera_ids
    added = await add(http, emulator, session)
    assert added == {"id": added["id"], **SPEC, "cameraIds": [cam1]}
    status, body = await call(http, emulator, "GET", "bookmark", session, id=added["id"])
    assert status == 200 and body["result"] == {"bookmark": added}
    status, body = await call(http, emulator, "GET", "bookmarks", session)
    assert body["result"] == {"bookmarks": [added]} and emulator.bookmarks == [added]
    # PUT: "Only provide the values to be updated".
    change = {"id": added["id"], "name": "Back door", "cameraIds": [cam1, cam2], "isProtected": True}
    status, body = await call(http, emulator, "PUT", "bookmark", session, {"bookmark": change})
    assert status == 200, body
    changed = {**added, "name": "Back door", "cameraIds": [cam1, cam2], "isProtected": True}
    assert body["result"] == {"bookmark": changed} and emulator.bookmarks == [changed]
    # DELETE, then again: "previously deleted bookmarks will return a success message".
    for _ in range(2):
        status, body = await call(http, emulator, "DELETE", "bookmark", session, {"ids": [added["id"]]})
        assert status == 200 and body == {"status": "success"}
    status, body = await call(http, emulator, "GET", "bookmark", session, id=added["id"])
    assert status == 404 and "bookmark" in body["message"]
    assert emulator.bookmarks == []


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"name": None}, 400, "bookmark.name is required"),
        ({"cameraIds": []}, 400, "bookmark.cameraIds"),
        ({"cameraIds": ["nope"]}, 404, "camera not found"),
        ({"startTime": "not a time"}, 400, "bookmark.startTime"),
        ({"endTime": "2018-10-03T23:00:00Z"}, 400, "startTime must not be later"),
        ({"isProtected": "no"}, 400, "isProtected"),
    ],
)
async def test_add_validation(emulator, http, change, status, words):
    session = await login(http, emulator)
    bookmark = {**SPEC, "cameraIds": [emulator.camera_ids[0]], **change}
    got, body = await call(http, emulator, "POST", "bookmark", session, {"bookmark": bookmark})
    assert got == status, body
    assert_envelope(body, status, "BAD_REQUEST" if status == 400 else "NOT_FOUND")
    assert words in body["message"]
    assert emulator.bookmarks == []


async def test_update_get_delete_validation(emulator, http):
    session = await login(http, emulator)
    added = await add(http, emulator, session)
    cases = [
        ("PUT", {"bookmark": {"name": "x"}}, 400, "bookmark.id is required"),
        ("PUT", {"bookmark": {"id": "nope", "name": "x"}}, 404, "bookmark not found"),
        ("PUT", {"bookmark": {"id": added["id"], "cameraIds": ["nope"]}}, 404, "camera not found"),
        ("PUT", {"bookmark": {"id": added["id"], "startTime": "2019-01-01T00:00:00Z"}}, 400, "startTime"),
        ("DELETE", {"ids": []}, 400, "ids"),
        ("DELETE", {"ids": [str(i) for i in range(17)]}, 400, "at most 16"),
    ]
    for method, body, status, words in cases:
        got, answer = await call(http, emulator, method, "bookmark", session, body)
        assert got == status and words in answer["message"], (method, body, answer)
    status, body = await call(http, emulator, "GET", "bookmark", session)
    assert status == 400 and "id is required" in body["message"]
    assert emulator.bookmarks == [added]  # nothing above changed it
    async with http.get(api(emulator, "bookmarks")) as resp:
        assert resp.status == 401


async def test_search(emulator, http):
    session = await login(http, emulator)
    cam1, cam2 = emulator.camera_ids
    door = await add(http, emulator, session)
    gate = await add(http, emulator, session, name="Gate", cameraIds=[cam2], isProtected=True,
                     startTime="2018-10-05T00:00:00Z", endTime="2018-10-05T00:01:00Z")  # fmt: skip

    async def search(**params) -> list[str]:
        status, body = await call(http, emulator, "GET", "bookmark/search", session, **params)
        assert status == 200, body
        return [b["name"] for b in body["result"]["bookmarks"]]

    assert await search(**EVER) == ["Front door", "Gate"]
    assert await search(**EVER, cameraIds=f"{cam2},{cam1}") == ["Front door", "Gate"]
    assert await search(**EVER, cameraIds=cam2) == ["Gate"]
    assert await search(**EVER, name="DOOR") == ["Front door"]
    assert await search(**EVER, type="PROTECTED") == ["Gate"]
    assert await search(**EVER, type="UNPROTECTED") == ["Front door"]
    assert await search(**{"from": "2018-10-03T23:52:00Z", "to": "2018-10-04T00:00:00Z"}) == ["Front door"]
    assert await search(to="2018-10-06T00:00:00Z") == ["Front door", "Gate"]  # from: a week before to
    assert await search() == []  # the last week
    assert door["id"] != gate["id"]
    backwards = {"from": "2020-01-02T00:00:00Z", "to": "2020-01-01T00:00:00Z"}
    for params, status in [({"type": "SOME"}, 400), (backwards, 400), ({"from": "soon"}, 400),
                           ({"cameraIds": "nope"}, 404),
                           ({"cameraIds": ",".join([cam1] * 31)}, 200),  # repeats count once
                           ({"cameraIds": ",".join(f"c{i}" for i in range(31))}, 400)]:  # fmt: skip
        got, body = await call(http, emulator, "GET", "bookmark/search", session, **params)
        assert got == status, (params, body)
