"""WHEP offer checks and H.264 codec selection, on SDP text (sans-IO).

The gateway never encodes video, so the answer may only carry the one H.264 payload type
that matches the camera's stream: aiortc on its own answers with the offer's first video
codec (VP8 from Chromium), and its H.264 table knows only Baseline profiles. So:

1. `parse_offer()` checks the offer and splits it into media sections;
2. `choose_h264()` picks the offered H.264 payload the stream can be sent on;
3. `offer_for_aiortc()` narrows the video section to that payload (and its RTX) and
   labels it with a profile aiortc knows, so aiortc can only answer with it;
4. `answer_for_viewer()` puts the offer's own fmtp line back into aiortc's answer,
   so the viewer sees its offered profile-level-id and packetization-mode echoed.

Audio is forwarded the same way: the camera's opus packets go out as they are, so the
audio section is narrowed to the offered opus payload (`choose_opus()`) when the camera
has a microphone, and left as offered otherwise (aiortc then answers it inactive, having
no track to send). The viewer's own media is never received: a sending direction in the
offer is turned into a receiving one, since aiortc decodes whatever it receives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiortc.sdp import H264Profile, parse_h264_profile_level_id

from gateway.api.query import is_ascii_digits

MAX_OFFER_BYTES = 64 * 1024

# RFC 6184 8.1: no profile-level-id means Baseline at level 1.0.
DEFAULT_PROFILE_LEVEL_ID = "420010"

# The fmtp aiortc's own H.264 codec carries (aiortc/codecs/__init__.py): its matcher
# compares profiles, so the chosen payload is shown to it under this label.
AIORTC_H264_FMTP = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"

# Which decoder profiles can decode a stream of a given profile (H.264 Annex A.2: a
# Constrained Baseline stream conforms to Baseline, Main and High; A.2.4-A.2.11: each
# High-family decoder decodes the profiles below it, up to High 4:4:4 Predictive).
_CB, _B, _M = H264Profile.PROFILE_CONSTRAINED_BASELINE, H264Profile.PROFILE_BASELINE, H264Profile.PROFILE_MAIN
_CH, _H, _H444 = H264Profile.PROFILE_CONSTRAINED_HIGH, H264Profile.PROFILE_HIGH, H264Profile.PROFILE_PREDICTIVE_HIGH_444
_DECODABLE_BY: dict[H264Profile, tuple[H264Profile, ...]] = {
    _CB: (_CB, _B, _M, _CH, _H, _H444),
    _B: (_B,),
    _M: (_M, _H, _H444),
    _CH: (_CH, _H, _H444),
    _H: (_H, _H444),
    _H444: (_H444,),
}


class OfferError(ValueError):
    """The body is not an SDP offer the gateway can answer (HTTP 400)."""


class NoH264Error(ValueError):
    """The offer is valid but has no H.264 the stream can be sent on (HTTP 406)."""


@dataclass(frozen=True)
class MediaSection:
    kind: str  # "video", "audio", "application"
    port: int
    proto: str
    formats: tuple[str, ...]
    lines: tuple[str, ...]  # the section's lines after its m= line

    def attributes(self, name: str) -> list[str]:
        """Values of `a=name:value` (or `a=name`, as "") in this section."""
        prefix, flag = f"a={name}:", f"a={name}"
        return [
            line[len(prefix) :] if line.startswith(prefix) else ""
            for line in self.lines
            if line.startswith(prefix) or line == flag
        ]

    @property
    def mid(self) -> str | None:
        mids = self.attributes("mid")
        return mids[0] if mids else None

    def rtpmap(self) -> dict[int, str]:
        """payload type -> encoding name (upper case), from `a=rtpmap`."""
        found = {}
        for value in self.attributes("rtpmap"):
            match = re.fullmatch(r"(\d+) ([^/\s]+)/\d+(?:/\d+)?", value.strip(), re.ASCII)
            if match:
                found[int(match[1])] = match[2].upper()
        return found

    def fmtp(self) -> dict[int, str]:
        """payload type -> its raw fmtp parameter string."""
        found = {}
        for value in self.attributes("fmtp"):
            payload_type, _, params = value.partition(" ")
            if is_ascii_digits(payload_type):
                found[int(payload_type)] = params.strip()
        return found


@dataclass(frozen=True)
class Offer:
    session: tuple[str, ...]  # session-level lines, v= first
    media: tuple[MediaSection, ...]

    def session_attributes(self, name: str) -> list[str]:
        return MediaSection("", 0, "", (), self.session).attributes(name)

    @property
    def video(self) -> MediaSection:
        return next(section for section in self.media if section.kind == "video" and section.port != 0)

    @property
    def audio(self) -> MediaSection | None:
        """The first audio section, if it is not rejected (port 0).

        aiortc gives a sent audio track to the first audio transceiver, which is the
        offer's first audio section: only that one can carry the camera's audio.
        """
        section = next((section for section in self.media if section.kind == "audio"), None)
        return section if section is not None and section.port != 0 else None


@dataclass(frozen=True)
class H264Choice:
    payload_type: int
    rtx_payload_type: int | None
    fmtp: str  # the offer's fmtp line for the payload, echoed in the answer
    profile_level_id: str
    matches_stream: bool  # False: no offered profile can decode the stream (see choose_h264)


_LINE = re.compile(r"[a-z]=.*")


def split_offer(text: str) -> Offer:
    """Split an offer into session and media sections; raise OfferError with the reason.
    Shared by WHEP viewing and WHIP talk, which differ only in the media they accept."""
    if len(text) > MAX_OFFER_BYTES:
        raise OfferError(f"offer is {len(text)} bytes, more than {MAX_OFFER_BYTES}")
    lines = [line for line in text.replace("\r\n", "\n").split("\n") if line]
    if not lines or lines[0] != "v=0":
        raise OfferError("offer does not start with v=0 (RFC 8866 5.1)")
    for number, line in enumerate(lines, 1):
        if not _LINE.fullmatch(line):
            raise OfferError(f"offer line {number} is not <type>=<value>")
    session: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    for line in lines:
        if line.startswith("m="):
            sections.append((line, []))
        elif sections:
            sections[-1][1].append(line)
        else:
            session.append(line)
    media = tuple(_media_section(m_line, section_lines) for m_line, section_lines in sections)
    return Offer(tuple(session), media)


def parse_offer(text: str) -> Offer:
    """A WHEP viewing offer: exactly one video section, and sound transport."""
    offer = split_offer(text)
    videos = [section for section in offer.media if section.kind == "video" and section.port != 0]
    if not videos:
        raise OfferError("offer has no video section")
    if len(videos) > 1:
        raise OfferError(f"offer has {len(videos)} video sections; WHEP viewing sends one")
    check_transport(offer)
    return offer


def _media_section(m_line: str, lines: list[str]) -> MediaSection:
    parts = m_line[2:].split()
    if len(parts) < 4 or not is_ascii_digits(parts[1].split("/")[0]):
        raise OfferError(f"malformed media line {m_line[:60]!r} (RFC 8866 5.14)")
    return MediaSection(parts[0], int(parts[1].split("/")[0]), parts[2], tuple(parts[3:]), tuple(lines))


def check_transport(offer: Offer) -> None:
    """ICE credentials, a DTLS fingerprint, SRTP with feedback and rtcp-mux on every active section."""
    for section in offer.media:
        if section.port == 0:
            continue
        for name in ("ice-ufrag", "ice-pwd", "fingerprint"):
            if not section.attributes(name) and not offer.session_attributes(name):
                raise OfferError(f"{section.kind} section has no a={name} (RFC 8839, RFC 8122)")
        if section.kind in ("audio", "video"):
            if "RTP/SAVPF" not in section.proto:
                raise OfferError(f"{section.kind} section uses {section.proto}, not UDP/TLS/RTP/SAVPF")
            if not section.attributes("rtcp-mux"):
                raise OfferError(f"{section.kind} section has no a=rtcp-mux (required by RFC 8829 5.2.1)")


def stream_profile(profile_level_id: str) -> H264Profile | None:
    try:
        return parse_h264_profile_level_id(profile_level_id)[0]
    except ValueError:
        return None


def _fmtp_params(fmtp: str) -> dict[str, str]:
    params = {}
    for item in fmtp.split(";"):
        key, _, value = item.strip().partition("=")
        if key:
            params[key.lower()] = value.strip()
    return params


def choose_h264(video: MediaSection, stream_profile_level_id: str) -> H264Choice:
    """The offered H.264 payload to send the stream on.

    Only packetization-mode 1 will do: aiortc's packetizer sends FU-A and STAP-A
    (RFC 6184 6.3: mode 0 allows single NAL units only). A payload whose profile can
    decode the stream wins, the exact profile first. If none can (Debian's Chromium
    offers no High profile at all, and cameras often send High), the highest offered
    profile is taken and `matches_stream` is False: Chromium's FFmpeg decoder decodes
    any of them, and the caller logs it.
    """
    names = video.rtpmap()
    fmtps = video.fmtp()
    rtx_for: dict[int, int] = {}
    for payload_type, name in names.items():
        if name == "RTX":
            apt = _fmtp_params(fmtps.get(payload_type, "")).get("apt", "")
            if is_ascii_digits(apt):
                rtx_for.setdefault(int(apt), payload_type)
    candidates: list[tuple[int, str, H264Profile | None]] = []
    for fmt in video.formats:
        if not is_ascii_digits(fmt) or names.get(int(fmt)) != "H264":
            continue
        payload_type = int(fmt)
        params = _fmtp_params(fmtps.get(payload_type, ""))
        if params.get("packetization-mode", "0") != "1":
            continue
        profile_level_id = params.get("profile-level-id", DEFAULT_PROFILE_LEVEL_ID).lower()
        candidates.append((payload_type, profile_level_id, stream_profile(profile_level_id)))
    if not candidates:
        offered = sorted({names.get(int(fmt), fmt) for fmt in video.formats if is_ascii_digits(fmt)})
        raise NoH264Error(f"offer has no H.264 with packetization-mode=1 (offered: {', '.join(offered) or 'none'})")

    wanted = stream_profile(stream_profile_level_id)
    decodable = _DECODABLE_BY.get(wanted, ()) if wanted is not None else ()
    ranked = sorted(
        candidates,
        key=lambda c: (c[2] != wanted, decodable.index(c[2]) if c[2] in decodable else len(decodable)),
    )
    payload_type, profile_level_id, profile = ranked[0]
    matches = profile in decodable or (wanted is None and profile_level_id[:2] == stream_profile_level_id[:2].lower())
    if not matches:
        payload_type, profile_level_id, profile = max(candidates, key=lambda c: c[2].value if c[2] else -1)
    return H264Choice(payload_type, rtx_for.get(payload_type), fmtps.get(payload_type, ""), profile_level_id, matches)


def choose_opus(audio: MediaSection) -> int | None:
    """The offered payload type for opus, or None when the section does not accept it.

    RFC 7587 7: opus is always signalled as opus/48000/2, whatever the stream's channel
    count or coded rate; a mono stream is sent as it is (the receiver decodes it).
    """
    for value in audio.attributes("rtpmap"):
        match = re.fullmatch(r"(\d+) opus/48000/2", value.strip(), re.IGNORECASE | re.ASCII)
        if match and match[1] in audio.formats:
            return int(match[1])
    return None


# The viewer's direction as the gateway will answer it: WHEP viewers only receive, and
# what aiortc receives it decodes (rtcrtpreceiver.py), so nothing is received at all.
_RECEIVE_ONLY = {"a=sendrecv": "a=recvonly", "a=sendonly": "a=inactive"}


def _keeps(line: str, kept: set[int]) -> bool:
    """Whether a payload-specific attribute line belongs to a kept payload type."""
    for name in ("a=rtpmap:", "a=fmtp:", "a=rtcp-fb:"):
        if line.startswith(name):
            payload_type = line[len(name) :].split(" ", 1)[0]
            return payload_type == "*" or (is_ascii_digits(payload_type) and int(payload_type) in kept)
    return True


def _is_mdns_candidate(line: str) -> bool:
    # a=candidate:<foundation> <component> <transport> <priority> <address> ... (RFC 8839 5.1)
    parts = line.split()
    return line.startswith("a=candidate:") and len(parts) > 4 and parts[4].lower().endswith(".local")


def without_mdns_candidates(lines: tuple[str, ...]) -> list[str]:
    """Section lines without mDNS host candidates (draft-ietf-mmusic-mdns-ice-candidates).

    Resolving them costs aioice up to a second of multicast queries per offer, and the
    viewer does not need them: as ICE controlling agent it sends its checks to the
    gateway's host candidates, and the gateway learns its address from those checks as
    a peer-reflexive candidate (RFC 8445 7.3.1.3). With them gone, end-of-candidates
    goes too, so aioice waits for those checks instead of failing at once.
    """
    if not any(_is_mdns_candidate(line) for line in lines):
        return list(lines)
    return [line for line in lines if not _is_mdns_candidate(line) and line != "a=end-of-candidates"]


def offer_for_aiortc(offer: Offer, choice: H264Choice, opus_payload_type: int | None = None) -> str:
    """The offer with its video section narrowed to the chosen payload (and its RTX), and
    its audio section to opus when the camera's audio is sent (`opus_payload_type`)."""
    out = list(offer.session)
    for section in offer.media:
        if section is offer.video:
            out.extend(_video_for_aiortc(section, choice))
        elif section is offer.audio and opus_payload_type is not None:
            # aiortc sends on the first common codec; pre-encoded opus must go out as opus.
            out.append(f"m=audio {section.port} {section.proto} {opus_payload_type}")
            out.extend(
                _receive_only(line)
                for line in without_mdns_candidates(section.lines)
                if _keeps(line, {opus_payload_type})
            )
        else:
            out.append(f"m={section.kind} {section.port} {section.proto} {' '.join(section.formats)}")
            out.extend(
                _receive_only(line) if section.kind in ("audio", "video") else line
                for line in without_mdns_candidates(section.lines)
            )
    return "\r\n".join(out) + "\r\n"


