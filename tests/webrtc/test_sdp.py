"""Offer checks and H.264 selection on real offers (Debian Chromium, aiortc)."""

import pytest
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.mediastreams import AudioStreamTrack

from gateway.webrtc import sdp


def test_chromium_offer_main_stream_picks_offered_main_payload(chromium_offer):
    offer = sdp.parse_offer(chromium_offer)
    choice = sdp.choose_h264(offer.video, "4d401e")  # x264 Main, level 3.0
    assert (choice.payload_type, choice.rtx_payload_type) == (116, 117)
    assert choice.fmtp == "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f"
    assert choice.matches_stream


def test_constrained_baseline_stream_prefers_exact_profile(chromium_offer):
    choice = sdp.choose_h264(sdp.parse_offer(chromium_offer).video, "42c01f")
    assert choice.payload_type == 108  # 42e01f: constrained baseline, packetization-mode=1
    assert choice.matches_stream


def test_high_stream_goes_on_high_444_when_no_high_is_offered(chromium_offer):
    # Debian Chromium offers no 64xxxx; a High 4:4:4 Predictive decoder decodes High (A.2.11).
    choice = sdp.choose_h264(sdp.parse_offer(chromium_offer).video, "640028")
    assert choice.profile_level_id == "f4001f" and choice.matches_stream


def test_main_stream_to_a_baseline_only_offer_is_a_flagged_fallback(aiortc_offer):
    choice = sdp.choose_h264(sdp.parse_offer(aiortc_offer).video, "4d401e")
    assert choice.payload_type in (99, 101) and not choice.matches_stream


def test_mode_zero_only_is_406(chromium_offer):
    text = chromium_offer.replace("packetization-mode=1", "packetization-mode=0")
    with pytest.raises(sdp.NoH264Error, match=r"no H\.264 with packetization-mode=1"):
        sdp.choose_h264(sdp.parse_offer(text).video, "4d401e")


def test_vp8_only_offer_is_406(aiortc_offer):
    lines = [
        line
        for line in aiortc_offer.splitlines()
        if not any(
            line.startswith(f"a={kind}:{pt}") for kind in ("rtpmap", "fmtp", "rtcp-fb") for pt in (99, 100, 101, 102)
        )
    ]
    text = "\r\n".join(lines).replace("SAVPF 97 98 99 100 101 102", "SAVPF 97 98") + "\r\n"
    with pytest.raises(sdp.NoH264Error, match=r"offered: RTX, VP8"):
        sdp.choose_h264(sdp.parse_offer(text).video, "4d401e")


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "does not start with v=0"),
        ("hello world", "does not start with v=0"),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", "no video section"),
        ("v=0\r\nthis is not sdp\r\n", "line 2 is not <type>=<value>"),
        ("v=0\r\nm=video\r\n", "malformed media line"),
        ("v=0\r\nm=video \u00b2 UDP/TLS/RTP/SAVPF 96\r\n", "malformed media line"),  # '²'.isdigit(), int('²') raises
        ("v=0\r\nm=video " + "9" * 5000 + " UDP/TLS/RTP/SAVPF 96\r\n", "malformed media line"),  # int() raises
    ],
)
def test_malformed_offers(text, message):
    with pytest.raises(sdp.OfferError, match=message):
        sdp.parse_offer(text)


def test_offer_without_ice_credentials(aiortc_offer):
    text = "\r\n".join(line for line in aiortc_offer.splitlines() if not line.startswith("a=ice-pwd"))
    with pytest.raises(sdp.OfferError, match="no a=ice-pwd"):
        sdp.parse_offer(text)


def test_offer_too_large(aiortc_offer):
    with pytest.raises(sdp.OfferError, match="more than"):
        sdp.parse_offer(aiortc_offer + "a=x:" + "y" * sdp.MAX_OFFER_BYTES + "\r\n")


def test_offer_for_aiortc_keeps_only_the_choice(chromium_offer):
    offer = sdp.parse_offer(chromium_offer)
    choice = sdp.choose_h264(offer.video, "4d401e")
    narrowed = sdp.parse_offer(sdp.offer_for_aiortc(offer, choice))
    assert narrowed.video.formats == ("116", "117")
    assert narrowed.video.fmtp()[116] == sdp.AIORTC_H264_FMTP
    assert not [line for line in narrowed.video.lines if line.startswith(("a=rtpmap:96", "a=rtcp-fb:102"))]
    audio = next(section for section in narrowed.media if section.kind == "audio")
    assert audio.formats == next(s for s in offer.media if s.kind == "audio").formats


@pytest.mark.parametrize(
    "fixture, stream, expected",
    [
        (
            "chromium_offer",
            "4d401e",
            {116: "H264 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f", 117: "RTX apt=116"},
        ),
        (
            "chromium_offer",
            "42c01e",
            {108: "H264 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", 109: "RTX apt=108"},
        ),
        (
            "aiortc_offer",
            "42c01e",
            {101: "H264 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", 102: "RTX apt=101"},
        ),
    ],
)
async def test_aiortc_answers_with_only_the_chosen_h264(request, fixture, stream, expected):
    """The whole path through aiortc: its answer carries exactly the chosen H.264."""
    offer = sdp.parse_offer(request.getfixturevalue(fixture))
    choice = sdp.choose_h264(offer.video, stream)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp.offer_for_aiortc(offer, choice), "offer"))
        pc.addTrack(VideoStreamTrack())
        await pc.setLocalDescription(await pc.createAnswer())
        answer = sdp.answer_for_viewer(pc.localDescription.sdp, choice)
    finally:
        await pc.close()
    assert sdp.video_codecs(answer) == expected
    assert "a=sendonly" in sdp.parse_offer(answer).video.lines


