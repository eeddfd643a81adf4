"""WebRTC counters and the hub-to-RTP delay histogram (plain numbers, read at scrape time)."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.delay_histogram import DelayHistogram


@dataclass
class WebrtcCounters:
    sessions_started: int = 0
    sessions_closed: int = 0
    connect_timeouts: int = 0  # closed because ICE/DTLS never completed
    connection_failures: int = 0  # aiortc reported "failed"
    offers_rejected: int = 0
    frames_sent: int = 0
    bytes_sent: int = 0
    video_packets_sent: int = 0  # RTP packets of video, each viewer's counted
    video_retransmissions: int = 0  # packets sent again for a NACK
    video_packets_dropped: int = 0  # the socket's send buffer was full
    keyframe_requests: int = 0  # PLI/FIR received (answered by waiting, see track.py)
    frames_skipped: int = 0  # frames the track itself skipped (backlog, waiting for a keyframe)
    profile_mismatches: int = 0
    audio_sessions: int = 0  # sessions that were given the camera's opus audio
    audio_packets_sent: int = 0
    audio_bytes_sent: int = 0
    audio_packets_skipped: int = 0  # queued before the connection was up, not worth sending late
    send_delay: DelayHistogram = field(default_factory=DelayHistogram)
