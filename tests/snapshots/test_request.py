"""Snapshot query parsing: equal requests make equal keys, bad values name their parameter."""

from datetime import UTC, datetime

import pytest

from gateway.snapshots.request import (
    LIVE,
    SETTLED_AFTER,
    ImageRefRequest,
    ParameterError,
    SnapshotRequest,
    SnapshotTime,
    none_match,
    parse_image_ref,
    parse_snapshot,
)
from transcoders.jpeg import Roi


def snap(**query) -> SnapshotRequest:
    return parse_snapshot("cam1", list(query.items()))


@pytest.mark.parametrize(
    "spelling",
    [
        "2016-03-10T21:01:00.057Z",
        "20160310T210100.057Z",
        "2016-03-10T21:01:00.057Z,c",
        "20160310T210100.057Z,c",
        "2016-03-10T22:01:00.057+01:00",
        "2016-03-10T16:01:00.057-05:00,c",
        "2016-03-10T22:01:00.057 01:00",  # an unencoded + in a query string arrives as a space
        "2016-03-10T21:01:00.057999Z",  # WEP takes milliseconds: finer digits do not split the cache
    ],
)
def test_equal_times_make_one_key(spelling):
    wanted = snap(t=spelling)
    assert wanted == snap(t="2016-03-10T21:01:00.057Z")
    assert hash(wanted) == hash(snap(t="2016-03-10T21:01:00.057Z"))
    assert wanted.wep_params() == {"t": "20160310T210100.057Z,c", "roi": None, "size": None}


def test_live_and_match_criteria():
    assert snap().time == LIVE == snap(t="live").time
    assert snap().wep_params()["t"] == "live"
    for match in "clge":
        assert snap(t=f"2016-03-10T21:01:00Z,{match}").time.wep() == f"20160310T210100.000Z,{match}"
    assert snap(t="2016-03-10T21:01:00Z,l") != snap(t="2016-03-10T21:01:00Z,g")


@pytest.mark.parametrize(
    "value, message",
    [
        ("yesterday", "t must be 'live' or an ISO 8601 time such as 2016-03-10T21:01:00.057Z, got 'yesterday'"),
        ("", "t must be 'live' or an ISO 8601 time such as 2016-03-10T21:01:00.057Z, got ''"),
        ("2016-03-10", "t must be 'live' or an ISO 8601 time such as 2016-03-10T21:01:00.057Z, got '2016-03-10'"),
        (
            "2016-13-10T21:01:00Z",
            "t must be 'live' or an ISO 8601 time such as 2016-03-10T21:01:00.057Z, got '2016-13-10T21:01:00Z'",
        ),
        ("2016-03-10T21:01:00", "t needs a time zone (Z or +HH:MM), got '2016-03-10T21:01:00'"),
        ("2016-03-10T21:01:00Z,x", "t match criteria must be one of c, l, g, e, got 'x'"),
        ("2016-03-10T21:01:00Z,", "t match criteria must be one of c, l, g, e, got ''"),
        ("live,c", "t must be 'live' or an ISO 8601 time such as 2016-03-10T21:01:00.057Z, got 'live,c'"),
        ("1969-12-31T23:59:59Z", "t is out of range, got '1969-12-31T23:59:59Z'"),
        ("0001-01-01T00:00:00+01:00", "t is out of range, got '0001-01-01T00:00:00+01:00'"),
    ],
)
def test_bad_time(value, message):
    with pytest.raises(ParameterError) as caught:
        snap(t=value)
    assert (caught.value.parameter, str(caught.value)) == ("t", message)


def test_roi_normalised():
    assert snap(roi="0,0,1,1").roi is None  # the whole frame is no crop
    assert snap(roi="-0,0.0,1.0,1").is_full_frame
    assert snap(roi="0.25,0.5,0.75,1").roi == Roi(0.25, 0.5, 0.75, 1.0) == snap(roi="0.250,.5,.75,1.0").roi
    assert snap(roi="0.1,0.2,0.3,0.4").wep_params()["roi"] == "0.1,0.2,0.3,0.4"


