"""The RFC 8216 validator (tests/hls/rfc8216_validator.py) finds what it is meant to find:
each rule broken once, on a playlist that is otherwise good. The gateway's own playlists
are checked against it in test_conformance.py and test_segmenter.py."""

from __future__ import annotations

import pytest

from gateway.hls.playlist import MediaPlaylist as RenderedPlaylist
from gateway.hls.playlist import PlaylistPart, PlaylistSegment, render_media
from gateway.media.fmp4 import FragmentWriter, Sample, TrackInfo, write_init_segment

from .rfc8216_validator import MediaHistory, check_media, check_media_bytes, check_multivariant

GOOD = """#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:1
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.612,CAN-SKIP-UNTIL=6
#EXT-X-PART-INF:PART-TARGET=0.204
#EXT-X-MEDIA-SEQUENCE:40
#EXT-X-DISCONTINUITY-SEQUENCE:3
#EXT-X-MAP:URI="init1.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000Z
#EXTINF:1,
seg40.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:01.000Z
#EXT-X-PART:DURATION=0.6,URI="part10.m4s",INDEPENDENT=YES
#EXTINF:0.6,
seg41.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:01.600Z
#EXT-X-PART:DURATION=0.2,URI="part11.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.2,URI="part12.m4s"
#EXTINF:0.4,
seg42.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:02.000Z
#EXT-X-PART:DURATION=0.2,URI="part13.m4s",INDEPENDENT=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part14.m4s"
"""


def rules(text: str, request=None) -> list[str]:
    return [finding.rule for finding in check_media(text, request)[1]]


def good() -> str:
    return GOOD.replace(
        '#EXT-X-PART:DURATION=0.6,URI="part10.m4s",INDEPENDENT=YES\n#EXTINF:0.6,',
        '#EXT-X-PART:DURATION=0.2,URI="part09.m4s",INDEPENDENT=YES\n'
        '#EXT-X-PART:DURATION=0.2,URI="part10.m4s"\n'
        '#EXT-X-PART:DURATION=0.2,URI="part10b.m4s"\n#EXTINF:0.6,',
    )


def test_the_reference_playlist_is_valid():
    assert check_media(good())[1] == []


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        (("#EXT-X-TARGETDURATION:1", "#EXT-X-TARGETDURATION:0"), "RFC 8216 4.3.3.1"),  # EXTINF:1 rounds above 0
        (("#EXTINF:1,", "#EXTINF:1.6,"), "RFC 8216 4.3.3.1"),
        (("#EXT-X-VERSION:9", "#EXT-X-VERSION:5"), "RFC 8216bis 8"),  # EXT-X-MAP needs 6
        (('#EXT-X-MAP:URI="init1.mp4"\n', ""), "RFC 8216 4.3.2.5"),
        (("PART-HOLD-BACK=0.612", "PART-HOLD-BACK=0.5"), "RFC 8216bis 4.4.3.8"),
        (("CAN-SKIP-UNTIL=6", "CAN-SKIP-UNTIL=5"), "RFC 8216bis 4.4.3.8"),
        (("PART-TARGET=0.204", "PART-TARGET=0.15"), "RFC 8216bis 4.4.4.9"),  # parts longer than it
        (('DURATION=0.2,URI="part10.m4s"', 'DURATION=0.1,URI="part10.m4s"'), "RFC 8216bis 4.4.4.9"),  # < 85 %
        (("2026-01-01T00:00:01.000Z", "2025-12-31T23:59:59.000Z"), "RFC 8216 4.3.2.6"),  # backwards
        (("2026-01-01T00:00:01.600Z", "2026-01-01T00:00:01.900Z"), "RFC 8216 4.3.2.6"),  # not EXTINF on
        (
            ('#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part14.m4s"', '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part13.m4s"'),
            "RFC 8216bis 4.4.5.3",
        ),
        (("#EXT-X-PART-INF:PART-TARGET=0.204\n", ""), "RFC 8216bis 4.4.3.7"),
        (("#EXT-X-MEDIA-SEQUENCE:40\n", ""), None),  # optional: 0
        (
            (
                '#EXT-X-PART:DURATION=0.2,URI="part13.m4s",INDEPENDENT=YES\n',
                '#EXT-X-PART:DURATION=0.2,URI="part13.m4s",INDEPENDENT=YES\n#EXT-X-DISCONTINUITY\n',
            ),
            "RFC 8216bis 4.4.4.9",
        ),
        (("CAN-BLOCK-RELOAD=YES", "CAN-BLOCK-RELOAD=NO"), "RFC 8216 4.2"),
        (("#EXT-X-TARGETDURATION:1\n", "#EXT-X-TARGETDURATION:1\n#EXT-X-TARGETDURATION:1\n"), "RFC 8216 4.3"),
        (("#EXTM3U\n", ""), "RFC 8216 4.3.1.1"),
        (("#EXT-X-VERSION:9\n", "#EXT-X-VERSION:9\n#EXT-X-SHINY:1\n"), "RFC 8216 4.1"),
        (('#EXT-X-MAP:URI="init1.mp4"', '#EXT-X-MAP:URI="init1.mp4",URI="x"'), "RFC 8216 4.2"),
        (("#EXT-X-DISCONTINUITY-SEQUENCE:3\n", ""), None),
    ],
)
def test_each_rule_broken_once_is_found(change, rule):
    text = good().replace(*change)
    assert text != good() or rule is None
    found = rules(text)
    if rule is None:
        assert found == []
    else:
        assert rule in found, check_media(text)[1]


