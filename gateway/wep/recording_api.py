"""WEP's recording routes: `GET /timeline` (recorded ranges and motion marks), bookmarks
(`GET /bookmarks`, `POST /bookmark`) and manual recording (`POST /camera/record/manual`,
`GET /camera/manual-record-state`), on the shared client. The guide documents the
answers as "string": they are read tolerantly, unreadable ones are a WepUnavailable."""

from __future__ import annotations

from typing import Any

from gateway.wep.answers import WepCall
from gateway.wep.client import WepClient
from gateway.wep.errors import WepUnavailable

# Guide, POST /camera/record/manual: "up to 24 hours at a time".
MAX_RECORD_SECONDS = 86400
# Guide, GET /timeline `scope`.
SCOPES = (
    "TENTH_SECOND",
    "1_SECOND",
    "10_SECONDS",
    "100_SECONDS",
    "1000_SECONDS",
    "10000_SECONDS",
    "100000_SECONDS",
    "1000000_SECONDS",
)


class WepRecordingApi:
    def __init__(self, client: WepClient):
        self.client = client

    async def timeline(self, camera_id: str, start: str, end: str, scope: str) -> dict[str, list[tuple[str, str]]]:
        """{"recordings": [(start, end)], "motion": [(start, end)]} of one camera."""
        params = (("cameraIds", camera_id), ("scope", scope), ("start", start), ("end", end), ("storage", "ALL"))
        result = await self.client.call(WepCall("GET", "/timeline", "timeline", params, camera_id=camera_id))
        entries = _list(result, ("timelines", "timeline", "cameras"), "GET /timeline")
        entry = next((e for e in entries if str(e.get("cameraId", camera_id)) == camera_id), {})
        return {
            "recordings": _ranges(entry, ("recordings", "recorded", "video", "unloaded")),
            "motion": _ranges(entry, ("motion", "motionEvents", "events")),
        }

    async def bookmarks(self) -> list[dict]:
        result = await self.client.call(WepCall("GET", "/bookmarks", "bookmarks"))
        return _list(result, ("bookmarks", "bookmark"), "GET /bookmarks")

    async def add_bookmark(self, bookmark: dict) -> dict:
        call = WepCall(
            "POST",
            "/bookmark",
            "bookmark.add",
            body={"bookmark": bookmark},
            session_in_query=False,
            session_in_body=True,
        )
        result = await self.client.call(call)
        found = result.get("bookmark", result) if isinstance(result, dict) else None
        return found if isinstance(found, dict) else {}

    async def record(self, camera_id: str, start: bool, seconds: int) -> None:
        body = {"cameraIds": [camera_id], "action": "START" if start else "STOP", "maxDurationSec": seconds}
        call = WepCall(
            "POST",
            "/camera/record/manual",
            "record.manual",
            body=body,
            session_in_query=False,
            session_in_body=True,
            camera_id=camera_id,
        )
        await self.client.call(call, result=False)

    async def record_state(self, camera_id: str) -> dict | None:
        """The camera's manual recording (startTime...), or None when it is not recording."""
        call = WepCall(
            "GET", "/camera/manual-record-state", "record.state", (("cameraIds", camera_id),), camera_id=camera_id
        )
        states = _list(
            await self.client.call(call), ("states", "cameras", "manualRecordStates"), "GET /camera/manual-record-state"
        )
        return next((state for state in states if str(state.get("cameraId", state.get("id"))) == camera_id), None)


def _list(result: Any, keys: tuple[str, ...], context: str) -> list[dict]:
    if isinstance(result, dict):
        result = next((result[key] for key in keys if isinstance(result.get(key), list)), None)
    if not isinstance(result, list):
        raise WepUnavailable(502, None, "BAD_RESPONSE", f"{context}: result has no {keys[0]} list")
    return [item for item in result if isinstance(item, dict)]


def _ranges(entry: dict, keys: tuple[str, ...]) -> list[tuple[str, str]]:
    items: list = next((entry[key] for key in keys if isinstance(entry.get(key), list)), [])
    ranges = []
    for item in items:
        if isinstance(item, dict):
            start, end = item.get("start", item.get("startTime")), item.get("end", item.get("endTime"))
            if isinstance(start, str) and isinstance(end, str):
                ranges.append((start, end))
    return ranges