@pytest.mark.parametrize(
    "value, message",
    [
        ("0.1,0.2,0.3", "roi must be four numbers left,top,right,bottom, got '0.1,0.2,0.3'"),
        ("0.1,0.2,0.3,0.4,0.5", "roi must be four numbers left,top,right,bottom, got '0.1,0.2,0.3,0.4,0.5'"),
        ("a,b,c,d", "roi must be four numbers left,top,right,bottom, got 'a,b,c,d'"),
        ("nan,0,1,1", "roi must be four numbers left,top,right,bottom, got 'nan,0,1,1'"),
        ("0,0,inf,1", "roi must be four numbers left,top,right,bottom, got '0,0,inf,1'"),
        ("0.5,0,0.5,1", "roi must have 0 <= left < right <= 1 and 0 <= top < bottom <= 1, got '0.5,0,0.5,1'"),
        ("0,0.6,1,0.4", "roi must have 0 <= left < right <= 1 and 0 <= top < bottom <= 1, got '0,0.6,1,0.4'"),
        ("-0.1,0,1,1", "roi must have 0 <= left < right <= 1 and 0 <= top < bottom <= 1, got '-0.1,0,1,1'"),
        ("0,0,1.01,1", "roi must have 0 <= left < right <= 1 and 0 <= top < bottom <= 1, got '0,0,1.01,1'"),
        ("", "roi must be four numbers left,top,right,bottom, got ''"),
    ],
)
def test_bad_roi(value, message):
    with pytest.raises(ParameterError) as caught:
        snap(roi=value)
    assert (caught.value.parameter, str(caught.value)) == ("roi", message)


def test_size():
    assert snap(size="640x480").size == (640, 480) == snap(size="640,480").size
    assert snap(size="16x4096").wep_params()["size"] == "16,4096"  # the guide's W,H form


@pytest.mark.parametrize(
    "value",
    [
        "15x16",
        "16x4097",
        "0x0",
        "640",
        "640x",
        "x480",
        "640x480,le",
        "-640x480",
        "640.0x480",
        "1e3x100",
        "640 x 480",
        "",
    ],
)
def test_bad_size(value):
    with pytest.raises(ParameterError) as caught:
        snap(size=value)
    assert caught.value.parameter == "size"
    assert str(caught.value) == f"size must be WxH with each side 16..4096, got {value!r}"


def test_long_values_are_cut_in_messages():
    with pytest.raises(ParameterError) as caught:
        snap(size="9" * 1000)
    assert len(str(caught.value)) < 120


def test_repeated_parameter_and_ignored_ones():
    with pytest.raises(ParameterError, match=r"^roi is given more than once$"):
        parse_snapshot("cam1", [("roi", "0,0,1,1"), ("roi", "0,0,1,1")])
    # A cache-buster or a token does not make another snapshot.
    assert parse_snapshot("cam1", [("_", "123"), ("token", "x")]) == snap()


def test_full_frame_of_a_crop():
    crop = snap(t="2016-03-10T21:01:00Z", roi="0.1,0.1,0.5,0.5", size="64x64")
    assert not crop.is_full_frame
    assert crop.full_frame() == snap(t="2016-03-10T21:01:00Z")
    assert parse_snapshot("cam2", [("t", "2016-03-10T21:01:00Z")]) != crop.full_frame()


def test_settled():
    now = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    old = SnapshotTime(datetime.fromtimestamp(now - SETTLED_AFTER, UTC))
    recent = SnapshotTime(datetime.fromtimestamp(now - SETTLED_AFTER + 1, UTC))
    assert old.settled(now) and not recent.settled(now) and not LIVE.settled(now)


def test_image_ref():
    assert parse_image_ref("cam1", [("path", "events/42/a b.jpg"), ("type", "THUMBNAIL")]) == ImageRefRequest(
        "cam1", "events/42/a b.jpg", "THUMBNAIL"
    )


@pytest.mark.parametrize(
    "query, parameter, message",
    [
        ([("type", "t")], "path", "path is required: the imageRef path of an event"),
        ([("path", ""), ("type", "t")], "path", "path is required: the imageRef path of an event"),
        ([("path", "a\nb"), ("type", "t")], "path", "path must be printable and at most 1024 characters"),
        ([("path", "a" * 1025), ("type", "t")], "path", "path must be printable and at most 1024 characters"),
        ([("path", "p")], "type", "type is required: the imageRef type of an event"),
        ([("path", "p"), ("type", "a/b")], "type", "type must be 1..64 letters, digits or _.-, got 'a/b'"),
        ([("path", "p"), ("path", "q"), ("type", "t")], "path", "path is given more than once"),
    ],
)
def test_bad_image_ref(query, parameter, message):
    with pytest.raises(ParameterError) as caught:
        parse_image_ref("cam1", query)
    assert (caught.value.parameter, str(caught.value)) == (parameter, message)


def test_none_match():
    tag = '"abc"'
    assert none_match('"abc"', tag)
    assert none_match('W/"abc"', tag)  # RFC 9110 13.1.2: weak comparison
    assert none_match('"x", "abc"', tag)
    assert none_match("*", tag)
    assert not none_match('"abcd"', tag)
    assert not none_match(None, tag) and not none_match("", tag)
