"""Limits applied to every request, after access control (so strangers take no slot):

- declared body size (Content-Length) over `[limits] max_body_bytes` (or
  `max_upload_bytes` for audio uploads): 413 before the handler reads anything. Chunked
  bodies are bounded where they are read (aiohttp's client_max_size, the handlers' caps);
- viewer slots (ledger.py): over a limit, 503 with Retry-After at once;
- `request_timeout` until the response headers go out (`on_response_prepare` lifts it,
  so a stream runs on): 503 with Retry-After instead of a request that hangs.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable

from aiohttp import web
from yarl import URL

from gateway.api.errors import ApiError
from gateway.auth.middleware import RULE, TOKEN
from gateway.auth.policy import Access, Rule
from gateway.config import LimitsConfig
from gateway.limits.deadlines import Deadline, Deadlines
from gateway.limits.ledger import OverLimit, Slot, ViewerLedger

log = logging.getLogger("gateway.limits")

DEADLINE = web.RequestKey("deadline", Deadline)
LEDGER = web.AppKey("viewer_ledger", ViewerLedger)

SessionProbe = Callable[[str], bool]  # session id -> still alive


class Traffic:
    """Plain counters of answered requests (read by the metrics collector)."""

    def __init__(self) -> None:
        self.bytes_out: Counter[tuple[str, str]] = Counter()  # (camera, protocol), bodies of < 400 answers
        self.timeouts: Counter[str] = Counter()  # by protocol ("" outside the media routes)
        self.too_large: int = 0


TRAFFIC = web.AppKey("traffic", Traffic)


STREAMED = web.RequestKey("streamed", web.StreamResponse)


async def lift_deadline(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: the headers are going out; a stream may run as long as it likes."""
    deadline = request.get(DEADLINE)
    if deadline is not None:
        deadline.lift()
    request[STREAMED] = response  # a stream that ends in an exception is still counted


def _body_bytes(response: web.StreamResponse) -> int:
    if not response.prepared:
        return len(getattr(response, "body", None) or b"")
    if response.body_length:
        return response.body_length
    # A stream the client cut never reaches write_eof(), where aiohttp sets body_length;
    # its writer still knows what went out (headers included: a few hundred bytes).
    return getattr(getattr(response, "_payload_writer", None), "output_size", 0)


def session_probes(app: web.Application) -> dict[str, SessionProbe]:
    """Whether a WHEP or talk session still exists, by the id its Location ends with."""
    from gateway.talkdown.routes import TALK_SESSIONS
    from gateway.webrtc.routes import WHEP_SESSIONS

    def probe(key: web.AppKey) -> SessionProbe:
        return lambda session_id: key in app and app[key].get(session_id) is not None

    return {"webrtc": probe(WHEP_SESSIONS), "talk": probe(TALK_SESSIONS)}


def prune_sessions(ledger: ViewerLedger, probes: dict[str, SessionProbe]) -> None:
    # Sessions also end without a DELETE (ICE failure, idle microphone, shutdown).
    for location, slot in ledger.sessions():
        probe = probes.get(slot.protocol)
        if probe is not None and not probe(location.rsplit("/", 1)[-1]):
            ledger.give_back(slot)


def current_viewers(ledger: ViewerLedger, probes: dict[str, SessionProbe]) -> dict[tuple[str, str], int]:
    prune_sessions(ledger, probes)
    return ledger.viewers()


def viewers_by_camera(ledger: ViewerLedger, probes: dict[str, SessionProbe]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for (camera, _), n in current_viewers(ledger, probes).items():
        counts[camera] = counts.get(camera, 0) + n
    return counts


def limits_middleware(config: LimitsConfig, ledger: ViewerLedger, traffic: Traffic, probes: dict[str, SessionProbe]):
    retry_after = {"Retry-After": str(config.retry_after)}
    deadlines = Deadlines(config.request_timeout)

    async def answer(request: web.Request, handler, rule: Rule) -> web.StreamResponse:
        if rule.long:
            return await handler(request)
        deadline = deadlines.start()
        request[DEADLINE] = deadline
        try:
            response = await handler(request)
        except BaseException as exc:
            if not deadline.owns(exc):
                raise
            traffic.timeouts[rule.protocol or ""] += 1
            assert request.match_info.route.resource is not None  # the rule was found by its route
            log.warning(
                "no answer within %.0fs on %s %s",
                config.request_timeout,
                request.method,
                request.match_info.route.resource.canonical,
            )
            raise ApiError(503, "timeout", "the gateway could not answer in time", retry_after) from None
        finally:
            # A Response returned here is sent later: nothing left to lift then.
            deadline.lift()
            del request[DEADLINE]
        deadline.settle()
        return response

    async def viewer(request: web.Request, handler, rule: Rule, camera: str) -> web.StreamResponse:
        hold = rule.hold
        if hold == "player":
            key = request.get(TOKEN) or request.remote or ""
            new = ledger.player_seen(camera, key)
            try:
                response = await answer(request, handler, rule)
            except BaseException:
                if new:
                    ledger.forget_player(camera, key)
                raise
            if new and response.status >= 400:
                ledger.forget_player(camera, key)
            return response
        if hold == "session":
            prune_sessions(ledger, probes)
        assert rule.protocol is not None  # every rule with a hold names its protocol (auth/policy.py)
        slot: Slot = ledger.take(camera, rule.protocol)
        try:
            response = await answer(request, handler, rule)
        except BaseException:
            ledger.give_back(slot)
            raise
        location = response.headers.get("Location")
        if hold == "session" and response.status == 201 and location:
            ledger.bind(slot, URL(location).path)
        else:
            ledger.give_back(slot)  # a request slot, or a session that was not created
        return response

    @web.middleware
    async def middleware(request: web.Request, handler):
        rule: Rule | None = request.get(RULE)
        if rule is None:
            return await handler(request)
        length = request.content_length
        limit = config.max_upload_bytes if rule.upload else config.max_body_bytes
        if length is not None and length > limit:
            traffic.too_large += 1
            raise ApiError(413, "too_large", f"the body is larger than {limit} bytes")
        camera = request.match_info.get("camera")
        response = None
        try:
            if rule.hold is not None and camera is not None:
                response = await viewer(request, handler, rule, camera)
            else:
                response = await answer(request, handler, rule)
        except OverLimit as exc:
            raise ApiError(503, "too_many_viewers", str(exc), retry_after) from None
        finally:
            answered = response if response is not None else request.get(STREAMED)
            if camera is not None and rule.protocol and answered is not None and answered.status < 400:
                # At the end of the answer: a long stream adds its bytes when it ends.
                traffic.bytes_out[camera, rule.protocol] += _body_bytes(answered)
        if rule.access is Access.SESSION and request.method == "DELETE" and response.status < 300:
            ledger.end_session(request.path)
        return response

    return middleware
