"""The emulator's one typed configuration, built by the CLI (or a test) and passed in."""

from __future__ import annotations

from dataclasses import dataclass

FRAGMENT_MODES = ("frame", "gop")


class SettingsError(ValueError):
    """An emulator setting is out of range."""


@dataclass
class EmulatorSettings:
    host: str = "127.0.0.1"
    port: int = 8443
    cameras: int = 4
    tls: bool = True
    username: str = "admin"
    password: str = "admin"
    user_nonce: str = "wep-emulator-nonce"
    user_key: str = "wep-emulator-key"
    integration_id: str = ""  # when set, login tokens must carry it as the 4th field
    session_idle_expiry: float = 3600.0  # WEP guide /login: 1 h of inactivity
    fragment: str = "frame"  # "frame": one moof+mdat per frame; "gop": one per GOP
    loop_seconds: float = 8.0
    fps: int = 15
    # Seconds between keyframes through one pass of the loop, which repeats: (1, 1, 4) in a
    # 6 s loop is a camera whose GOP grows from 1 s to 4 s and back. () is 1 s throughout.
    gops: tuple[float, ...] = ()
    # A prft box (ISO/IEC 14496-12 8.16.5) before each fMP4 fragment: when the camera took
    # it. The WEP guide does not say whether WEP sends one; off, PROGRAM-DATE-TIME falls back.
    prft: bool = True
    talk_cap_ms: int = 120000  # WEP guide POST /media: max audio stream 120000 ms
    cache_dir: str | None = None  # encoded loops cached here when set
    high_size: tuple[int, int] = (1280, 720)
    low_size: tuple[int, int] = (640, 360)
    high_bitrate: int = 2_000_000
    low_bitrate: int = 500_000
    token_skew: float = 3600.0  # accepted |now - token timestamp|, seconds
    encode_workers: int = 2
    motion_every: float = 0.0  # demo: camera 1 MOTION_START, then STOP ~2 s later, every S seconds; 0 off
    event_log_size: int = 100_000  # events kept for /events/search; the oldest are dropped
    webhook_queue_size: int = 1000  # events waiting per webhook; past it new ones are counted and dropped
    webhook_verify_tls: bool = True  # False for https receivers with self-signed certificates
    ptz_camera: int = 0  # 1-based index of the one camera with PTZ (its picture follows commands); 0: none
    # (start, end) seconds after the emulator's start when no camera recorded: GET /timeline
    # shows them as holes in the recordings. More can be added while running.
    recording_gaps: tuple[tuple[float, float], ...] = ()

    def validate(self) -> None:
        if self.fragment not in FRAGMENT_MODES:
            raise SettingsError(f"fragment must be one of {FRAGMENT_MODES}, not {self.fragment!r}")
        if not 1 <= self.cameras <= 64:
            raise SettingsError(f"cameras must be 1..64, not {self.cameras}")
        if not 1 <= self.fps <= 60:
            raise SettingsError(f"fps must be 1..60, not {self.fps}")
        if self.loop_seconds < 1 or int(self.loop_seconds * self.fps) % self.fps:
            raise SettingsError(f"loop_seconds must be a whole number of seconds >= 1, not {self.loop_seconds}")
        if self.gops:
            check_gops(self.gops, self.loop_seconds, self.fps)
        if self.talk_cap_ms <= 0 or self.session_idle_expiry <= 0:
            raise SettingsError("talk_cap_ms and session_idle_expiry must be positive")
        if not 0 <= self.ptz_camera <= self.cameras:
            raise SettingsError(f"ptz_camera must be 0 (none) or 1..{self.cameras}, not {self.ptz_camera}")
        if self.motion_every < 0:
            raise SettingsError(f"motion_every must be >= 0 (0: off), not {self.motion_every}")
        if self.event_log_size < 1 or self.webhook_queue_size < 1:
            raise SettingsError("event_log_size and webhook_queue_size must be at least 1")
        for start, end in self.recording_gaps:
            check_gap(start, end)
        for w, h in (self.high_size, self.low_size):
            if w % 2 or h % 2 or w < 16 or h < 16:
                raise SettingsError(f"video size {w}x{h} must be even and at least 16x16")

    @property
    def talk_cap_bytes(self) -> int:
        return self.talk_cap_ms * 8  # PCMU: 8000 samples/s, one byte each


def check_gap(start: float, end: float) -> None:
    """A recording gap is seconds after the emulator's start: 0 <= start < end."""
    if not 0 <= start < end:
        raise SettingsError(f"a recording gap needs 0 <= start < end seconds, not ({start}, {end})")


def check_gops(gops: tuple[float, ...], loop_seconds: float, fps: int) -> None:
    """Keyframe intervals: whole frames each, together one pass of the loop."""
    frames = [gop * fps for gop in gops]
    if any(n < 1 or abs(n - round(n)) > 1e-6 for n in frames):
        raise SettingsError(f"gops must each be a whole number of frames at {fps} fps, not {gops}")
    if abs(sum(gops) - loop_seconds) > 1e-6:
        raise SettingsError(f"gops must add up to loop_seconds ({loop_seconds}), not {sum(gops)}")
