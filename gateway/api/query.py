"""Numbers in query strings, paths and header values, read as ASCII only. Sans-IO.

`str.isdigit()` and `int()` accept far more than a URL's digits: `'²'.isdigit()` is true
and `int('²')` raises (the 500 of `?_HLS_msn=²`); `int('٣')` is 3, `int(' 1')`, `int('+1')`
and `int('1_0')` pass, and a 5000-digit number raises (CPython's int limit). URLs and HTTP
fields write numbers as DIGITs (RFC 5234 B.1: %x30-39), and nothing else is read as one here.

Every failure is a ParameterError naming the parameter; gateway/api/errors.py answers it 400.
Predicates for the sans-IO parsers that have their own errors (SDP, RTSP, the emulators).
"""

from __future__ import annotations

import re

_DECIMAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


class ParameterError(ValueError):
    """A request parameter with a value the gateway does not accept."""

    def __init__(self, parameter: str, message: str):
        super().__init__(message)
        self.parameter = parameter


def is_ascii_digits(text: str, most: int = 18) -> bool:
    """1*DIGIT, at most `most` of them: int() of it cannot raise, and is cheap."""
    return len(text) <= most and text.isascii() and text.isdigit()


def is_ascii_decimal(text: str) -> bool:
    """An optional '-', ASCII digits and at most one '.': no exponent, sign '+', space,
    '_', 'inf' or 'nan', all of which float() accepts."""
    return _DECIMAL.fullmatch(text) is not None


def ascii_int(text: str, name: str, low: int, high: int) -> int:
    """`text` as a whole number from `low` to `high` (low >= 0), or ParameterError."""
    if not is_ascii_digits(text, len(str(high))) or not low <= int(text) <= high:
        raise ParameterError(name, f"{name} must be a whole number from {low} to {high}")
    return int(text)
