"""Sans-IO pieces: talk offer checks on SDP text, TalkdownConfig validation and overlay."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigError, TalkdownConfig, build_config
from gateway.talkdown.offer import NoAudioCodecError, microphone, microphone_answer, offer_for_aiortc, parse_talk_offer
from gateway.webrtc.sdp import OfferError

WHEP_OFFER = (Path(__file__).parent.parent / "webrtc" / "fixtures" / "chromium_offer.sdp").read_text()

TALK_OFFER = "\r\n".join(
    [
        "v=0",
        "o=- 1 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 0",
        "c=IN IP4 0.0.0.0",
        "a=mid:0",
        "a=sendonly",
        "a=rtcp-mux",
        "a=ice-ufrag:abcd",
        "a=ice-pwd:abcdefghijklmnopqrstuvwx",
        "a=fingerprint:sha-256 00:11",
        "a=setup:actpass",
        "a=rtpmap:111 opus/48000/2",
        "a=rtpmap:0 PCMU/8000",
        "a=candidate:1 1 udp 2122260223 4f1c5a8e-0000-4000-8000-000000000000.local 50000 typ host",
        "a=candidate:2 1 udp 2122260223 127.0.0.1 50001 typ host",
        "a=end-of-candidates",
        "",
    ]
)


def test_a_sendonly_opus_offer_is_taken_and_its_mdns_candidates_dropped():
    offer = parse_talk_offer(TALK_OFFER)
    assert microphone(offer).rtpmap() == {111: "OPUS", 0: "PCMU"}
    narrowed = offer_for_aiortc(offer)
    assert ".local" not in narrowed and "a=end-of-candidates" not in narrowed
    assert "127.0.0.1 50001" in narrowed and narrowed.endswith("\r\n")


def test_the_answer_asks_for_the_chunk_length_per_packet_and_allows_opus_fec():
    answer = TALK_OFFER.replace("a=sendonly", "a=recvonly") + "m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=inactive\r\n"
    asked = microphone_answer(answer, 40)
    lines = asked.split("\r\n")
    video = lines.index("m=video 0 UDP/TLS/RTP/SAVPF 96")
    # Both at the end of the audio section, before the video one; PCMU gets no fmtp.
    assert lines[video - 2 : video] == ["a=ptime:40", "a=fmtp:111 useinbandfec=1"]
    assert asked.endswith("\r\n") and asked.replace("a=ptime:40\r\na=fmtp:111 useinbandfec=1\r\n", "") == answer
    # A section that already says its ptime and opus fmtp keeps them; no final CRLF stays so.
    assert microphone_answer(asked, 20) == asked
    assert microphone_answer(answer.removesuffix("\r\n"), 40) == asked.removesuffix("\r\n")


@pytest.mark.parametrize(
    "change,error,words",
    [
        (("a=sendonly", "a=recvonly"), OfferError, "the audio section is recvonly"),
        (("a=sendonly", "a=inactive"), OfferError, "is inactive"),
        (("a=rtcp-mux\r\n", ""), OfferError, "no a=rtcp-mux"),
        (("a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n", ""), OfferError, "no a=ice-pwd"),
        (("UDP/TLS/RTP/SAVPF", "RTP/AVP"), OfferError, "not UDP/TLS/RTP/SAVPF"),
        (("m=audio 9", "m=audio 0"), OfferError, "no audio section"),
        (("111 0\r\n", "9\r\n"), NoAudioCodecError, "offered: 9"),
        (("v=0", "v=1"), OfferError, "v=0"),
    ],
)
def test_offers_a_microphone_cannot_come_from_are_refused_with_the_reason(change, error, words):
    with pytest.raises(error, match=words):
        parse_talk_offer(TALK_OFFER.replace(*change))


def test_a_whep_viewing_offer_is_not_a_talk_offer():
    with pytest.raises(OfferError, match="video section"):
        parse_talk_offer(WHEP_OFFER)


def test_session_level_direction_applies_when_the_section_has_none():
    text = TALK_OFFER.replace("a=sendonly\r\n", "").replace("t=0 0\r\n", "t=0 0\r\na=recvonly\r\n")
    with pytest.raises(OfferError, match="recvonly"):
        parse_talk_offer(text)


def test_settings_defaults_and_messages():
    settings = TalkdownConfig()
    assert (settings.cap_ms, settings.post_ms, settings.chunk_bytes) == (120_000, 119_000, 320)
    with pytest.raises(ConfigError, match=r"\[talkdown\] chunk_ms: expected 20 or 40, got 30"):
        build_config({"talkdown": {"chunk_ms": 30}}, {})
    with pytest.raises(ConfigError, match=r"\[talkdown\] rollover_lead_ms"):
        build_config({"talkdown": {"cap_ms": 1000, "rollover_lead_ms": 600}}, {})
    with pytest.raises(ConfigError, match=r"\[talkdown\] idle_timeout: expected a positive number"):
        build_config({}, {"WEPGW_TALKDOWN_IDLE_TIMEOUT": "0"})


def test_settings_come_from_the_talkdown_config_section():
    config = build_config({"talkdown": {"idle_timeout": 3.0, "cap_ms": 60_000}}, {})
    assert config.talkdown == TalkdownConfig(idle_timeout=3.0, cap_ms=60_000)
