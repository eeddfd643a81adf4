"""The Amcrest emulator's one typed configuration, built by the CLI (or a test) and passed in."""

from __future__ import annotations

from dataclasses import dataclass

AUDIO_CODECS = ("pcma", "pcmu", "aac", "none")


@dataclass
class AmcrestSettings:
    host: str = "127.0.0.1"
    http_port: int = 0  # 0: pick a free port
    rtsp_port: int = 0
    channels: int = 1  # 1-based channel numbers 1..channels, as on a Dahua NVR
    username: str = "admin"
    password: str = "amcrest-emulator"
    h265_channels: tuple[int, ...] = ()  # these channels' video is H.265 (HEVC), the rest H.264
    audio: str = "pcma"  # RTSP audio track of every channel: "pcma", "pcmu", "aac" or "none"
    loop_seconds: float = 8.0
    fps: int = 15
    high_size: tuple[int, int] = (1280, 720)  # subtype=0
    low_size: tuple[int, int] = (640, 360)  # subtype=1
    high_bitrate: int = 2_000_000
    low_bitrate: int = 500_000
    cache_dir: str | None = None  # encoded loops cached here when set
    heartbeat_default: float = 5.0  # eventManager attach without heartbeat=

    def validate(self) -> None:
        if not 1 <= self.channels <= 64:
            raise ValueError(f"channels must be 1..64, not {self.channels}")
        bad = [c for c in self.h265_channels if not 1 <= c <= self.channels]
        if bad:
            raise ValueError(f"h265_channels {bad} are not channels 1..{self.channels}")
        if self.audio not in AUDIO_CODECS:
            raise ValueError(f"audio must be one of {AUDIO_CODECS}, not {self.audio!r}")
        if not 1 <= self.fps <= 60:
            raise ValueError(f"fps must be 1..60, not {self.fps}")
        if self.loop_seconds < 1 or self.loop_seconds != int(self.loop_seconds):
            raise ValueError(f"loop_seconds must be a whole number of seconds >= 1, not {self.loop_seconds}")
        for w, h in (self.high_size, self.low_size):
            if w % 2 or h % 2 or w < 16 or h < 16:
                raise ValueError(f"video size {w}x{h} must be even and at least 16x16")
        if self.high_bitrate <= 0 or self.low_bitrate <= 0:
            raise ValueError("high_bitrate and low_bitrate must be positive")
        if self.heartbeat_default <= 0:
            raise ValueError(f"heartbeat_default must be positive, not {self.heartbeat_default}")
        if ":" in self.username:
            raise ValueError("username must not contain ':' (RFC 1945 11.1)")
        for name in ("http_port", "rtsp_port"):
            port = getattr(self, name)
            if not 0 <= port <= 65535:
                raise ValueError(f"{name} must be 0..65535, not {port}")
