"""Sans-IO fMP4 (ISO BMFF / CMAF): a streaming reader and a fragment writer."""

from .boxes import BoxError, Fmp4Error
from .model import Fragment, InitSegment, Sample, TrackInfo
from .reader import Fmp4Reader
from .writer import FragmentWriter, write_init_segment

__all__ = [
    "BoxError",
    "Fmp4Error",
    "Fmp4Reader",
    "Fragment",
    "FragmentWriter",
    "InitSegment",
    "Sample",
    "TrackInfo",
    "write_init_segment",
]