def _video_for_aiortc(section: MediaSection, choice: H264Choice) -> list[str]:
    kept = {choice.payload_type} | ({choice.rtx_payload_type} if choice.rtx_payload_type is not None else set())
    formats = [fmt for fmt in section.formats if is_ascii_digits(fmt) and int(fmt) in kept]
    out = [f"m=video {section.port} {section.proto} {' '.join(formats)}"]
    for line in without_mdns_candidates(section.lines):
        if not _keeps(line, kept):
            continue
        if line.startswith(f"a=fmtp:{choice.payload_type} "):
            line = f"a=fmtp:{choice.payload_type} {AIORTC_H264_FMTP}"
        out.append(_receive_only(line))
    if not section.fmtp().get(choice.payload_type):
        out.append(f"a=fmtp:{choice.payload_type} {AIORTC_H264_FMTP}")
    return out


def _receive_only(line: str) -> str:
    return _RECEIVE_ONLY.get(line, line)


def answer_for_viewer(answer: str, choice: H264Choice) -> str:
    """aiortc's answer with the chosen payload's fmtp set back to what the viewer offered.

    RFC 6184 8.2.2: the answer keeps the offered profile (level asymmetry is allowed
    when both sides say so, and the offerer's level bounds what it receives).
    """
    prefix = f"a=fmtp:{choice.payload_type} "
    fmtp = choice.fmtp or f"packetization-mode=1;profile-level-id={choice.profile_level_id}"
    lines = [
        f"{prefix}{fmtp}" if line.startswith(prefix) else line for line in answer.replace("\r\n", "\n").split("\n")
    ]
    return "\r\n".join(lines).rstrip("\r\n") + "\r\n"


