"""Fault injection for the next N /api/v1 calls (dologin included): an error status,
garbage with a 200, or a hang. One fault at a time: setting one replaces what is left of
the last."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

FAULT_KINDS = ("fail", "garbage", "hang")
GARBAGE_KINDS = ("html", "truncated", "shape")


@dataclass(frozen=True)
class Fault:
    kind: str  # "fail", "garbage" or "hang"
    status: int = 500  # fail
    garbage: str = "html"  # garbage: "html", "truncated" or "shape"
    seconds: float = 60.0  # hang: then the call is served as usual


def garbage_response(kind: str) -> web.Response:
    """A 200 a client cannot use: a proxy's HTML page, JSON cut short, or JSON of the wrong shape."""
    if kind == "html":
        return web.Response(text="<html><body><h1>Service temporarily unavailable</h1></body></html>",
                            content_type="text/html")  # fmt: skip
    if kind == "truncated":
        return web.Response(text='{"alerts": [{"guid": "', content_type="application/json")
    return web.json_response({"items": "unavailable", "count": "n/a"})


class Faults:
    def __init__(self) -> None:
        self._fault: Fault | None = None
        self._remaining = 0
        self.served = dict.fromkeys(FAULT_KINDS, 0)

    def set(self, count: int, fault: Fault) -> None:
        if count < 0:
            raise ValueError(f"count must be 0 or more, not {count}")
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {FAULT_KINDS}, not {fault.kind!r}")
        if fault.kind == "fail" and not 400 <= fault.status <= 599:
            raise ValueError(f"status must be 400..599, not {fault.status}")
        if fault.kind == "garbage" and fault.garbage not in GARBAGE_KINDS:
            raise ValueError(f"garbage kind must be one of {GARBAGE_KINDS}, not {fault.garbage!r}")
        if fault.kind == "hang" and fault.seconds <= 0:
            raise ValueError(f"seconds must be positive, not {fault.seconds}")
        self._fault, self._remaining = fault, count

    def take(self) -> Fault | None:
        """The fault for this call, or None to serve it."""
        if self._fault is None or self._remaining <= 0:
            return None
        self._remaining -= 1
        self.served[self._fault.kind] += 1
        return self._fault

    @property
    def remaining(self) -> int:
        return self._remaining
