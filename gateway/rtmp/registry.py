"""The running pushes: created by the API, restored from the store at start-up.

A push is written to the store before it starts and before the API answers 201, and
removed from it before DELETE answers: what the store holds is what runs after a
restart. Store calls fsync, so they go to a thread.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time

from gateway.logs import redactor
from gateway.media.sources import SourceRegistry
from gateway.rtmp.gateway_push import run_gateway_push
from gateway.rtmp.push import PushContext
from gateway.rtmp.state import Backoff
from gateway.rtmp.store import PushSpec, PushStore
from gateway.rtmp.supervisor import PushSupervisor
from gateway.rtmp.url import secrets_of
from gateway.rtmp.wep_push import run_wep_push, stop_wep_stream
from gateway.wep.client import WepClient

log = logging.getLogger("gateway.rtmp")

MAX_PUSHES = 64
WEP_STOP_TIMEOUT = 3.0


class TooManyPushes(Exception):
    pass


class PushRegistry:
    def __init__(self, store: PushStore, sources: SourceRegistry, wep: WepClient, backoff: Backoff | None = None):
        self._store = store
        self._sources = sources
        self._wep = wep
        self._backoff = backoff or Backoff()
        self._pushes: dict[str, PushSupervisor] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}  # timed pushes' ends

    async def restore(self) -> int:
        """Start every push the store holds (after a restart, crash or SIGKILL included)."""
        specs = await asyncio.to_thread(self._store.all)
        for spec in specs:
            self._start(spec)
        if specs:
            log.info("restored %d push(es) from %s", len(specs), self._store.path)
        return len(specs)

    async def create(
        self, camera: str, url: str, quality: str, media: str, mode: str, seconds: float | None = None
    ) -> PushContext:
        """A new push, saved before it starts; with `seconds`, it deletes itself then."""
        if len(self._pushes) >= MAX_PUSHES:
            raise TooManyPushes(f"at most {MAX_PUSHES} pushes")
        now = time.time()
        spec = PushSpec(
            secrets.token_hex(6),
            camera,
            url,
            quality,
            media,
            mode,
            now,
            stop_at=None if seconds is None else now + seconds,
        )
        await asyncio.to_thread(self._store.add, spec)
        return self._start(spec).ctx

    def get(self, push_id: str) -> PushContext | None:
        supervisor = self._pushes.get(push_id)
        return supervisor.ctx if supervisor is not None else None

    def all(self) -> list[PushContext]:
        return [supervisor.ctx for supervisor in self._pushes.values()]

    async def delete(self, push_id: str) -> PushContext | None:
        supervisor = self._pushes.get(push_id)
        if supervisor is None:
            return None
        await asyncio.to_thread(self._store.remove, push_id)
        del self._pushes[push_id]
        self._cancel_timer(push_id)
        await self._stop(supervisor, forget=True)
        return supervisor.ctx

    async def close(self) -> None:
        """Shutdown: stop everything but keep the store, so the next start resumes them."""
        supervisors = list(self._pushes.values())
        self._pushes.clear()
        for push_id in list(self._timers):
            self._cancel_timer(push_id)
        await asyncio.gather(*(self._stop(supervisor, forget=False) for supervisor in supervisors))

    def _start(self, spec: PushSpec) -> PushSupervisor:
        for secret in secrets_of(spec.url):
            redactor.add(secret)  # last line of defence for any log line that quotes it
        if spec.wep_session:
            # A previous process's WEP session, loaded from the store: as secret as the current one.
            redactor.add(spec.wep_session)

        async def remember(stream_id: str | None, session: str | None) -> None:
            if session:
                redactor.add(session)
            await asyncio.to_thread(self._store.set_wep_stream, spec.id, stream_id, session)

        ctx = PushContext(spec, self._sources, self._wep, remember)
        attempt = run_wep_push if spec.mode == "wep" else run_gateway_push
        supervisor = PushSupervisor(ctx, attempt, self._backoff)
        self._pushes[spec.id] = supervisor
        supervisor.start()
        if spec.stop_at is not None:
            # Past due (the gateway was down when it should have ended): started, so a WEP
            # stream left behind is found and stopped, then deleted at once.
            loop = asyncio.get_running_loop()
            delay = max(0.0, spec.stop_at - time.time())
            self._timers[spec.id] = loop.call_later(delay, lambda: loop.create_task(self._expire(spec.id)))
        return supervisor

    async def _expire(self, push_id: str) -> None:
        self._timers.pop(push_id, None)
        supervisor = self._pushes.get(push_id)
        if supervisor is None:
            return
        log.info("push %s: its time is up", push_id, extra={"camera": supervisor.ctx.spec.camera})
        try:
            await self.delete(push_id)
        except Exception:  # the store: it stays and is tried again at the next start
            log.exception("push %s could not be ended", push_id, extra={"camera": supervisor.ctx.spec.camera})

    def _cancel_timer(self, push_id: str) -> None:
        timer = self._timers.pop(push_id, None)
        if timer is not None:
            timer.cancel()

    async def _stop(self, supervisor: PushSupervisor, *, forget: bool) -> None:
        await supervisor.stop()
        ctx = supervisor.ctx
        if ctx.spec.mode != "wep" or ctx.wep_stream_id is None:
            return
        if not forget:
            # Keep the id and its session in the store: the next process stops it (again,
            # harmlessly) before starting; the stop below may not reach WEP.
            ctx.remember_wep_stream = _forget_nothing
        try:
            async with asyncio.timeout(WEP_STOP_TIMEOUT):
                await stop_wep_stream(ctx)
        except TimeoutError:
            log.info("push %s: WEP did not answer the stop in time", ctx.spec.id, extra={"camera": ctx.spec.camera})


async def _forget_nothing(stream_id: str | None, session: str | None) -> None:
    return None
