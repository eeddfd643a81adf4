"""Counters the Amcrest emulator keeps so tests and benches can see what clients did."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class AmcrestStats:
    rtsp_sessions: int = 0  # open now
    rtsp_sessions_total: int = 0
    rtp_packets_sent: int = 0
    rtp_bytes_sent: int = 0  # RTP packets, headers included, without the 4-byte interleave header
    rtp_frames_dropped: int = 0  # video frames and audio packets skipped for a client not reading
    event_streams: int = 0  # eventManager attach responses open now
    snapshots: int = 0
    unauthorized: int = 0  # 401s sent, HTTP and RTSP
