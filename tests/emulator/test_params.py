from datetime import UTC, datetime

import pytest

from gateway.emulator.params import ParamError, Roi, parse_roi, parse_size, parse_time

WHEN = datetime(2016, 3, 10, 21, 1, 0, 57000, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    "value, when, match",
    [
        (None, None, "c"),
        ("live", None, "c"),
        ("20160310T210100.057Z", WHEN, "c"),
        ("2016-03-10T21:01:00.057Z,c", WHEN, "c"),
        ("20160310T210100.057Z,g", WHEN, "g"),
    ],
)
def test_time_forms_from_the_guide(value, when, match):
    ref = parse_time(value)
    assert ref.when == pytest.approx(when) if when else ref.when is None
    assert ref.match == match


@pytest.mark.parametrize(
    "value", ["yesterday", "2016-03-10T21:01:00", "20160310T210100.057Z,x", "2016-13-10T21:01:00Z"]
)
def test_malformed_time_is_a_param_error(value):
    with pytest.raises(ParamError):
        parse_time(value)


def test_roi_and_size():
    assert parse_roi("0,0.25,0.5,1") == Roi(0, 0.25, 0.5, 1)
    assert parse_size("640,480") == (640, 480)
    assert parse_size("640x480") == (640, 480)
    assert parse_size("640,480,le") == (640, 480)
    for bad in ("0.5,0,0.4,1", "0,0,1", "a,b,c,d"):
        with pytest.raises(ParamError, match="roi"):
            parse_roi(bad)
    for bad in ("640", "0,10", "640,480,<>", "99999,1"):
        with pytest.raises(ParamError, match="size"):
            parse_size(bad)
