from gateway.hls.playlist import (
    MediaPlaylist,
    PlaylistPart,
    PlaylistSegment,
    Variant,
    render_media,
    render_multivariant,
    with_query,
)


def test_multivariant_lists_variants_with_attributes_and_token():
    text = render_multivariant(
        [
            Variant(with_query("high/playlist.m3u8", "token=abc"), 2000000, 1280, 720, "avc1.4D401F"),
            Variant("low/playlist.m3u8", 300000, 320, 180, "avc1.42E01E"),
        ]
    )
    assert text.splitlines() == [
        "#EXTM3U",
        "#EXT-X-VERSION:9",
        '#EXT-X-STREAM-INF:BANDWIDTH=2000000,RESOLUTION=1280x720,CODECS="avc1.4D401F"',
        "high/playlist.m3u8?token=abc",
        '#EXT-X-STREAM-INF:BANDWIDTH=300000,RESOLUTION=320x180,CODECS="avc1.42E01E"',
        "low/playlist.m3u8",
    ]


def _playlist(**changes) -> MediaPlaylist:
    parts = (PlaylistPart("part10.m4s", 0.2, True), PlaylistPart("part11.m4s", 0.2, False))
    values = {
        "target_duration": 1,
        "part_target": 0.2,
        "media_sequence": 41,
        "discontinuity_sequence": 3,
        "segments": (
            PlaylistSegment("seg41.m4s", 1.0, 0.0, False, "init1.mp4"),
            PlaylistSegment("seg42.m4s", 1.0, 1.0, True, "init2.mp4", parts),
        ),
        "open_parts": (PlaylistPart("part12.m4s", 0.2, True),),
        "open_map_uri": "init2.mp4",
        "open_discontinuity": False,
        "preload_hint_uri": "part13.m4s",
        "skip_until": 6.0,
    }
    values.update(changes)
    return MediaPlaylist(**values)


def test_media_playlist_full():
    assert render_media(_playlist()).splitlines() == [
        "#EXTM3U",
        "#EXT-X-VERSION:9",
        "#EXT-X-TARGETDURATION:1",
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6,CAN-SKIP-UNTIL=6",
        "#EXT-X-PART-INF:PART-TARGET=0.2",
        "#EXT-X-MEDIA-SEQUENCE:41",
        "#EXT-X-DISCONTINUITY-SEQUENCE:3",
        '#EXT-X-MAP:URI="init1.mp4"',
        "#EXT-X-PROGRAM-DATE-TIME:1970-01-01T00:00:00.000Z",
        "#EXTINF:1,",
        "seg41.m4s",
        '#EXT-X-MAP:URI="init2.mp4"',
        "#EXT-X-DISCONTINUITY",
        "#EXT-X-PROGRAM-DATE-TIME:1970-01-01T00:00:01.000Z",
        '#EXT-X-PART:DURATION=0.2,URI="part10.m4s",INDEPENDENT=YES',
        '#EXT-X-PART:DURATION=0.2,URI="part11.m4s"',
        "#EXTINF:1,",
        "seg42.m4s",
        '#EXT-X-PART:DURATION=0.2,URI="part12.m4s",INDEPENDENT=YES',
        '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part13.m4s"',
    ]


def test_delta_update_replaces_the_oldest_segments_with_skip():
    lines = render_media(_playlist(skipped_segments=1)).splitlines()
    assert "#EXT-X-SKIP:SKIPPED-SEGMENTS=1" in lines
    assert "seg41.m4s" not in lines and "seg42.m4s" in lines
    # the first segment shown still names its init segment
    assert lines.index('#EXT-X-MAP:URI="init2.mp4"') > lines.index("#EXT-X-SKIP:SKIPPED-SEGMENTS=1")


def test_open_segment_after_discontinuity_gets_its_tags_once_it_has_a_part():
    text = render_media(_playlist(open_map_uri="init3.mp4", open_discontinuity=True))
    assert text.splitlines()[-4:-2] == ['#EXT-X-MAP:URI="init3.mp4"', "#EXT-X-DISCONTINUITY"]
    text = render_media(_playlist(open_parts=(), open_map_uri="init3.mp4", open_discontinuity=True))
    assert "init3.mp4" not in text and text.count("#EXT-X-DISCONTINUITY\n") == 1
