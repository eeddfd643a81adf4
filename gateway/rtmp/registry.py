"""The running pushes: created by the API, restored from the store at start-up.

A push is written to the store before it starts and before the API answers 201, and
removed from it before DELETE answers: what the store holds is what runs after a
restart. The store is this node's SQLite file (LocalPushBook: its writes fsync in a
thread), or in a cluster the shared one in Redis, where each push runs on the node that
holds its lease (`placement`, gateway/cluster/pushes.py) and the others show its state.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import time
from typing import TYPE_CHECKING

from gateway.logs import redactor
from gateway.media.sources import SourceRegistry
from gateway.rtmp.gateway_push import run_gateway_push
from gateway.rtmp.push import PushContext, push_view
from gateway.rtmp.state import Backoff, PushState
from gateway.rtmp.store import PushBook, PushSpec
from gateway.rtmp.supervisor import PushSupervisor
from gateway.rtmp.url import secrets_of
from gateway.rtmp.wep_push import run_wep_push, stop_wep_stream
from gateway.wep.client import WepClient

if TYPE_CHECKING:
    from gateway.cluster.leases import Lease
    from gateway.cluster.pushes import ClusterPushBook, PushPlacement

log = logging.getLogger("gateway.rtmp")

MAX_PUSHES = 64
WEP_STOP_TIMEOUT = 3.0


class TooManyPushes(Exception):
    pass


class PushRegistry:
    def __init__(
        self,
        store: PushBook,
        sources: SourceRegistry,
        wep: WepClient | None,  # None without a WEP backend: no push of mode "wep"
        backoff: Backoff | None = None,
        placement: PushPlacement | None = None,
    ):
        self._store = store
        self._sources = sources
        self._wep = wep
        self._backoff = backoff or Backoff()
        self._placement = placement
        self._pushes: dict[str, PushSupervisor] = {}
        self._leases: dict[str, Lease] = {}  # in a cluster: the lease of each push running here
        self._timers: dict[str, asyncio.TimerHandle] = {}  # timed pushes' ends
        self._claiming: asyncio.Task | None = None
        self._stopping: set[asyncio.Task] = set()
        if placement is not None:
            placement.on_deleted(self._deleted_elsewhere)

    async def restore(self) -> int:
        """Start every push the store holds (after a restart, crash or SIGKILL included);
        in a cluster, start claiming the pushes no live node runs, every second."""
        if self._placement is not None:
            self._claiming = asyncio.get_running_loop().create_task(
                self._placement.run(self.claim_round), name="push claims"
            )
            return 0
        specs = await self._store.all()
        for spec in specs:
            self._start(spec)
        if specs:
            log.info("restored %d push(es) from %s", len(specs), self._store.path)
        return len(specs)

    async def claim_round(self) -> None:
        """One round of the cluster's placement: run the pushes nobody holds, stop the ones
        deleted elsewhere, publish the states of the ones running here."""
        assert self._placement is not None
        specs = await self._store.all()
        known = {spec.id for spec in specs}
        for push_id in [push_id for push_id in self._pushes if push_id not in known]:
            self._deleted_elsewhere(push_id)
        for spec in specs:
            if spec.id in self._pushes or len(self._pushes) >= MAX_PUSHES:
                continue
            lease = await self._placement.claim(spec.id, functools.partial(self._lapsed, spec.id))
            if lease is not None and spec.id not in self._pushes:
                self._leases[spec.id] = lease
                log.info("push %s: running it on this node", spec.id, extra={"camera": spec.camera})
                self._start(spec)
        store = self._cluster_store()
        await store.publish_views({push_id: self.view_of(s.ctx) for push_id, s in self._pushes.items()})

    def _cluster_store(self) -> ClusterPushBook:
        from gateway.cluster.pushes import ClusterPushBook

        assert isinstance(self._store, ClusterPushBook)
        return self._store

    def _lapsed(self, push_id: str) -> None:
        """Redis stayed away past the push's lease: another node may run it now, so stop."""
        self._leases.pop(push_id, None)
        supervisor = self._pushes.pop(push_id, None)
        if supervisor is not None:
            self._cancel_timer(push_id)
            self._in_background(self._stop(supervisor, forget=False))

    def _deleted_elsewhere(self, push_id: str) -> None:
        supervisor = self._pushes.pop(push_id, None)
        if supervisor is None:
            return
        log.info("push %s: deleted through another node", push_id, extra={"camera": supervisor.ctx.spec.camera})
        self._cancel_timer(push_id)
        self._give_up_lease(push_id)
        self._in_background(self._stop(supervisor, forget=True))

    def _give_up_lease(self, push_id: str) -> None:
        lease = self._leases.pop(push_id, None)
        if lease is not None and self._placement is not None:
            self._placement.release(lease)

    def _in_background(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    def view_of(self, ctx: PushContext) -> dict:
        view = push_view(ctx)
        if self._placement is not None:
            view["node"] = self._placement.node_id
        return view

    async def view(self, push_id: str) -> dict | None:
        """The push's API view: from here if it runs here, else (cluster) as its node last told."""
        supervisor = self._pushes.get(push_id)
        if supervisor is not None:
            return self.view_of(supervisor.ctx)
        if self._placement is None:
            return None
        spec = await self._store.get(push_id)
        if spec is None:
            return None
        return (await self._cluster_store().views()).get(push_id) or self._unplaced(spec)

    async def views(self) -> list[dict]:
        if self._placement is None:
            return [self.view_of(supervisor.ctx) for supervisor in self._pushes.values()]
        specs = await self._store.all()
        published = await self._cluster_store().views()
        shown = []
        for spec in specs:
            supervisor = self._pushes.get(spec.id)
            if supervisor is not None:
                shown.append(self.view_of(supervisor.ctx))
            else:
                shown.append(published.get(spec.id) or self._unplaced(spec))
        return shown

    def _unplaced(self, spec: PushSpec) -> dict:
        """A push no node has reported yet (just created elsewhere, or being taken over)."""
        return {**push_view(PushContext(spec, self._sources, self._wep, _forget_nothing)), "node": None}

    async def create(
        self, camera: str, url: str, quality: str, media: str, mode: str, seconds: float | None = None
    ) -> PushContext:
        """A new push, saved before it starts; with `seconds`, it deletes itself then."""
        count = len(await self._store.all()) if self._placement is not None else len(self._pushes)
        if count >= MAX_PUSHES:
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
        await self._store.add(spec)
        if self._placement is not None:
            # The creating node runs it (a new id: its lease is free) unless Redis just went away;
            # then the claim rounds place it once Redis answers.
            lease = await self._placement.claim(spec.id, lambda: self._lapsed(spec.id))
            if lease is None:
                return PushContext(spec, self._sources, self._wep, _forget_nothing)
            self._leases[spec.id] = lease
        return self._start(spec).ctx

    def get(self, push_id: str) -> PushContext | None:
        supervisor = self._pushes.get(push_id)
        return supervisor.ctx if supervisor is not None else None

    def all(self) -> list[PushContext]:
        return [supervisor.ctx for supervisor in self._pushes.values()]

    async def delete(self, push_id: str) -> dict | None:
        """Remove and stop the push; its last view (state stopped), or None if unknown."""
        supervisor = self._pushes.get(push_id)
        if supervisor is None:
            if self._placement is None:
                return None
            spec = await self._store.get(push_id)  # running on another node, or on none yet
            if spec is None:
                return None
            last = await self.view(push_id) or self._unplaced(spec)
            await self._store.remove(push_id)
            await self._placement.deleted(push_id)
            return {**last, "state": PushState.STOPPED.value}
        await self._store.remove(push_id)
        if self._pushes.get(push_id) is supervisor:
            del self._pushes[push_id]
        self._cancel_timer(push_id)
        self._give_up_lease(push_id)
        await self._stop(supervisor, forget=True)
        return self.view_of(supervisor.ctx)

    async def close(self) -> None:
        """Shutdown: stop everything but keep the store, so the next start resumes them (in
        a cluster: another node, once the leases are given up)."""
        if self._claiming is not None:
            self._claiming.cancel()
            await asyncio.gather(self._claiming, return_exceptions=True)
        supervisors = list(self._pushes.values())
        self._pushes.clear()
        for push_id in list(self._timers):
            self._cancel_timer(push_id)
        await asyncio.gather(*(self._stop(supervisor, forget=False) for supervisor in supervisors))
        for push_id in list(self._leases):
            self._give_up_lease(push_id)
        if self._stopping:
            await asyncio.gather(*self._stopping, return_exceptions=True)

    def _start(self, spec: PushSpec) -> PushSupervisor:
        for secret in secrets_of(spec.url):
            redactor.add(secret)  # last line of defence for any log line that quotes it
        if spec.wep_session:
            # A previous process's WEP session, loaded from the store: as secret as the current one.
            redactor.add(spec.wep_session)

        async def remember(stream_id: str | None, session: str | None) -> None:
            if session:
                redactor.add(session)
            await self._store.set_wep_stream(spec.id, stream_id, session)

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
