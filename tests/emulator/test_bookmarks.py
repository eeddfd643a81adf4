"""The bookmark book, sans-IO: fields as the guide's body gives them, changes, search."""

import pytest

from gateway.emulator.bookmarks import BookmarkBook, BookmarkError, UnknownBookmark, bookmark_fields

SPEC = {"name": "Door", "cameraIds": ["cam1"], "startTime": "2018-10-03T23:51:09.980Z",
        "endTime": "2018-10-03T23:53:10.000Z"}  # fmt: skip


def test_a_new_bookmark_has_defaults_and_normalised_times():
    book = BookmarkBook()
    added = book.add(bookmark_fields({**SPEC, "startTime": "2018-10-03T23:51:09.98"}, new=True))
    assert added.to_json() == {"id": "wepEmuBookmark000001", "name": "Door", "description": "",
                               "cameraIds": ["cam1"], "startTime": "2018-10-03T23:51:09.980Z",
                               "endTime": "2018-10-03T23:53:10.000Z", "isProtected": False}  # fmt: skip
    assert book.add(bookmark_fields(SPEC, new=True)).id == "wepEmuBookmark000002"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": None}, "bookmark.name is required"),
        ({"name": ""}, "bookmark.name must be a non-empty string"),
        ({"cameraIds": []}, "bookmark.cameraIds must be a non-empty list"),
        ({"cameraIds": "cam1"}, "bookmark.cameraIds must be a non-empty list"),
        ({"startTime": "yesterday"}, "bookmark.startTime must be an ISO 8601 time"),
        ({"endTime": 5}, "bookmark.endTime must be an ISO 8601 time"),
        ({"isProtected": "yes"}, "bookmark.isProtected must be true or false"),
        ({"description": 3}, "bookmark.description must be a string"),
    ],
)
def test_new_bookmark_fields_are_checked(change, message):
    with pytest.raises(BookmarkError, match=message):
        bookmark_fields({**SPEC, **change}, new=True)


def test_start_may_not_follow_end_on_add_or_change():
    book = BookmarkBook()
    with pytest.raises(BookmarkError, match=r"startTime must not be later than bookmark\.endTime"):
        book.add(bookmark_fields({**SPEC, "endTime": "2018-10-03T23:00:00Z"}, new=True))
    added = book.add(bookmark_fields({**SPEC, "endTime": SPEC["startTime"]}, new=True))  # an instant is fine
    with pytest.raises(BookmarkError):
        book.change(added.id, bookmark_fields({"startTime": "2018-10-04T00:00:00Z"}, new=False))
    assert book.get(added.id) == added


def test_change_sets_only_given_fields_and_delete_forgets_quietly():
    book = BookmarkBook()
    added = book.add(bookmark_fields(SPEC, new=True))
    changed = book.change(added.id, bookmark_fields({"id": added.id, "isProtected": True}, new=False))
    assert changed.is_protected and changed.name == "Door" and changed.start_ms == added.start_ms
    with pytest.raises(UnknownBookmark):
        book.change("nope", {})
    book.delete([added.id, "nope"])
    book.delete([added.id])
    assert book.all() == [] and len(book) == 0


def test_search_by_time_overlap_cameras_name_and_protection():
    book = BookmarkBook()
    door = book.add(bookmark_fields({**SPEC, "cameraIds": ["cam1", "cam2"]}, new=True))
    gate = book.add(bookmark_fields({**SPEC, "name": "Back gate", "cameraIds": ["cam3"], "isProtected": True},
                                    new=True))  # fmt: skip
    every = (0, 2**42)
    assert book.search(*every) == [door, gate]
    assert book.search(*every, camera_ids=("cam2", "cam9")) == [door]
    assert book.search(*every, name="GATE") == [gate]
    assert book.search(*every, protection="PROTECTED") == [gate]
    assert book.search(*every, protection="UNPROTECTED") == [door]
    assert book.search(door.end_ms, door.end_ms + 1) == [door, gate]  # touching the end overlaps
    assert book.search(door.end_ms + 1, door.end_ms + 2) == []
