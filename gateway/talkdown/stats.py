"""Talkdown counters (plain numbers on the hot path, read at scrape time or by the bench)."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.delay_histogram import DelayHistogram


@dataclass
class TalkCounters:
    sessions_started: int = 0
    sessions_ended: int = 0
    refused_no_speaker: int = 0
    refused_busy: int = 0
    preempted: int = 0  # sessions ended because a higher-ranked talker took the speaker
    clip_skipped: int = 0  # rule clips given up: the speaker stayed busy for their whole wait
    bytes_sent: int = 0  # PCMU bytes that left in an upstream POST body
    posts_opened: int = 0
    rollovers: int = 0  # hand-overs from one POST to the next at the cap
    post_failures: int = 0
    bytes_dropped: int = 0  # audio dropped because the upstream fell behind (max_queue_ms)
    frames_received: int = 0  # microphone frames decoded
    rtp_packets: int = 0  # microphone RTP packets taken off the socket (datagram_tap.py)
    rtp_late: int = 0  # dropped: older than one already decoded (reordered or duplicated)
    rtp_rejected: int = 0  # dropped: failed SRTP authentication, malformed, or not a negotiated codec
    # From a microphone packet's arrival (before it is decoded) to its PCMU leaving in the POST body.
    uplink_delay: DelayHistogram = field(default_factory=DelayHistogram)
