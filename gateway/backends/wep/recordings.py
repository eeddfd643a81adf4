"""Timeline, bookmarks and on-demand recording of WEP cameras (gateway/wep/recording_api.py)."""

from __future__ import annotations

from gateway.backends.base import Bookmark, Timeline
from gateway.wep.recording_api import WepRecordingApi


class WepRecordings:
    def __init__(self, api: WepRecordingApi):
        self._api = api

    async def timeline(self, camera_id: str, start: str, end: str, scope: str) -> Timeline:
        found = await self._api.timeline(camera_id, start, end, scope)
        return Timeline(tuple(found["recordings"]), tuple(found["motion"]))

    async def bookmarks(self, camera_id: str) -> list[Bookmark]:
        return [
            bookmark
            for raw in await self._api.bookmarks()
            if camera_id in (raw.get("cameraIds") or []) and (bookmark := _bookmark(raw)) is not None
        ]

    async def add_bookmark(self, camera_id: str, name: str, start: str, end: str, description: str) -> Bookmark:
        sent = {
            "name": name,
            "description": description,
            "cameraIds": [camera_id],
            "startTime": start,
            "endTime": end,
            "isProtected": False,
        }
        answered = await self._api.add_bookmark(sent)
        return _bookmark({**sent, **answered}) or Bookmark("", name, start, end, description)

    async def record(self, camera_id: str, start: bool, seconds: int) -> None:
        await self._api.record(camera_id, start, seconds)

    async def record_state(self, camera_id: str) -> str | None:
        state = await self._api.record_state(camera_id)
        if state is None:
            return None
        started = state.get("startTime")
        return started if isinstance(started, str) else ""


def _bookmark(raw: dict) -> Bookmark | None:
    start, end = raw.get("startTime"), raw.get("endTime")
    if not isinstance(start, str) or not isinstance(end, str):
        return None
    return Bookmark(str(raw.get("id", "")), str(raw.get("name") or ""), start, end, str(raw.get("description") or ""))
