from pathlib import Path

import pytest

from gateway.wep.mpd import MediaPresentation, MpdError, Representation, parse_mpd

FIXTURES = Path(__file__).parent / "fixtures"
MPD_URL = "https://wep.example:8443/mt/api/rest/v1/media"
GUIDE_BASE = "https://wep.example:8443/mt/api/rest/v1/media?ctx=...&session=...&cameraId=..."


def guide_sample() -> bytes:
    return (FIXTURES / "guide_sample.mpd").read_bytes()


def test_guide_sample_main_qualities():
    presentation = parse_mpd(guide_sample(), MPD_URL)
    assert [rep.id for rep in presentation.main] == ["2", "3"]
    high, low = presentation.main
    assert (high.width, high.height, high.bandwidth, high.codecs, high.mime_type) == (
        1777,
        1184,
        6311904,
        "avc1.4D402A",
        "video/mp4",
    )
    assert (low.width, low.height, low.bandwidth, low.codecs) == (720, 480, 1036800, "avc1.4D4016")
    assert presentation.for_quality("high") is high
    assert presentation.for_quality("low") is low
    assert high.role == "main"
    assert high.srd == (0, 0, 0, 6016, 4008, 6016, 4008)


def test_guide_sample_tiles():
    presentation = parse_mpd(guide_sample(), MPD_URL)
    assert [rep.id for rep in presentation.tiles] == ["1", "5", "9"]
    assert {rep.role for rep in presentation.tiles} == {"supplementary"}
    assert [rep.srd for rep in presentation.tiles] == [
        (0, 0, 0, 1504, 1336, 6016, 4008),
        (0, 3008, 0, 1504, 1336, 6016, 4008),
        (0, 3008, 1336, 1504, 1336, 6016, 4008),
    ]
    assert presentation.audio == ()


def test_base_url_is_absolute_on_the_wep_server():
    presentation = parse_mpd(guide_sample(), MPD_URL)
    for rep in presentation.main + presentation.tiles:
        assert rep.base_url == GUIDE_BASE


def test_base_url_stays_out_of_repr():
    rep = parse_mpd(guide_sample(), MPD_URL).for_quality("high")
    assert "session" not in repr(rep)
    assert "session" not in repr(parse_mpd(guide_sample(), MPD_URL))


def test_guide_sample_with_raw_ampersands_as_printed():
    raw = guide_sample().replace(b"&amp;", b"&")
    assert b"&amp;" not in raw
    presentation = parse_mpd(raw, MPD_URL)
    assert [rep.id for rep in presentation.main] == ["2", "3"]
    assert presentation.main[0].base_url == GUIDE_BASE


def test_str_document():
    assert parse_mpd(guide_sample().decode(), MPD_URL).main[0].id == "2"