def test_mdns_candidates_are_left_to_peer_reflexive_discovery(chromium_offer, aiortc_offer):
    offer = sdp.parse_offer(chromium_offer)
    narrowed = sdp.offer_for_aiortc(offer, sdp.choose_h264(offer.video, "4d401e"))
    assert ".local" in chromium_offer and ".local" not in narrowed
    # Plain IP candidates stay, with their end-of-candidates.
    offer = sdp.parse_offer(aiortc_offer)
    narrowed = sdp.offer_for_aiortc(offer, sdp.choose_h264(offer.video, "42e01f"))
    assert "typ host" in narrowed and "a=end-of-candidates" in narrowed


# -- audio: the camera's opus, as it is --------------------------------------------------------


def _with_audio_first(offer_text: str, formats: str, rtpmaps: list[str]) -> str:
    """The Chromium offer with its audio section offering other codecs, in this order."""
    head, audio = offer_text.split("m=audio", 1)
    lines = [line for line in audio.splitlines()[1:] if not line.startswith(("a=rtpmap:", "a=fmtp:", "a=rtcp-fb:"))]
    return head + "\r\n".join([f"m=audio 9 UDP/TLS/RTP/SAVPF {formats}", *lines, *rtpmaps]) + "\r\n"


def test_choose_opus(chromium_offer):
    assert sdp.choose_opus(sdp.parse_offer(chromium_offer).audio) == 111
    pcmu_only = _with_audio_first(chromium_offer, "0", ["a=rtpmap:0 PCMU/8000"])
    assert sdp.choose_opus(sdp.parse_offer(pcmu_only).audio) is None
    mono_label = chromium_offer.replace("opus/48000/2", "opus/48000")  # RFC 7587 7 requires /2
    assert sdp.choose_opus(sdp.parse_offer(mono_label).audio) is None


def test_offer_for_aiortc_narrows_audio_to_opus_only_when_sending_it(chromium_offer):
    offer = sdp.parse_offer(chromium_offer)
    original = offer.audio
    choice = sdp.choose_h264(offer.video, "4d401e")
    audio = sdp.parse_offer(sdp.offer_for_aiortc(offer, choice, 111)).audio
    assert audio.formats == ("111",)
    assert audio.rtpmap() == {111: "OPUS"} and audio.fmtp() == {111: "minptime=10;useinbandfec=1"}
    transport = [
        line
        for line in original.lines
        if not line.startswith(("a=rtpmap", "a=fmtp", "a=rtcp-fb")) and ".local" not in line
    ]
    assert [line for line in audio.lines if not line.startswith(("a=rtpmap", "a=fmtp", "a=rtcp-fb"))] == transport
    # Without the camera's audio the section stays as offered (less its mDNS candidates).
    untouched = sdp.parse_offer(sdp.offer_for_aiortc(offer, choice)).audio
    assert untouched.formats == original.formats
    assert untouched.lines == tuple(line for line in original.lines if ".local" not in line)


def test_viewer_media_is_never_received(chromium_offer):
    """A sendrecv offer is answered as if recvonly: aiortc would decode what it receives."""
    sendrecv = chromium_offer.replace("a=recvonly", "a=sendrecv")
    offer = sdp.parse_offer(sendrecv)
    narrowed = sdp.parse_offer(sdp.offer_for_aiortc(offer, sdp.choose_h264(offer.video, "4d401e"), 111))
    assert narrowed.video.attributes("recvonly") == [""] and narrowed.audio.attributes("recvonly") == [""]
    assert not narrowed.video.attributes("sendrecv") and not narrowed.audio.attributes("sendrecv")
    sendonly = sdp.parse_offer(chromium_offer.replace("a=recvonly", "a=sendonly"))
    narrowed = sdp.parse_offer(sdp.offer_for_aiortc(sendonly, sdp.choose_h264(sendonly.video, "4d401e")))
    assert narrowed.audio.attributes("inactive") == [""]


@pytest.mark.parametrize(
    "variant, camera_audio, expected",
    [
        ("chromium", True, ("sendonly", {111: "opus/48000/2"})),
        # PCMU first: aiortc would send on it, so the section is narrowed to opus.
        ("pcmu_first", True, ("sendonly", {111: "opus/48000/2"})),
        ("chromium", False, ("inactive", None)),  # a camera without microphone
        ("sendrecv", False, ("inactive", None)),  # ...even if the viewer would send audio
        ("pcmu_only", False, ("inactive", {0: "PCMU/8000"})),  # no opus offered: nothing is sent
    ],
)
async def test_aiortc_answers_audio(chromium_offer, variant, camera_audio, expected):
    text = {
        "chromium": chromium_offer,
        "sendrecv": chromium_offer.replace("a=recvonly", "a=sendrecv"),
        "pcmu_first": _with_audio_first(chromium_offer, "0 111", ["a=rtpmap:0 PCMU/8000", "a=rtpmap:111 opus/48000/2"]),
        "pcmu_only": _with_audio_first(chromium_offer, "0", ["a=rtpmap:0 PCMU/8000"]),
    }[variant]
    offer = sdp.parse_offer(text)
    choice = sdp.choose_h264(offer.video, "4d401e")
    opus = sdp.choose_opus(offer.audio) if camera_audio else None
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp.offer_for_aiortc(offer, choice, opus), "offer"))
        pc.addTrack(VideoStreamTrack())
        if camera_audio:
            pc.addTrack(AudioStreamTrack())
        await pc.setLocalDescription(await pc.createAnswer())
        answer = sdp.answer_for_viewer(pc.localDescription.sdp, choice)
    finally:
        await pc.close()
    direction, codecs = sdp.audio_codecs(answer)
    assert direction == expected[0], answer
    if expected[1] is not None:
        assert codecs == expected[1]
    assert "a=sendonly" in sdp.parse_offer(answer).video.lines
