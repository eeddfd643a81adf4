"""WHIP talk offer checks, on SDP text (sans-IO).

A talk offer (RFC 9725, WHIP) carries one microphone: one audio section the browser
sends (`a=sendonly`, or `a=sendrecv`), in a codec aiortc decodes, and no video. The SDP
model and the transport rules are the WHEP ones (`gateway.webrtc.sdp`); only the media
rules differ, so the splitting into sections and the mDNS filtering are imported.
"""

from __future__ import annotations

from gateway.webrtc.sdp import MAX_OFFER_BYTES, MediaSection, Offer, OfferError
from gateway.webrtc.sdp import _LINE, _media_section, _transport_lines

# aiortc's audio decoders (aiortc/codecs/__init__.py): opus from browsers, G.711 from others.
DECODABLE = ("OPUS", "PCMU", "PCMA")
_SENDING = ("sendonly", "sendrecv")
_DIRECTIONS = ("sendonly", "sendrecv", "recvonly", "inactive")


class NoAudioCodecError(ValueError):
    """The offer's audio is in no codec the gateway can decode (HTTP 406)."""


def parse_talk_offer(text: str) -> Offer:
    """Split and check a talk offer; OfferError (400) or NoAudioCodecError (406) with the reason."""
    if len(text) > MAX_OFFER_BYTES:
        raise OfferError(f"offer is {len(text)} bytes, more than {MAX_OFFER_BYTES}")
    lines = [line for line in text.replace("\r\n", "\n").split("\n") if line]
    if not lines or lines[0] != "v=0":
        raise OfferError("offer does not start with v=0 (RFC 8866 5.1)")
    session: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    for number, line in enumerate(lines, 1):
        if not _LINE.fullmatch(line):
            raise OfferError(f"offer line {number} is not <type>=<value>")
        if line.startswith("m="):
            sections.append((line, []))
        elif sections:
            sections[-1][1].append(line)
        else:
            session.append(line)
    offer = Offer(tuple(session), tuple(_media_section(m_line, body) for m_line, body in sections))
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
    for section in active:
        for name in ("ice-ufrag", "ice-pwd", "fingerprint"):
            if not section.attributes(name) and not offer.session_attributes(name):
                raise OfferError(f"{section.kind} section has no a={name} (RFC 8839, RFC 8122)")
    if "RTP/SAVPF" not in audio[0].proto:
        raise OfferError(f"audio section uses {audio[0].proto}, not UDP/TLS/RTP/SAVPF")
    if not audio[0].attributes("rtcp-mux"):
        raise OfferError("audio section has no a=rtcp-mux (required by RFC 8829 5.2.1)")
    names = audio[0].rtpmap()
    offered = [names.get(int(fmt), fmt) for fmt in audio[0].formats if fmt.isdigit()]
    if not any(name in DECODABLE for name in offered):
        raise NoAudioCodecError(f"offer has no audio codec the gateway decodes (offered: {', '.join(offered) or 'none'};"
                                f" accepted: opus, PCMU, PCMA)")


def offer_for_aiortc(offer: Offer) -> str:
    """The offer without mDNS host candidates (see gateway.webrtc.sdp._transport_lines)."""
    out = list(offer.session)
    for section in offer.media:
        out.append(f"m={section.kind} {section.port} {section.proto} {' '.join(section.formats)}")
        out.extend(_transport_lines(section.lines))
    return "\r\n".join(out) + "\r\n"