def tiled_mpd(namespace: bool = True, foreign: bool = True) -> str:
    """16 tiles (4x4 of 1920x1080 over 7680x4320), main reps out of order, audio, extras."""
    tiles = []
    for index in range(16):
        x, y = (index % 4) * 1920, (index // 4) * 1080
        tiles.append(f"""
  <AdaptationSet mimeType="video/mp4" codecs="avc1.640028" width="1920" height="1080">
    <SupplementalProperty schemeIdUri="urn:mpeg:dash:srd:2014" value="0,{x},{y},1920,1080,7680,4320"/>
    <Role schemeIdUri="urn:mpeg:dash:role:2011" value="supplementary"/>
    {'<vnd:Hint xmlns:vnd="urn:vendor:x" level="3"/>' if foreign else ""}
    <Representation id="t{index}" bandwidth="4000000">
      <BaseURL>media?ctx=tile{index}&amp;session=OLDSESSION&amp;cameraId=cam-9</BaseURL>
    </Representation>
  </AdaptationSet>""")
    ns = ' xmlns="urn:mpeg:dash:schema:mpd:2011"' if namespace else ""
    extra = 'xmlns:avg="urn:avigilon:extra" avg:build="7.14"' if foreign else ""
    return f"""<?xml version="1.0"?>
<MPD{ns} {extra} type="dynamic" profiles="urn:mpeg:dash:profile:isoff-live:2011">
  {'<avg:Site avg:name="HQ"><avg:Note>ignored</avg:Note></avg:Site>' if foreign else ""}
  <ProgramInformation><Title>cam-9</Title></ProgramInformation>
  <Period id="p0" start="PT0S">
  <AdaptationSet contentType="video" unknownAttribute="1">
    <Role schemeIdUri="urn:mpeg:dash:role:2011" value="main"/>
    <EssentialProperty schemeIdUri="urn:mpeg:dash:srd:2014" value="0,0,0,7680,4320,7680,4320"/>
    <Representation id="low" bandwidth="500000" width="640" height="360" codecs="avc1.42E01E">
      <BaseURL>/mt/api/rest/v1/media?ctx=low&amp;session=OLDSESSION&amp;cameraId=cam-9</BaseURL>
    </Representation>
    <Representation id="high" bandwidth="8000000" width="3840" height="2160" codecs="avc1.640033" mimeType="video/mp4">
      <BaseURL>/mt/api/rest/v1/media?ctx=high&amp;session=OLDSESSION&amp;cameraId=cam-9</BaseURL>
    </Representation>
    <Representation id="mid" bandwidth="2000000" width="1280" height="720" codecs="avc1.4D401F" mimeType="video/mp4">
      <BaseURL>/mt/api/rest/v1/media?ctx=mid&amp;session=OLDSESSION&amp;cameraId=cam-9</BaseURL>
    </Representation>
  </AdaptationSet>
  {"".join(tiles)}
  <AdaptationSet mimeType="audio/webm" codecs="opus">
    <Representation id="a1" bandwidth="32000"><BaseURL>media?ctx=audio&amp;format=webm</BaseURL></Representation>
  </AdaptationSet>
  <AdaptationSet mimeType="application/json"><Representation id="meta"><BaseURL>media?format=json</BaseURL></Representation></AdaptationSet>
  <AdaptationSet mimeType="video/mp4"><Representation id="orphan" bandwidth="1"/></AdaptationSet>
  </Period>
  <Period id="p1"><AdaptationSet><Representation id="later" mimeType="video/mp4"><BaseURL>x</BaseURL></Representation></AdaptationSet></Period>
</MPD>"""


@pytest.mark.parametrize("namespace,foreign", [(True, True), (False, True), (False, False), (True, False)])
def test_tile_heavy_mpd(namespace, foreign):
    presentation = parse_mpd(tiled_mpd(namespace, foreign), MPD_URL)
    assert [rep.id for rep in presentation.main] == ["high", "mid", "low"]
    # The low rep has no mimeType: the AdaptationSet's contentType says it is video.
    assert presentation.main[2].mime_type == "video/mp4"
    assert presentation.for_quality("high").width == 3840
    assert presentation.for_quality("low").id == "low"
    assert len(presentation.tiles) == 16
    assert {(rep.width, rep.height, rep.codecs, rep.mime_type) for rep in presentation.tiles} == {
        (1920, 1080, "avc1.640028", "video/mp4")
    }
    assert {rep.srd[1:3] for rep in presentation.tiles} == {(x * 1920, y * 1080) for x in range(4) for y in range(4)}
    assert [rep.id for rep in presentation.audio] == ["a1"]
    assert presentation.audio[0].mime_type == "audio/webm"


def test_relative_and_absolute_path_base_urls_resolve_against_the_mpd_url():
    presentation = parse_mpd(tiled_mpd(), MPD_URL)
    assert presentation.main[0].base_url == (
        "https://wep.example:8443/mt/api/rest/v1/media?ctx=high&session=OLDSESSION&cameraId=cam-9"
    )
    assert presentation.tiles[5].base_url == (
        "https://wep.example:8443/mt/api/rest/v1/media?ctx=tile5&session=OLDSESSION&cameraId=cam-9"
    )
    assert presentation.audio[0].base_url == "https://wep.example:8443/mt/api/rest/v1/media?ctx=audio&format=webm"


def test_nested_base_urls():
    document = """<MPD><BaseURL>https://wep.example:8443/mt/</BaseURL><Period><BaseURL>api/rest/v1/</BaseURL>
      <AdaptationSet><Representation id="1" mimeType="video/mp4" bandwidth="5">
      <BaseURL>media?ctx=1</BaseURL></Representation></AdaptationSet></Period></MPD>"""
    rep = parse_mpd(document, "https://other.example/").for_quality("high")
    assert rep.base_url == "https://wep.example:8443/mt/api/rest/v1/media?ctx=1"
    assert rep.role == "main"  # no Role at all: DASH's default


@pytest.mark.parametrize(
    "document,message",
    [
        (b"", "the MPD is not well-formed XML (no element found: line 1, column 0)"),
        (b"<html><body>Login</body>", "the MPD is not well-formed XML (no element found: line 1, column 24)"),
        (b'{"status": "error"}', "the MPD is not well-formed XML (not well-formed (invalid token): line 1, column 0)"),
        (b"<html/>", "not an MPD: the root element is <html>"),
        (b'<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"/>', "the MPD has no Period"),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><MPD/>', "the MPD declares a DOCTYPE or entities; refused"),
    ],
)
def test_unusable_documents(document, message):
    with pytest.raises(MpdError) as caught:
        parse_mpd(document, MPD_URL)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


def test_tiles_only_is_no_main_video():
    document = guide_sample().replace(b'value="main"', b'value="alternate"')
    with pytest.raises(MpdError, match=r"^the MPD has no main video Representation \(5 tiles, 0 audio\)$"):
        parse_mpd(document, MPD_URL)


def test_oversized_document():
    with pytest.raises(MpdError, match="more than 1048576"):
        parse_mpd(b"<MPD>" + b" " * (1024 * 1024) + b"</MPD>", MPD_URL)


def test_for_quality_rejects_other_names():
    presentation = parse_mpd(guide_sample(), MPD_URL)
    with pytest.raises(ValueError, match="quality must be 'high' or 'low', got 'medium'"):
        presentation.for_quality("medium")


def test_for_quality_on_an_empty_presentation():
    with pytest.raises(ValueError, match="no main video"):
        MediaPresentation((), (), ()).for_quality("high")


def test_single_main_rep_serves_both_qualities():
    rep = Representation("1", 1, 1, 1, "", "video/mp4", "https://x/", "main", None)
    presentation = MediaPresentation((rep,), (), ())
    assert presentation.for_quality("high") is presentation.for_quality("low") is rep