def video_codecs(answer: str) -> dict[int, str]:
    """payload type -> "NAME fmtp" for the answer's video section (tests and logs)."""
    return _codecs(parse_offer(answer).video)


def audio_codecs(answer: str) -> tuple[str | None, dict[int, str]]:
    """(direction, payload type -> "NAME/clock[/channels] fmtp") of the answer's audio
    section; (None, {}) when it has none or rejected it (tests and logs)."""
    section = parse_offer(answer).audio
    if section is None:
        return None, {}
    direction = next(
        (name for name in ("sendrecv", "sendonly", "recvonly", "inactive") if section.attributes(name)), "sendrecv"
    )  # RFC 8866 6.7: sendrecv by default
    names = {}
    for value in section.attributes("rtpmap"):
        payload_type, _, name = value.strip().partition(" ")
        if is_ascii_digits(payload_type):
            names[int(payload_type)] = name
    fmtps = section.fmtp()
    return direction, {
        int(fmt): f"{names.get(int(fmt), '?')} {fmtps.get(int(fmt), '')}".strip()
        for fmt in section.formats
        if is_ascii_digits(fmt)
    }


def _codecs(section: MediaSection) -> dict[int, str]:
    fmtps = section.fmtp()
    return {
        int(fmt): f"{section.rtpmap().get(int(fmt), '?')} {fmtps.get(int(fmt), '')}".strip()
        for fmt in section.formats
        if is_ascii_digits(fmt)
    }
