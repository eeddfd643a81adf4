"""The site's bookmarks (guide, /bookmark, /bookmarks, /bookmark/search). Sans-IO.

A bookmark is the guide's body object plus an "id": {"id", "name", "description",
"cameraIds", "startTime", "endTime", "isProtected"}; times are answered as ISO 8601 UTC
with milliseconds. Whether the cameras exist is the caller's question (it knows them).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

from gateway.emulator.event_log import iso_ms, parse_iso_ms

PROTECTION_TYPES = ("ALL", "PROTECTED", "UNPROTECTED")  # guide, /bookmark/search `type`


class BookmarkError(ValueError):
    """A bookmark field has a value the guide does not allow (a 400)."""


class UnknownBookmark(KeyError):
    """No bookmark has that id (a 404)."""


@dataclass(frozen=True, slots=True)
class Bookmark:
    id: str
    name: str
    description: str
    camera_ids: tuple[str, ...]
    start_ms: int
    end_ms: int
    is_protected: bool

    def to_json(self) -> dict:
        return {"id": self.id, "name": self.name, "description": self.description, "cameraIds": list(self.camera_ids),
                "startTime": iso_ms(self.start_ms), "endTime": iso_ms(self.end_ms),
                "isProtected": self.is_protected}  # fmt: skip


def _string(spec: dict, name: str, required: bool) -> str:
    value = spec[name]
    if not isinstance(value, str) or (required and not value):
        raise BookmarkError(f"bookmark.{name} must be a{' non-empty' if required else ''} string")
    return value


def _time(spec: dict, name: str) -> int:
    value = spec[name]
    try:
        return parse_iso_ms(value)
    except (TypeError, ValueError):
        raise BookmarkError(f"bookmark.{name} must be an ISO 8601 time, not {value!r}") from None


def _camera_ids(spec: dict) -> tuple[str, ...]:
    value = spec["cameraIds"]
    if not isinstance(value, list) or not value or not all(isinstance(i, str) and i for i in value):
        raise BookmarkError("bookmark.cameraIds must be a non-empty list of camera ids")
    return tuple(dict.fromkeys(value))


def _flag(spec: dict, name: str) -> bool:
    if not isinstance(spec[name], bool):
        raise BookmarkError(f"bookmark.{name} must be true or false")
    return spec[name]


def bookmark_fields(spec, new: bool) -> dict:
    """Bookmark attributes from the guide's "bookmark" object: every given field (PUT: "Only
    provide the values to be updated"); a new one needs name, cameraIds, startTime and
    endTime, and defaults description to "" and isProtected to false."""
    if not isinstance(spec, dict):
        raise BookmarkError("bookmark must be an object")
    if new:
        missing = [name for name in ("name", "cameraIds", "startTime", "endTime") if spec.get(name) is None]
        if missing:
            raise BookmarkError(f"bookmark.{missing[0]} is required")
        spec = {"description": "", "isProtected": False, **spec}
    given = {name for name, value in spec.items() if value is not None}
    parsers = (
        ("name", "name", lambda: _string(spec, "name", required=True)),
        ("description", "description", lambda: _string(spec, "description", required=False)),
        ("cameraIds", "camera_ids", lambda: _camera_ids(spec)),
        ("startTime", "start_ms", lambda: _time(spec, "startTime")),
        ("endTime", "end_ms", lambda: _time(spec, "endTime")),
        ("isProtected", "is_protected", lambda: _flag(spec, "isProtected")),
    )
    return {attribute: parse() for name, attribute, parse in parsers if name in given}


def _checked(bookmark: Bookmark) -> Bookmark:
    if bookmark.start_ms > bookmark.end_ms:
        raise BookmarkError("bookmark.startTime must not be later than bookmark.endTime")
    return bookmark


class BookmarkBook:
    def __init__(self) -> None:
        self._bookmarks: dict[str, Bookmark] = {}  # in creation order
        self._ids = itertools.count(1)

    def add(self, fields: dict) -> Bookmark:
        bookmark = _checked(Bookmark(id=f"wepEmuBookmark{next(self._ids):06d}", **fields))
        self._bookmarks[bookmark.id] = bookmark
        return bookmark

    def get(self, bookmark_id: str) -> Bookmark:
        try:
            return self._bookmarks[bookmark_id]
        except KeyError:
            raise UnknownBookmark(bookmark_id) from None

    def change(self, bookmark_id: str, fields: dict) -> Bookmark:
        bookmark = _checked(replace(self.get(bookmark_id), **fields))
        self._bookmarks[bookmark_id] = bookmark
        return bookmark

    def delete(self, bookmark_ids: list[str]) -> None:
        """Guide: "A request to delete previously deleted bookmarks will return a success"."""
        for bookmark_id in bookmark_ids:
            self._bookmarks.pop(bookmark_id, None)

    def all(self) -> list[Bookmark]:
        return list(self._bookmarks.values())

    def search(self, from_ms: int, to_ms: int, camera_ids: tuple[str, ...] = (), name: str = "",
               protection: str = "ALL") -> list[Bookmark]:  # fmt: skip
        """Bookmarks whose time overlaps [from, to], with at least one of `camera_ids` (when
        given), whose name contains `name` (any case), of the protection `type`."""
        name = name.casefold()
        return [
            b for b in self._bookmarks.values()
            if b.start_ms <= to_ms and b.end_ms >= from_ms
            and (not camera_ids or any(c in b.camera_ids for c in camera_ids))
            and name in b.name.casefold()
            and (protection == "ALL" or b.is_protected == (protection == "PROTECTED"))
        ]  # fmt: skip

    def __len__(self) -> int:
        return len(self._bookmarks)
