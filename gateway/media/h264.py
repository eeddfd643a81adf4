"""H.264 bitstream helpers: avcC records, AVCC <-> Annex-B, SPS dimensions.

Sans-IO: bytes in, bytes and numbers out. fMP4 carries H.264 as AVCC (each NAL unit
prefixed by its length, ISO/IEC 14496-15 5.3.2) with SPS/PPS in the avcC box; RTP
packetizers (aiortc) and raw H.264 sinks want Annex-B (start codes, ITU-T H.264 B.1)
with SPS/PPS in band before each IDR.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

NAL_SLICE = 1
NAL_IDR = 5
NAL_SEI = 6
NAL_SPS = 7
NAL_PPS = 8
NAL_AUD = 9

START_CODE = b"\x00\x00\x00\x01"

# H.264 7.3.2.1.1: these profiles carry chroma_format_idc, bit depths and scaling lists in
# the SPS, and ISO/IEC 14496-15 5.3.3.1.2 adds the matching fields to the avcC record.
_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})
_AVCC_EXT_PROFILES = frozenset({100, 110, 122, 144})


class H264Error(ValueError):
    """The bytes are not valid H.264 of the kind expected (avcC, AVCC sample, SPS)."""


@dataclass(frozen=True)
class AvcConfig:
    """An AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1)."""

    profile: int
    compatibility: int
    level: int
    nal_length_size: int
    sps: tuple[bytes, ...]
    pps: tuple[bytes, ...]

    @property
    def codec_string(self) -> str:
        """RFC 6381 3.3 `avc1.PPCCLL`, uppercase hex as the WEP MPD writes it."""
        return f"avc1.{self.profile:02X}{self.compatibility:02X}{self.level:02X}"

    @property
    def profile_level_id(self) -> str:
        """RFC 6184 8.1 `profile-level-id` for SDP: profile_idc, constraint flags, level_idc."""
        return f"{self.profile:02x}{self.compatibility:02x}{self.level:02x}"


@dataclass(frozen=True)
class SpsInfo:
    """The few SPS fields the gateway needs (H.264 7.3.2.1.1)."""

    profile_idc: int
    constraint_flags: int
    level_idc: int
    chroma_format_idc: int
    bit_depth_luma: int
    bit_depth_chroma: int
    width: int
    height: int


def nal_type(nal: bytes) -> int:
    if not nal:
        raise H264Error("empty NAL unit has no type")
    return nal[0] & 0x1F


def parse_avcc(payload: bytes) -> AvcConfig:
    """Parse an avcC box payload (the record, without the 8-byte box header)."""
    if len(payload) < 7:
        raise H264Error(f"avcC record is {len(payload)} bytes, shorter than its 7-byte header")
    version, profile, compatibility, level, length_byte = payload[0], payload[1], payload[2], payload[3], payload[4]
    if version != 1:
        raise H264Error(f"avcC configurationVersion is {version}, expected 1")
    nal_length_size = (length_byte & 0x03) + 1
    if nal_length_size == 3:
        raise H264Error("avcC lengthSizeMinusOne is 2 (3-byte NAL lengths), not allowed")
    offset = 5
    sps, offset = _read_parameter_sets(payload, offset, payload[offset] & 0x1F, "SPS")
    if offset >= len(payload):
        raise H264Error("avcC record truncated before numOfPictureParameterSets")
    pps, offset = _read_parameter_sets(payload, offset + 1, payload[offset], "PPS")
    return AvcConfig(profile, compatibility, level, nal_length_size, sps, pps)


def _read_parameter_sets(payload: bytes, offset: int, count: int, name: str) -> tuple[tuple[bytes, ...], int]:
    if name == "SPS":
        offset += 1  # the count shares its byte with 3 reserved bits
    sets = []
    for _ in range(count):
        if offset + 2 > len(payload):
            raise H264Error(f"avcC record truncated in {name} length")
        (size,) = struct.unpack_from(">H", payload, offset)
        offset += 2
        if offset + size > len(payload) or size == 0:
            raise H264Error(f"avcC {name} of {size} bytes does not fit the record")
        sets.append(bytes(payload[offset : offset + size]))
        offset += size
    return tuple(sets), offset


def build_avcc(sps: bytes, pps: bytes) -> bytes:
    """An avcC record for one SPS and one PPS, with 4-byte NAL lengths."""
    if len(sps) < 4 or nal_type(sps) != NAL_SPS:
        raise H264Error("build_avcc needs an SPS NAL unit (type 7) of at least 4 bytes")
    if not pps or nal_type(pps) != NAL_PPS:
        raise H264Error("build_avcc needs a PPS NAL unit (type 8)")
    record = [
        bytes((1, sps[1], sps[2], sps[3], 0xFF, 0xE1)),
        struct.pack(">H", len(sps)),
        sps,
        b"\x01",
        struct.pack(">H", len(pps)),
        pps,
    ]
    if sps[1] in _AVCC_EXT_PROFILES:
        # ISO/IEC 14496-15 5.3.3.1.2: High profiles add chroma format and bit depths.
        info = parse_sps(sps)
        record.append(
            bytes(
                (
                    0xFC | info.chroma_format_idc,
                    0xF8 | (info.bit_depth_luma - 8),
                    0xF8 | (info.bit_depth_chroma - 8),
                    0,  # numOfSequenceParameterSetExt
                )
            )
        )
    return b"".join(record)


def avcc_to_annexb(sample: bytes, nal_length_size: int = 4) -> bytes:
    """Replace each NAL length prefix with a 4-byte start code."""
    return START_CODE + START_CODE.join(split_avcc(sample, nal_length_size))


def split_avcc(sample: bytes, nal_length_size: int = 4) -> list[bytes]:
    """The NAL units of a length-prefixed (AVCC) sample."""
    if nal_length_size not in (1, 2, 4):
        raise H264Error(f"NAL length size {nal_length_size} is not 1, 2 or 4")
    fmt = {1: ">B", 2: ">H", 4: ">I"}[nal_length_size]
    view = memoryview(sample)
    nals = []
    offset, end = 0, len(sample)
    while offset < end:
        if offset + nal_length_size > end:
            raise H264Error(f"AVCC sample truncated in a NAL length at {offset}")
        (size,) = struct.unpack_from(fmt, sample, offset)
        offset += nal_length_size
        if size == 0 or offset + size > end:
            raise H264Error(f"AVCC NAL of {size} bytes at {offset} does not fit the {end}-byte sample")
        nals.append(view[offset : offset + size].tobytes())
        offset += size
    return nals


def access_unit_nals(sample: bytes, config: AvcConfig, keyframe: bool) -> list[bytes]:
    """The NAL units of an AVCC sample, with SPS/PPS in band before an IDR.

    WebRTC receivers start decoding at an IDR only if SPS/PPS came with it (RFC 6184 8.4:
    parameter sets are not sent out of band here), so they go right before the first
    slice unless the sample already carries them.
    """
    nals = split_avcc(sample, config.nal_length_size)
    if keyframe and not any(nal[0] & 0x1F == NAL_SPS for nal in nals):
        for index, nal in enumerate(nals):
            if 1 <= nal[0] & 0x1F <= 5:
                nals[index:index] = [*config.sps, *config.pps]
                break
    return nals


_START_CODE_RE = re.compile(b"\x00\x00\x01")


def split_annexb(data: bytes) -> list[bytes]:
    """The NAL units between Annex-B start codes (3- or 4-byte), without the start codes."""
    starts = [m.end() for m in _START_CODE_RE.finditer(data)]
    nals = []
    for index, start in enumerate(starts):
        end = starts[index + 1] - 3 if index + 1 < len(starts) else len(data)
        # H.264 7.4.1: a NAL unit never ends in 0x00, so trailing zeros belong to the
        # next start code (the 4-byte form, or trailing_zero_8bits).
        nal = data[start:end].rstrip(b"\x00")
        if nal:
            nals.append(nal)
    return nals


def sps_dimensions(sps: bytes) -> tuple[int, int]:
    """Displayed width and height from an SPS NAL unit, after frame cropping."""
    info = parse_sps(sps)
    return info.width, info.height


def parse_sps(sps: bytes) -> SpsInfo:
    """Parse the SPS fields up to the frame cropping (H.264 7.3.2.1.1)."""
    if len(sps) < 4 or nal_type(sps) != NAL_SPS:
        raise H264Error("not an SPS NAL unit (type 7) of at least 4 bytes")
    profile_idc, constraint_flags, level_idc = sps[1], sps[2], sps[3]
    try:
        return _parse_sps_body(_BitReader(_unescape(sps[4:])), profile_idc, constraint_flags, level_idc)
    except _EndOfData:
        raise H264Error("SPS truncated before frame cropping fields") from None


def _parse_sps_body(bits: _BitReader, profile_idc: int, constraint_flags: int, level_idc: int) -> SpsInfo:
    bits.ue()  # seq_parameter_set_id
    chroma_format_idc, separate_colour_plane, depth_luma, depth_chroma = 1, 0, 8, 8
    if profile_idc in _HIGH_PROFILES:
        chroma_format_idc = bits.ue()
        if chroma_format_idc > 3:
            raise H264Error(f"SPS chroma_format_idc {chroma_format_idc} is out of range")
        if chroma_format_idc == 3:
            separate_colour_plane = bits.u(1)
        depth_luma = bits.ue() + 8
        depth_chroma = bits.ue() + 8
        bits.u(1)  # qpprime_y_zero_transform_bypass_flag
        if bits.u(1):  # seq_scaling_matrix_present_flag
            for index in range(8 if chroma_format_idc != 3 else 12):
                if bits.u(1):
                    _skip_scaling_list(bits, 16 if index < 6 else 64)
    bits.ue()  # log2_max_frame_num_minus4
    poc_type = bits.ue()
    if poc_type == 0:
        bits.ue()  # log2_max_pic_order_cnt_lsb_minus4
    elif poc_type == 1:
        bits.u(1)  # delta_pic_order_always_zero_flag
        bits.se()  # offset_for_non_ref_pic
        bits.se()  # offset_for_top_to_bottom_field
        cycle = bits.ue()
        if cycle > 255:
            raise H264Error(f"SPS num_ref_frames_in_pic_order_cnt_cycle {cycle} is over 255")
        for _ in range(cycle):
            bits.se()
    elif poc_type != 2:
        raise H264Error(f"SPS pic_order_cnt_type {poc_type} is out of range")
    bits.ue()  # max_num_ref_frames
    bits.u(1)  # gaps_in_frame_num_value_allowed_flag
    width_mbs = bits.ue() + 1
    height_map_units = bits.ue() + 1
    frame_mbs_only = bits.u(1)
    if not frame_mbs_only:
        bits.u(1)  # mb_adaptive_frame_field_flag
    bits.u(1)  # direct_8x8_inference_flag
    width = width_mbs * 16
    height = (2 - frame_mbs_only) * height_map_units * 16
    if bits.u(1):  # frame_cropping_flag
        left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
        # Table 6-1 and equations 7-19..7-22: crop units depend on chroma subsampling.
        chroma_array_type = 0 if separate_colour_plane else chroma_format_idc
        sub_width = 2 if chroma_array_type in (1, 2) else 1
        sub_height = 2 if chroma_array_type == 1 else 1
        crop_x = sub_width if chroma_array_type else 1
        crop_y = (sub_height if chroma_array_type else 1) * (2 - frame_mbs_only)
        width -= crop_x * (left + right)
        height -= crop_y * (top + bottom)
    if width <= 0 or height <= 0:
        raise H264Error(f"SPS gives a frame of {width}x{height}")
    return SpsInfo(profile_idc, constraint_flags, level_idc, chroma_format_idc, depth_luma, depth_chroma, width, height)


def _skip_scaling_list(bits: _BitReader, size: int) -> None:
    # H.264 7.3.2.1.1.1
    last, next_scale = 8, 8
    for _ in range(size):
        if next_scale:
            next_scale = (last + bits.se()) % 256
        last = next_scale or last


def _unescape(payload: bytes) -> bytes:
    """RBSP from a NAL payload: drop emulation_prevention_three_byte (H.264 7.4.1)."""
    return payload.replace(b"\x00\x00\x03", b"\x00\x00") if b"\x00\x00\x03" in payload else payload


class _EndOfData(Exception):
    pass


class _BitReader:
    """MSB-first bit reader with Exp-Golomb codes (H.264 9.1), over one big integer."""

    def __init__(self, data: bytes) -> None:
        self._value = int.from_bytes(data, "big")
        self._remaining = len(data) * 8

    def u(self, count: int) -> int:
        if count > self._remaining:
            raise _EndOfData
        self._remaining -= count
        return (self._value >> self._remaining) & ((1 << count) - 1)

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise H264Error("Exp-Golomb code longer than 32 bits in SPS")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        code = self.ue()
        return (code + 1) // 2 if code & 1 else -(code // 2)
