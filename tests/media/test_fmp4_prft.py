"""prft (gateway/media/fmp4/prft.py): written and read back, and the reader stamping each
sample with the camera's time, whatever way the stream is cut into chunks."""

import pytest

from gateway.media.fmp4 import Fmp4Reader, Fragment, FragmentWriter, Sample, TrackInfo, write_init_segment
from gateway.media.fmp4.boxes import BoxError
from gateway.media.fmp4.prft import NTP_UNIX_OFFSET, parse_prft, write_prft

AVCC = bytes.fromhex("0142c01effe1000a6742c01ed9014016e84001000468ce3c80")
VIDEO = TrackInfo(1, "video", "avc1.42C01E", 90000, 320, 240, codec_config=AVCC)
AUDIO = TrackInfo(2, "audio", "mp4a.40.2", 48000, sample_rate=48000, channels=1, codec_config=bytes.fromhex("1188"))


def test_prft_round_trips_ntp_time_and_media_time():
    box = write_prft(1, 1_767_225_600.25, 123_456_789_012)
    assert box[4:8] == b"prft" and len(box) == 32  # version 1: 64-bit media time
    parsed = parse_prft(box[8:])
    assert (parsed.reference_track_id, parsed.media_time, parsed.flags) == (1, 123_456_789_012, 0)
    assert parsed.unix_time == pytest.approx(1_767_225_600.25, abs=1e-9)
    # version 0 (32-bit media time), NTP seconds as RFC 5905 counts them, from 1900
    version0 = (
        bytes([0, 0, 0, 4])
        + (7).to_bytes(4, "big")
        + ((NTP_UNIX_OFFSET + 10) << 32).to_bytes(8, "big")
        + (90000).to_bytes(4, "big")
    )
    assert parse_prft(version0).unix_time == 10.0 and parse_prft(version0).flags == 4
    with pytest.raises(BoxError, match="truncated"):
        parse_prft(version0[:-1])


def stream() -> bytes:
    writer = FragmentWriter()
    init = write_init_segment((VIDEO, AUDIO))
    first = writer.write([Sample(1, 900000, 6000, 0, True, b"k"), Sample(2, 480000, 1024, 0, True, b"a")])
    second = writer.write([Sample(1, 906000, 6000, 0, False, b"p")])
    # the prft names the first frame's decode time: 10 s on the track, taken at 1000.0
    return init + write_prft(1, 1000.0, 900000) + first + second


def test_the_reader_stamps_every_sample_after_a_prft_with_its_capture_time():
    events = Fmp4Reader().feed(stream())
    samples = [s for e in events if isinstance(e, Fragment) for s in e.samples]
    # video: 1000.0 and one frame (1/15 s) later; audio at 10 s on its own clock is the same instant
    assert [s.captured_at for s in samples] == pytest.approx([1000.0, 1000.0, 1000.0 + 1 / 15])


def test_stamping_does_not_depend_on_where_chunks_end():
    data = stream()
    expected = [s.captured_at for e in Fmp4Reader().feed(data) if isinstance(e, Fragment) for s in e.samples]
    for cut in range(1, len(data)):
        reader = Fmp4Reader()
        events = reader.feed(data[:cut]) + reader.feed(data[cut:])
        assert [s.captured_at for e in events if isinstance(e, Fragment) for s in e.samples] == expected, cut


def test_without_prft_or_for_another_track_samples_say_nothing():
    plain = stream().replace(write_prft(1, 1000.0, 900000), b"")
    assert all(s.captured_at is None for e in Fmp4Reader().feed(plain) if isinstance(e, Fragment) for s in e.samples)
    elsewhere = stream().replace(write_prft(1, 1000.0, 900000), write_prft(9, 1000.0, 900000))
    assert all(
        s.captured_at is None for e in Fmp4Reader().feed(elsewhere) if isinstance(e, Fragment) for s in e.samples
    )
