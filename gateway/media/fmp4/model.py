"""What the fMP4 reader emits and the writer takes: init segments, fragments, samples."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TrackInfo:
    track_id: int
    kind: str  # "video" | "audio"
    codec: str  # RFC 6381 string: "avc1.4D401F", "mp4a.40.2", "opus"
    timescale: int
    width: int = 0
    height: int = 0
    sample_rate: int = 0
    channels: int = 0
    # avcC box payload (video), AudioSpecificConfig (AAC), dOps payload (opus)
    codec_config: bytes = b""


@dataclass(frozen=True, slots=True)
class InitSegment:
    data: bytes  # the raw ftyp+moov bytes
    tracks: tuple[TrackInfo, ...]

    def track(self, kind: str) -> TrackInfo | None:
        """The first track of this kind ("video" or "audio"), if any."""
        for track in self.tracks:
            if track.kind == kind:
                return track
        return None


@dataclass(frozen=True, slots=True)
class Sample:
    track_id: int
    decode_time: int  # in the track's timescale
    duration: int
    composition_offset: int  # signed
    is_keyframe: bool  # sync sample: sample_is_non_sync_sample clear (ISO/IEC 14496-12 8.8.3.1)
    data: bytes  # AVCC (length-prefixed NALs) for H.264, raw frame for audio
    # When the camera took it (Unix seconds), from the upstream's own clock (a `prft` box,
    # fmp4/prft.py); None when the upstream does not say.
    captured_at: float | None = None


@dataclass(frozen=True, slots=True)
class Fragment:
    sequence_number: int
    samples: tuple[Sample, ...]  # all tracks, in file order
    size: int  # bytes of moof+mdat as received