def test_endlist_forbids_preload_hints_and_directives_are_checked():
    ended = good() + "#EXT-X-ENDLIST\n"
    assert "RFC 8216bis 4.4.5.3" in rules(ended)
    # 6.2.5.2: an answer to _HLS_msn/_HLS_part holds what it asked for (or a later part)
    assert rules(good(), {"_HLS_msn": "43", "_HLS_part": "0"}) == []
    assert rules(good(), {"_HLS_msn": "42", "_HLS_part": "5"}) == []  # past the last part: part 0 of 43
    assert rules(good(), {"_HLS_msn": "43", "_HLS_part": "1"}) == ["RFC 8216bis 6.2.5.2"]
    assert rules(good(), {"_HLS_msn": "44"}) == ["RFC 8216bis 6.2.5.2"]


def test_a_multivariant_playlist_lists_variants():
    text = '#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS="avc1.4D401E"\nhigh/playlist.m3u8\n'
    playlist, findings = check_multivariant(text)
    assert findings == [] and [v.uri for v in playlist.variants] == ["high/playlist.m3u8"]
    assert check_multivariant(text.replace("BANDWIDTH=800000,", ""))[1][0].rule == "RFC 8216 4.3"
    assert check_multivariant(text + "#EXTINF:1,\n")[1][0].rule == "RFC 8216 4.3.4"


def reload_of(text: str, *, removed: int, discontinuity_sequence: int = 3) -> str:
    """`text` after sliding `removed` segments out (what a server does between reloads)."""
    head, body = text.split('#EXT-X-MAP:URI="init1.mp4"\n', 1)
    for _ in range(removed):
        body = body.split(".m4s\n", 1)[1]
    head = head.replace("MEDIA-SEQUENCE:40", f"MEDIA-SEQUENCE:{40 + removed}")
    head = head.replace("DISCONTINUITY-SEQUENCE:3", f"DISCONTINUITY-SEQUENCE:{discontinuity_sequence}")
    return head + '#EXT-X-MAP:URI="init1.mp4"\n' + body


def test_across_reloads_targets_numbers_and_hints_hold():
    history = MediaHistory("cam")
    history.add(good())
    history.add(reload_of(good(), removed=1))
    assert history.finish() == []

    changed = MediaHistory("target")
    changed.add(good())
    changed.add(good().replace("#EXT-X-TARGETDURATION:1", "#EXT-X-TARGETDURATION:2").replace("UNTIL=6", "UNTIL=12"))
    assert [f.rule for f in changed.finish()] == ["RFC 8216 6.2.1"]  # EXT-X-TARGETDURATION never changes

    renamed = MediaHistory("renamed")
    renamed.add(good())
    renamed.add(good().replace("seg41.m4s", "seg41b.m4s"))
    assert [f.rule for f in renamed.finish()] == ["RFC 8216 6.2.1"]  # a listed segment never changes

    hinted = MediaHistory("hint")
    hinted.add(good())
    hinted.add(
        good().replace(
            '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part14.m4s"',
            '#EXT-X-PART:DURATION=0.2,URI="part99.m4s"\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part100.m4s"',
        )
    )
    assert [f.rule for f in hinted.finish()] == ["RFC 8216bis 4.4.5.3"]  # the hinted URI is the next part's

    ended = MediaHistory("ended")
    ended.add(good())
    assert [f.rule for f in ended.finish(ended=True)] == ["RFC 8216 4.3.3.4"]


