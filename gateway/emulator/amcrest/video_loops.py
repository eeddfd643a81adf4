"""Each channel's video loops, encoded once (in a thread) and cut into RTP payloads.

H.264 is the WEP emulator's own encode (gateway/emulator/encode.py, same disk cache,
same picture), read back as AVCC samples and packetized with the project's RFC 6184
packetizer; H.265 is encoded here with PyAV's libx265 and packetized per RFC 7798.
Payloads are cut once per loop frame: a session only adds RTP headers.
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass
from fractions import Fraction

import av

from gateway.emulator.amcrest import rtp_h265
from gateway.emulator.encode import ENCODING_VERSION, VideoSpec, _cached, encode_video
from gateway.emulator.test_pattern import render_frame
from gateway.media.fmp4.model import Fragment, InitSegment
from gateway.media.fmp4.reader import Fmp4Reader
from gateway.media.h264 import access_unit_nals, parse_avcc, split_annexb
from gateway.media.rtp_h264 import packetize as packetize_h264

VIDEO_CLOCK = 90000  # RFC 6184 8.2.1 / RFC 7798 7.1: the RTP clock rate of video
_FRAME = struct.Struct("!BI")


class VideoLoopError(ValueError):
    """The encoder's output is not the loop the emulator expects."""


@dataclass(frozen=True, slots=True)
class AccessUnit:
    payloads: tuple[bytes, ...]  # RTP payloads; the marker bit goes on the last
    keyframe: bool


@dataclass(frozen=True, slots=True)
class VideoTrack:
    encoding: str  # SDP rtpmap encoding name: "H264" or "H265"
    width: int
    height: int
    fps: int
    fmtp: str  # SDP fmtp parameters (RFC 6184 8.1 / RFC 7798 7.1)
    frames: tuple[AccessUnit, ...]  # one loop, frame i shown at i / fps seconds

    @property
    def keyframes(self) -> tuple[int, ...]:
        return tuple(i for i, frame in enumerate(self.frames) if frame.keyframe)


@dataclass(frozen=True, slots=True)
class VideoParams:
    channel_index: int  # 0-based: the WEP emulator's camera index, which picks the picture
    width: int
    height: int
    fps: int
    frames: int
    bitrate: int


def h264_track(params: VideoParams, cache_dir: str | None) -> VideoTrack:
    spec = VideoSpec(params.channel_index, params.width, params.height, params.fps, params.frames,
                     params.bitrate, "frame")  # fmt: skip
    events = Fmp4Reader().feed(encode_video(spec, cache_dir))
    init = next((e for e in events if isinstance(e, InitSegment)), None)
    track = init.track("video") if init else None
    if track is None:
        raise VideoLoopError("the H.264 loop has no video track")
    config = parse_avcc(track.codec_config)
    frames = []
    for fragment in (e for e in events if isinstance(e, Fragment)):
        for sample in fragment.samples:
            nals = access_unit_nals(sample.data, config, sample.is_keyframe)  # SPS+PPS before each IDR
            frames.append(AccessUnit(tuple(packetize_h264(nals)), sample.is_keyframe))
    if not frames or not frames[0].keyframe:
        raise VideoLoopError("the H.264 loop does not start with a keyframe")
    sprop = ",".join(base64.b64encode(ps).decode() for ps in (config.sps[0], config.pps[0]))
    fmtp = f"packetization-mode=1;profile-level-id={config.profile_level_id};sprop-parameter-sets={sprop}"
    return VideoTrack("H264", params.width, params.height, params.fps, fmtp, tuple(frames))


def h265_track(params: VideoParams, cache_dir: str | None) -> VideoTrack:
    key = (f"v{ENCODING_VERSION}-amcrest-hevc-{params.channel_index}-{params.width}x{params.height}"
           f"-{params.fps}fps-{params.frames}f-{params.bitrate}")  # fmt: skip
    blob = _cached(cache_dir, key, lambda: _encode_h265(params))
    frames = []
    parameter_sets: dict[int, bytes] = {}
    for keyframe, annexb in _unpack(blob):
        nals = split_annexb(annexb)
        for nal in nals:
            if rtp_h265.nal_type(nal) in (rtp_h265.NAL_VPS, rtp_h265.NAL_SPS, rtp_h265.NAL_PPS):
                parameter_sets.setdefault(rtp_h265.nal_type(nal), nal)
        frames.append(AccessUnit(tuple(rtp_h265.packetize(nals)), keyframe))
    if not frames or not frames[0].keyframe:
        raise VideoLoopError("the H.265 loop does not start with a keyframe")
    missing = {rtp_h265.NAL_VPS, rtp_h265.NAL_SPS, rtp_h265.NAL_PPS} - parameter_sets.keys()
    if missing:
        raise VideoLoopError(f"the H.265 loop lacks parameter sets of NAL types {sorted(missing)}")
    vps, sps, pps = (base64.b64encode(parameter_sets[t]).decode() for t in (32, 33, 34))
    fmtp = f"sprop-vps={vps};sprop-sps={sps};sprop-pps={pps}"
    return VideoTrack("H265", params.width, params.height, params.fps, fmtp, tuple(frames))


def _encode_h265(params: VideoParams) -> bytes:
    ctx = av.CodecContext.create("libx265", "w")
    ctx.width, ctx.height = params.width, params.height
    ctx.pix_fmt = "yuv420p"
    ctx.time_base = Fraction(1, params.fps)
    ctx.framerate = Fraction(params.fps, 1)
    ctx.bit_rate = params.bitrate
    # As the H.264 loop: no B-frames, a closed one-second GOP; repeat-headers puts
    # VPS/SPS/PPS before every IDR so a session can start at any keyframe.
    ctx.options = {
        "preset": "ultrafast",
        "tune": "zerolatency",
        "x265-params": f"keyint={params.fps}:min-keyint={params.fps}:scenecut=0:bframes=0:open-gop=0"
        ":repeat-headers=1:log-level=error:pools=1:frame-threads=1",
    }
    out = bytearray()
    packets = []
    for i in range(params.frames):
        rgb = render_frame(params.channel_index, i, params.frames, params.width, params.height)
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        packets += ctx.encode(frame)
    packets += ctx.encode(None)
    if len(packets) != params.frames:
        raise VideoLoopError(f"libx265 gave {len(packets)} packets for {params.frames} frames")
    for packet in packets:
        data = bytes(packet)
        out += _FRAME.pack(1 if packet.is_keyframe else 0, len(data)) + data
    return bytes(out)


def _unpack(blob: bytes) -> list[tuple[bool, bytes]]:
    """The cached H.265 loop: per frame a keyframe flag, a length and the Annex-B bytes."""
    frames, pos = [], 0
    while pos < len(blob):
        keyframe, size = _FRAME.unpack_from(blob, pos)
        pos += _FRAME.size
        frames.append((bool(keyframe), blob[pos : pos + size]))
        pos += size
    return frames
