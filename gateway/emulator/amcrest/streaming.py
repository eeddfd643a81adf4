"""One PLAYing session's media: RTP over the RTSP connection, paced in real time.

Frames come from the channel's loop on the shared timeline (clock.py). A session starts at
the last keyframe before PLAY, sending the frames since then at once (as a camera with a
GOP buffer does) so a client can decode at once, then one frame when its time comes.
RTCP sender reports go out on each track's odd channel every `SR_INTERVAL`, mapping RTP
time to wall time the same way for audio and video, which is what FFmpeg syncs them by.

The writer never waits for the client: when more than `WRITE_BUFFER_LIMIT` bytes sit in
the transport, frames are dropped (and counted) up to the next keyframe that finds the
buffer below the limit, so a client that stops reading costs bounded memory.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from dataclasses import dataclass, field

from gateway.emulator.amcrest.audio_loops import AudioTrack
from gateway.emulator.amcrest.clock import MediaClock
from gateway.emulator.amcrest.rtp import rtp_packet, sender_report
from gateway.emulator.amcrest.rtsp_framing import interleaved
from gateway.emulator.amcrest.stats import AmcrestStats
from gateway.emulator.amcrest.video_loops import VIDEO_CLOCK, VideoTrack

WRITE_BUFFER_LIMIT = 1 << 20
SR_INTERVAL = 2.0  # RFC 3550 6.2 allows 5 s minimum for large sessions; FFmpeg syncs sooner with 2 s


@dataclass
class TrackSender:
    """RTP state of one set-up track: channels, random SSRC/sequence/timestamp (RFC 3550 5.1)."""

    url: str  # the SETUP request URI, echoed in RTP-Info
    rtp_channel: int
    rtcp_channel: int
    clock_rate: int
    payload_type: int
    ssrc: int = field(default_factory=lambda: secrets.randbits(32))
    seq: int = field(default_factory=lambda: secrets.randbits(16))
    ts_base: int = field(default_factory=lambda: secrets.randbits(32))
    packets: int = 0
    octets: int = 0

    def frames(self, payloads: tuple[bytes, ...], timestamp: int, stats: AmcrestStats) -> bytes:
        """Interleaved RTP packets of one frame; the marker on its last packet."""
        out = []
        last = len(payloads) - 1
        for i, payload in enumerate(payloads):
            packet = rtp_packet(self.payload_type, i == last, self.seq, timestamp, self.ssrc, payload)
            out.append(interleaved(self.rtp_channel, packet))
            self.seq = (self.seq + 1) & 0xFFFF
            self.packets += 1
            self.octets += len(payload)
            stats.rtp_packets_sent += 1
            stats.rtp_bytes_sent += len(packet)
        return b"".join(out)


class SessionStreamer:
    """Sends the set-up tracks of one channel and subtype until cancelled or the socket closes."""

    def __init__(self, transport: asyncio.WriteTransport, clock: MediaClock, stats: AmcrestStats,
                 video: tuple[VideoTrack, TrackSender] | None, audio: tuple[AudioTrack, TrackSender] | None,
                 cname: str) -> None:  # fmt: skip
        self._transport = transport
        self._clock = clock
        self._stats = stats
        self._video = video
        self._audio = audio
        self._cname = cname
        now = clock.now()
        if video is not None:
            track = video[0]
            frame = math.floor(now * track.fps)
            # the last keyframe at or before now: where a decoder can start
            while not track.frames[frame % len(track.frames)].keyframe:
                frame -= 1
            self._next_frame = frame
            self._start = frame / track.fps
        else:
            self._next_frame = 0
            self._start = now
        if audio is not None:
            audio_track = audio[0]
            self._next_packet = math.ceil(self._start * audio_track.clock_rate / audio_track.packet_samples)
        self._waiting_keyframe = False

    def rtp_info(self) -> list[tuple[str, int, int]]:
        """(url, seq, rtptime) of each track's first packet, for PLAY's RTP-Info (RFC 2326 12.33)."""
        info = []
        if self._video is not None:
            sender = self._video[1]
            info.append((sender.url, sender.seq, self._video_ts(self._next_frame)))
        if self._audio is not None:
            sender = self._audio[1]
            info.append((sender.url, sender.seq, self._audio_ts(self._next_packet)))
        return info

    def _video_ts(self, frame: int) -> int:
        assert self._video is not None  # called only for a set-up video track
        track, sender = self._video
        return (sender.ts_base + round(frame * VIDEO_CLOCK / track.fps - self._start * VIDEO_CLOCK)) & 0xFFFFFFFF

    def _audio_ts(self, packet: int) -> int:
        assert self._audio is not None  # called only for a set-up audio track
        track, sender = self._audio
        offset = packet * track.packet_samples - round(self._start * track.clock_rate)
        return (sender.ts_base + offset) & 0xFFFFFFFF

    def _video_time(self) -> float:
        return self._next_frame / self._video[0].fps if self._video else math.inf

    def _audio_time(self) -> float:
        if self._audio is None:
            return math.inf
        track = self._audio[0]
        return self._next_packet * track.packet_samples / track.clock_rate

    async def run(self) -> None:
        next_report = 0.0
        while not self._transport.is_closing():
            now = self._clock.now()
            if now >= next_report:
                # first before any media, so a receiver can place the very first packets
                self._send_reports(now)
                next_report = now + SR_INTERVAL
            while min(self._video_time(), self._audio_time()) <= now:
                if self._video_time() <= self._audio_time():
                    self._send_video()
                else:
                    self._send_audio()
            wait = min(self._video_time(), self._audio_time(), next_report) - self._clock.now()
            await asyncio.sleep(max(wait, 0.0))

    def _congested(self) -> bool:
        return self._transport.get_write_buffer_size() > WRITE_BUFFER_LIMIT

    def _send_video(self) -> None:
        assert self._video is not None  # its time is inf without one
        track, sender = self._video
        frame = track.frames[self._next_frame % len(track.frames)]
        timestamp = self._video_ts(self._next_frame)
        self._next_frame += 1
        if self._congested():
            self._waiting_keyframe = True
        if self._waiting_keyframe and (not frame.keyframe or self._congested()):
            self._stats.rtp_frames_dropped += 1
            return
        self._waiting_keyframe = False
        self._transport.write(sender.frames(frame.payloads, timestamp, self._stats))

    def _send_audio(self) -> None:
        assert self._audio is not None  # its time is inf without one
        track, sender = self._audio
        payload = track.payloads[self._next_packet % len(track.payloads)]
        timestamp = self._audio_ts(self._next_packet)
        self._next_packet += 1
        if self._congested():
            self._stats.rtp_frames_dropped += 1
            return
        self._transport.write(sender.frames((payload,), timestamp, self._stats))

    def _send_reports(self, now: float) -> None:
        wall = self._clock.wall(now)
        reports = []
        if self._video is not None:
            sender = self._video[1]
            rtp_time = sender.ts_base + round((now - self._start) * VIDEO_CLOCK)
            sr = sender_report(sender.ssrc, wall, rtp_time, sender.packets, sender.octets, self._cname)
            reports.append(interleaved(sender.rtcp_channel, sr))
        if self._audio is not None:
            track, sender = self._audio
            rtp_time = sender.ts_base + round((now - self._start) * track.clock_rate)
            sr = sender_report(sender.ssrc, wall, rtp_time, sender.packets, sender.octets, self._cname)
            reports.append(interleaved(sender.rtcp_channel, sr))
        if not self._congested():
            self._transport.write(b"".join(reports))