def test_the_discontinuity_sequence_counts_the_discontinuities_that_slid_out():
    with_cut = good().replace(
        "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:01.000Z",
        "#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:01.000Z",
    )
    right = MediaHistory("right")
    right.add(with_cut)
    right.add(reload_of(with_cut, removed=2, discontinuity_sequence=4))
    assert right.finish() == []
    wrong = MediaHistory("wrong")
    wrong.add(with_cut)
    wrong.add(reload_of(with_cut, removed=2, discontinuity_sequence=3))
    assert {f.rule for f in wrong.finish()} == {"RFC 8216 6.2.1"}  # segment 42's sequence number moved


def rendered(skipped: int = 0) -> str:
    """Ten 1 s segments, parts on the last two and one open, CAN-SKIP-UNTIL 6 s."""
    parts = [PlaylistPart(f"part{n}.m4s", 0.2, n % 5 == 0) for n in range(11)]
    segments = tuple(
        PlaylistSegment(
            f"seg{40 + i}.m4s",
            1.0,
            1767225600.0 + i,
            False,
            "init1.mp4",
            tuple(parts[(i - 8) * 5 : (i - 7) * 5]) if i >= 8 else (),
        )
        for i in range(10)
    )
    return render_media(
        RenderedPlaylist(
            target_duration=1,
            part_target=0.204,
            media_sequence=40,
            discontinuity_sequence=0,
            segments=segments,
            open_parts=(parts[10],),
            open_map_uri="init1.mp4",
            open_discontinuity=False,
            preload_hint_uri="part11.m4s",
            skip_until=6.0,
            skipped_segments=skipped,
        )
    )


def test_delta_updates_skip_only_beyond_the_boundary():
    # 10.2 s listed: segments 40..44 start more than 6 s from the end, 45 does not
    history = MediaHistory("delta")
    history.add(rendered())
    history.add(rendered(skipped=5), {"_HLS_skip": "YES"})
    assert history.finish() == []
    greedy = MediaHistory("greedy")
    greedy.add(rendered())
    greedy.add(rendered(skipped=6), {"_HLS_skip": "YES"})
    assert [f.rule for f in greedy.finish()] == ["RFC 8216bis 6.2.5.1"]  # 45 is within the boundary
    assert rules(rendered(skipped=3), {"_HLS_skip": "YES"}) == ["RFC 8216bis 6.2.5.1"]  # 43 had to go too
    unknown = MediaHistory("unknown")
    unknown.add(rendered(skipped=5), {"_HLS_skip": "YES"})  # never saw the full playlist
    assert [f.rule for f in unknown.finish()] == ["RFC 8216bis 6.2.5.1"]


AVCC = bytes.fromhex("0142c01effe1000a6742c01ed9014016e84001000468ce3c80")


def test_claims_about_the_media_are_checked_against_the_bytes():
    track = TrackInfo(1, "video", "avc1.42C01E", 90000, 320, 240, codec_config=AVCC)
    init = write_init_segment((track,))
    writer = FragmentWriter()

    def fragment(first_key: bool, frames: int = 3) -> bytes:
        return writer.write([Sample(1, i * 6000, 6000, 0, first_key and i == 0, b"x") for i in range(frames)])

    text = good()
    playlist, _ = check_media(text)
    media = {
        "part11.m4s": fragment(True),
        "part12.m4s": fragment(False),
        "part13.m4s": fragment(False),
        "seg42.m4s": fragment(True, 6),
    }
    findings = check_media_bytes(playlist, {"init1.mp4": init}, media)
    # part13 says INDEPENDENT=YES over a non-keyframe
    assert [(f.rule, f.message.split()[0]) for f in findings] == [("RFC 8216bis 4.4.4.9", "part13.m4s")]
    # EXT-X-INDEPENDENT-SEGMENTS claimed (here or in the multivariant playlist): seg42 must start clean
    media["seg42.m4s"] = fragment(False, 6)
    claimed = check_media_bytes(playlist, {"init1.mp4": init}, media, claimed_independent=True)
    assert "RFC 8216 4.3.5.1" in [f.rule for f in claimed]
