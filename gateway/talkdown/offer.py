"""WHIP talk offer checks, on SDP text (sans-IO).

A talk offer (RFC 9725, WHIP) carries one microphone: one audio section the browser
sends (`a=sendonly`, or `a=sendrecv`), in a codec aiortc decodes, and no video. The SDP
model and the transport rules are the WHEP ones (`gateway.webrtc.sdp`); only the media
rules differ, so the splitting into sections and the mDNS filtering are imported.
"""

from __future__ import annotations

from gateway.webrtc.sdp import MediaSection, Offer, OfferError, check_transport, split_offer, without_mdns_candidates

# aiortc's audio decoders (aiortc/codecs/__init__.py): opus from browsers, G.711 from others.
DECODABLE = ("OPUS", "PCMU", "PCMA")
_SENDING = ("sendonly", "sendrecv")
_DIRECTIONS = ("sendonly", "sendrecv", "recvonly", "inactive")


class NoAudioCodecError(ValueError):
    """The offer's audio is in no codec the gateway can decode (HTTP 406)."""


def parse_talk_offer(text: str) -> Offer:
    """Split and check a talk offer; OfferError (400) or NoAudioCodecError (406) with the reason."""
    offer = split_offer(text)
    _check(offer)
    return offer


def microphone(offer: Offer) -> MediaSection:
    """The offer's one active audio section (parse_talk_offer checked there is one)."""
    return next(section for section in offer.media if section.kind == "audio" and section.port != 0)


def _direction(offer: Offer, section: MediaSection) -> str:
    # RFC 8866 6.7: a media-level direction overrides the session's; the default is sendrecv.
    for lines in (section.lines, offer.session):
        for line in lines:
            if line[2:] in _DIRECTIONS and line.startswith("a="):
                return line[2:]
    return "sendrecv"


def _check(offer: Offer) -> None:
    active = [section for section in offer.media if section.port != 0]
    audio = [section for section in active if section.kind == "audio"]
    if not audio:
        raise OfferError("offer has no audio section: a talk offer sends one microphone track")
    if len(audio) > 1:
        raise OfferError(f"offer has {len(audio)} audio sections; a talk offer sends one microphone track")
    if any(section.kind == "video" for section in active):
        raise OfferError("offer has a video section; a talk offer sends audio only")
    direction = _direction(offer, audio[0])
    if direction not in _SENDING:
        raise OfferError(f"the audio section is {direction}: the microphone must be sent (a=sendonly)")
    check_transport(offer)
    names = audio[0].rtpmap()
    offered = [names.get(int(fmt), fmt) for fmt in audio[0].formats if fmt.isdigit()]
    if not any(name in DECODABLE for name in offered):
        raise NoAudioCodecError(f"offer has no audio codec the gateway decodes (offered: {', '.join(offered) or 'none'};"
                                f" accepted: opus, PCMU, PCMA)")


def with_packet_time(answer: str, milliseconds: int) -> str:
    """The answer asking the microphone for `milliseconds` of audio per packet (RFC 4566
    6: a=ptime, in each audio section that has none).

    Why: a talk's cost in the gateway is per packet (a wake-up, an SRTP unprotect, a
    decode, an upstream write), not per millisecond of audio. Browsers honour ptime
    (Chromium sends 20, 40 or 60 ms opus packets as asked: tests/talkdown/test_chromium.py),
    so asking for the upstream chunk length halves the packets at 40 ms and makes each
    packet one upstream chunk.
    """
    ending = "\r\n" if answer.endswith("\r\n") else ""
    out: list[str] = []
    audio_without_ptime = False
    for line in answer.removesuffix("\r\n").split("\r\n"):
        if line.startswith("m=") and audio_without_ptime:
            out.append(f"a=ptime:{milliseconds}")
        if line.startswith("m="):
            audio_without_ptime = line.startswith("m=audio ")
        elif line.startswith("a=ptime:"):
            audio_without_ptime = False
        out.append(line)
    if audio_without_ptime:
        out.append(f"a=ptime:{milliseconds}")
    return "\r\n".join(out) + ending


def offer_for_aiortc(offer: Offer) -> str:
    """The offer without mDNS host candidates (see gateway.webrtc.sdp.without_mdns_candidates)."""
    out = list(offer.session)
    for section in offer.media:
        out.append(f"m={section.kind} {section.port} {section.proto} {' '.join(section.formats)}")
        out.extend(without_mdns_candidates(section.lines))
    return "\r\n".join(out) + "\r\n"
