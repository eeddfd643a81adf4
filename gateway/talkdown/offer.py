"""WHIP talk offer checks, on SDP text (sans-IO).

A talk offer (RFC 9725, WHIP) carries one microphone: one audio section the browser
sends (`a=sendonly`, or `a=sendrecv`), in a codec aiortc decodes, and no video. The SDP
model and the transport rules are the WHEP ones (`gateway.webrtc.sdp`); only the media
rules differ, so the splitting into sections and the mDNS filtering are imported.
"""

from __future__ import annotations

from gateway.api.query import is_ascii_digits
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
    offered = [names.get(int(fmt), fmt) for fmt in audio[0].formats if is_ascii_digits(fmt)]
    if not any(name in DECODABLE for name in offered):
        raise NoAudioCodecError(
            f"offer has no audio codec the gateway decodes (offered: {', '.join(offered) or 'none'};"
            f" accepted: opus, PCMU, PCMA)"
        )


def microphone_answer(answer: str, packet_ms: int) -> str:
    """aiortc's answer plus what it leaves out for a microphone, in each audio section:

    - `a=ptime:{packet_ms}` (RFC 4566 6), when the section has none. A talk's cost in the
      gateway is per packet (a wake-up, an SRTP unprotect, a decode, an upstream write),
      not per millisecond of audio. Browsers honour ptime (Chromium sends 20, 40 or 60 ms
      opus packets as asked: tests/talkdown/test_chromium.py), so asking for the upstream
      chunk length halves the packets at 40 ms and makes each packet one upstream chunk;
    - `a=fmtp:{pt} useinbandfec=1` for opus without an fmtp (RFC 7587 7.1): the decoder
      rebuilds a lost packet from the next one's in-band FEC (transcoders/opus.py), and a
      browser adds FEC only when the receiver says it can use it (and loss is reported).
    """
    ending = "\r\n" if answer.endswith("\r\n") else ""
    parsed = split_offer(answer)  # the offers' SDP model serves the answer too
    out = list(parsed.session)
    for section in parsed.media:
        out.append(_m_line(section))
        out.extend(section.lines)
        if section.kind == "audio":
            out.extend(_microphone_lines(section, packet_ms))
    return "\r\n".join(out) + ending


def _microphone_lines(section: MediaSection, packet_ms: int) -> list[str]:
    added = [] if section.attributes("ptime") else [f"a=ptime:{packet_ms}"]
    with_fmtp = section.fmtp()
    added += [
        f"a=fmtp:{payload_type} useinbandfec=1"
        for payload_type, name in section.rtpmap().items()
        if name == "OPUS" and payload_type not in with_fmtp
    ]
    return added


def _m_line(section: MediaSection) -> str:
    return f"m={section.kind} {section.port} {section.proto} {' '.join(section.formats)}"


def offer_for_aiortc(offer: Offer) -> str:
    """The offer without mDNS host candidates (see gateway.webrtc.sdp.without_mdns_candidates)."""
    out = list(offer.session)
    for section in offer.media:
        out.append(_m_line(section))
        out.extend(without_mdns_candidates(section.lines))
    return "\r\n".join(out) + "\r\n"
