"""One RTSP client connection: OPTIONS, DESCRIBE, SETUP, PLAY, GET_PARAMETER, TEARDOWN
(RFC 2326) on `/cam/realmonitor?channel=N&subtype=S`, with Digest auth and TCP-interleaved
RTP only. The framing is rtsp_framing.py's; the media pump is streaming.py's."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from gateway.api.query import is_ascii_digits
from gateway.emulator.amcrest.clock import MediaClock
from gateway.emulator.amcrest.digest import DigestAuthority, Verdict
from gateway.emulator.amcrest.media import ChannelMedia
from gateway.emulator.amcrest.rtsp_framing import (
    RtspFramingError,
    RtspReader,
    RtspRequest,
    parse_transport,
    render_response,
)
from gateway.emulator.amcrest.sdp import AUDIO_TRACK, VIDEO_PAYLOAD_TYPE, VIDEO_TRACK, session_description
from gateway.emulator.amcrest.stats import AmcrestStats
from gateway.emulator.amcrest.streaming import SessionStreamer, TrackSender

log = logging.getLogger(__name__)

STREAM_PATH = "/cam/realmonitor"
SESSION_TIMEOUT = 60  # seconds, announced in the Session header (RFC 2326 12.37)
PUBLIC = "OPTIONS, DESCRIBE, SETUP, TEARDOWN, GET_PARAMETER, SET_PARAMETER, PLAY"
SERVER = "Rtsp Server/3.0"  # what Dahua firmware announces
_TRACK_SUFFIX = re.compile(r"/(?:trackID=([0-9]{1,3}))?$")


class RtspStatus(Exception):
    """A request answered with an error status."""

    def __init__(self, status: int, headers: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(status)
        self.status = status
        self.headers = list(headers)


@dataclass(frozen=True, slots=True)
class StreamTarget:
    channel: int
    subtype: int
    track: int | None  # None: the whole presentation (the Content-Base)
    base: str  # the Content-Base: rtsp://host:port/cam/realmonitor?channel=N&subtype=S/


def resolve(uri: str, channels: int) -> StreamTarget:
    """Which stream and track a request URI names. Dahua's Content-Base is the stream URL
    plus "/", and FFmpeg builds track URLs by appending `trackID=N` (RFC 2326 C.1.1), so
    the track rides at the end of the query: `...?channel=1&subtype=0/trackID=0`."""
    parts = urlsplit(uri)
    if parts.scheme.lower() != "rtsp" or parts.path.rstrip("/") != STREAM_PATH:
        raise RtspStatus(404)
    query, track = parts.query, None
    match = _TRACK_SUFFIX.search(query)
    if match:
        query = query[: match.start()]
        track = int(match.group(1)) if match.group(1) is not None else None
    params = parse_qs(query)
    channel = params.get("channel", ["1"])[0]
    subtype = params.get("subtype", ["0"])[0]
    if (
        not is_ascii_digits(channel)
        or len(channel) > 3
        or not 1 <= int(channel) <= channels
        or subtype not in ("0", "1")
    ):
        raise RtspStatus(400)
    base = f"rtsp://{parts.netloc}{STREAM_PATH}?channel={int(channel)}&subtype={subtype}/"
    return StreamTarget(int(channel), int(subtype), track, base)


class RtspConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, media: dict[int, ChannelMedia],
                 auth: DigestAuthority, clock: MediaClock, stats: AmcrestStats) -> None:  # fmt: skip
        self._reader = reader
        self._writer = writer
        self._media = media
        self._auth = auth
        self._clock = clock
        self._stats = stats
        self._framing = RtspReader()
        self._session: str | None = None
        self._target: StreamTarget | None = None
        self._senders: dict[int, TrackSender] = {}
        self._streamer: asyncio.Task | None = None
        self._rtp_info: list[tuple[str, int, int]] = []

    async def run(self) -> None:
        try:
            while data := await self._reader.read(65536):
                try:
                    events = self._framing.feed(data)
                except RtspFramingError as exc:
                    log.debug("closing an RTSP connection: %s", exc)
                    self._writer.write(render_response(400, None))
                    break
                for event in events:
                    if isinstance(event, RtspRequest):  # interleaved frames from the client are RTCP RRs
                        self._writer.write(self._answer(event))
        except ConnectionError:
            pass
        finally:
            self.close()

    def close(self, abort: bool = False) -> None:
        """End the session and the connection; `abort` drops unsent bytes (a client that
        stopped reading would otherwise keep the socket open until it reads them)."""
        self._end_session()
        if abort:
            self._writer.transport.abort()
        elif not self._writer.is_closing():
            self._writer.close()

    def _answer(self, request: RtspRequest) -> bytes:
        handler = {
            "OPTIONS": self._options, "DESCRIBE": self._describe, "SETUP": self._setup, "PLAY": self._play,
            "TEARDOWN": self._teardown, "GET_PARAMETER": self._keepalive, "SET_PARAMETER": self._keepalive,
        }.get(request.method)  # fmt: skip
        headers = [("Server", SERVER)]
        try:
            if request.version != "RTSP/1.0":
                raise RtspStatus(505)
            if handler is None:
                raise RtspStatus(501, [("Public", PUBLIC)])
            if request.method != "OPTIONS":
                self._authorize(request)
            extra, body = handler(request)
            return render_response(200, request.cseq, headers + extra, body)
        except RtspStatus as exc:
            return render_response(exc.status, request.cseq, headers + exc.headers)
        except Exception:
            log.exception("RTSP %s %s failed", request.method, request.uri)
            return render_response(500, request.cseq, headers)

    def _authorize(self, request: RtspRequest) -> None:
        verdict = self._auth.verify(request.method, request.header("authorization"))
        if verdict is not Verdict.OK:
            self._stats.unauthorized += 1
            challenge = self._auth.challenge(qop=False, stale=verdict is Verdict.STALE)
            raise RtspStatus(401, [("WWW-Authenticate", challenge)])

    def _session_headers(self) -> list[tuple[str, str]]:
        return [("Session", f"{self._session};timeout={SESSION_TIMEOUT}")]

    def _check_session(self, request: RtspRequest) -> None:
        given = (request.header("session") or "").split(";")[0].strip()
        if self._session is None or given != self._session:
            raise RtspStatus(454)

    def _options(self, request: RtspRequest):
        return [("Public", PUBLIC)], b""

    def _describe(self, request: RtspRequest):
        target = resolve(request.uri, len(self._media))
        media = self._media[target.channel]
        host = self._writer.get_extra_info("sockname")[0]
        session_id = secrets.randbits(31)
        sdp = session_description(media.video[target.subtype], media.audio, session_id, host, "Media Server")
        return [("Content-Type", "application/sdp"), ("Content-Base", target.base)], sdp

    def _setup(self, request: RtspRequest):
        target = resolve(request.uri, len(self._media))
        media = self._media[target.channel]
        tracks = (VIDEO_TRACK, AUDIO_TRACK) if media.audio is not None else (VIDEO_TRACK,)
        if target.track not in tracks:
            raise RtspStatus(404)
        assert target.track is not None  # one of the tracks
        if self._session is not None:
            self._check_session(request)
            assert self._target is not None  # set with the session
            if (target.channel, target.subtype) != (self._target.channel, self._target.subtype):
                raise RtspStatus(455)  # one stream per session, as the camera does
        if self._streamer is not None:
            raise RtspStatus(455)
        specs = [spec for spec in parse_transport(request.header("transport") or "") if spec.tcp]
        if not specs:
            raise RtspStatus(461)  # UDP is not offered: TCP interleaved is what cameras do reliably
        try:
            channels = specs[0].interleaved_channels() or (2 * target.track, 2 * target.track + 1)
        except RtspFramingError:
            raise RtspStatus(400) from None
        if target.track == VIDEO_TRACK:
            rate, payload_type = 90000, VIDEO_PAYLOAD_TYPE
        else:
            assert media.audio is not None  # an audio track is offered only with audio
            rate, payload_type = media.audio.clock_rate, media.audio.payload_type
        sender = TrackSender(request.uri, channels[0], channels[1], rate, payload_type)
        self._senders[target.track] = sender
        if self._session is None:
            self._session = secrets.token_hex(8).upper()
            self._target = target
            self._stats.rtsp_sessions += 1
            self._stats.rtsp_sessions_total += 1
        transport = f"RTP/AVP/TCP;unicast;interleaved={channels[0]}-{channels[1]};ssrc={sender.ssrc:08X}"
        return [("Transport", transport), *self._session_headers()], b""

    def _play(self, request: RtspRequest):
        self._check_session(request)
        assert self._target is not None  # set with the session
        if self._streamer is None:
            media = self._media[self._target.channel]
            video = self._senders.get(VIDEO_TRACK)
            audio = self._senders.get(AUDIO_TRACK)
            streamer = SessionStreamer(
                self._writer.transport, self._clock, self._stats,
                (media.video[self._target.subtype], video) if video else None,
                (media.audio, audio) if audio and media.audio is not None else None,
                cname=f"amcrest-emulator-{self._session}",
            )  # fmt: skip
            self._rtp_info = streamer.rtp_info()
            # Started now, it runs after this reply is written (the loop runs it later).
            self._streamer = asyncio.create_task(streamer.run(), name=f"rtsp-{self._session}")
            self._streamer.add_done_callback(_log_failure)
        rtp_info = ",".join(f"url={url};seq={seq};rtptime={ts}" for url, seq, ts in self._rtp_info)
        return [*self._session_headers(), ("Range", "npt=0.000-"), ("RTP-Info", rtp_info)], b""

    def _teardown(self, request: RtspRequest):
        self._check_session(request)
        headers = self._session_headers()
        self._end_session()
        return headers, b""

    def _keepalive(self, request: RtspRequest):
        if request.header("session") is not None:
            self._check_session(request)
            return self._session_headers(), b""
        return [], b""

    def _end_session(self) -> None:
        if self._streamer is not None:
            self._streamer.cancel()
            self._streamer = None
        if self._session is not None:
            self._stats.rtsp_sessions -= 1
            self._session = None
            self._target = None
            self._senders = {}


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("RTSP session %s failed", task.get_name(), exc_info=task.exception())
