"""Camera ownership: one node of the cluster pulls each (camera, quality) from its camera
system; the others read that node's hub (gateway/backends/peer/). The lease
`camera:<camera>:<quality>` says who, claimed by whichever node's source starts first.

A source holds its lease for its whole life, across upstream reconnects, and gives it up
when it closes (idle). Each connection asks anew: owner, pull from the backend; another
holder, read from it; a holder that died stops answering, its lease lapses, and the
next attempt of every reader takes it over (first come) or follows the new owner. While
Redis is away a node keeps pulling what it pulls, and a new source pulls from its backend
directly (a second WEP pull beats a black tile); once Redis answers, the leases sort it
out: a node that finds another owner moves to reading from it (`lease_moved`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp

from gateway.backends.base import Backend, UpstreamFailure, VideoFeed
from gateway.backends.peer import open_peer
from gateway.cluster.leases import ClusterUnavailable, Lease
from gateway.cluster.node import ClusterNode
from gateway.media.fmp4 import Fragment, InitSegment

log = logging.getLogger("gateway.cluster")

# How often a pull that started while Redis was away tries to claim its lease.
UNLEASED_RETRY_S = 2.0


def lease_name(camera_id: str, quality: str) -> str:
    return f"camera:{camera_id}:{quality}"


class _LeasedFeed:
    """The backend's feed while this node owns the camera: it ends (`lease_moved`) as
    soon as Redis names another owner, so two nodes never both pull for long. A feed opened
    while Redis was away (no lease) claims its lease once Redis answers again, or ends if
    another node took the camera meanwhile."""

    carries_audio = False

    def __init__(self, feed: VideoFeed, lease: Lease | None, claim: Callable[[], Awaitable[Lease | None]]):
        self._feed = feed
        self._lease = lease
        self._claim = claim

    async def events(self) -> AsyncIterator[InitSegment | Fragment]:
        lease = self._lease
        next_claim = time.monotonic() + UNLEASED_RETRY_S
        async for event in self._feed.events():
            if lease is None and time.monotonic() >= next_claim:
                next_claim = time.monotonic() + UNLEASED_RETRY_S
                try:
                    lease = await self._claim()
                except ClusterUnavailable:
                    pass  # still away: go on pulling
                else:
                    if lease is None:
                        raise UpstreamFailure("lease_moved", "another node took this camera while Redis was away")
            if lease is not None and lease.moved.is_set():
                raise UpstreamFailure("lease_moved", "another node owns this camera now")
            yield event


class CameraOwnership:
    def __init__(self, node: ClusterNode, secret: str):
        self._node = node
        self._secret = secret
        self._leases: dict[tuple[str, str], Lease] = {}
        self._session: aiohttp.ClientSession | None = None
        self._unleased_warned: set[tuple[str, str]] = set()

    def owned(self) -> list[tuple[str, str]]:
        """The (camera, quality) pairs this node pulls from their backends under a lease."""
        return sorted(key for key, lease in self._leases.items() if lease.held())

    async def holder(self, camera_id: str, quality: str) -> str | None:
        """The owning node's id (None: nobody); ClusterUnavailable without Redis."""
        return await self._node.leases.holder(lease_name(camera_id, quality))

    def forget(self, camera_id: str, quality: str) -> None:
        """The source closed: give its lease up, so the next owner needs not wait."""
        lease = self._leases.pop((camera_id, quality), None)
        if lease is not None:
            self._node.leases.release(lease)

    async def _claim(self, camera_id: str, quality: str) -> tuple[Lease | None, str | None]:
        """(lease, None) to pull here, (None, owner url) to read from the owner; (None,
        None) without Redis: pull here, unleased."""
        key = (camera_id, quality)
        name = lease_name(camera_id, quality)
        try:
            lease = await self._take(camera_id, quality)
            if lease is not None:
                return lease, None
            holder = await self._node.leases.holder(name)
            url = await self._node.url_of(holder) if holder else None
        except ClusterUnavailable:
            if key not in self._unleased_warned:
                self._unleased_warned.add(key)
                log.warning(
                    "cluster: Redis unreachable, pulling %s from the camera system without a lease",
                    quality,
                    extra={"camera": camera_id},
                )
            return None, None
        if url is None:
            # Held by a node that left the member list (dying): its lease lapses soon.
            raise UpstreamFailure("owner_gone", f"the owning node {holder or '?'} is gone; waiting for its lease")
        return None, url

    async def _take(self, camera_id: str, quality: str) -> Lease | None:
        """The camera's lease for this node, recorded (None: another node holds it)."""
        key = (camera_id, quality)
        lease = await self._node.leases.acquire(lease_name(camera_id, quality), retake=True)
        if lease is None:
            self._leases.pop(key, None)
        else:
            self._leases[key] = lease
            self._unleased_warned.discard(key)
        return lease

    async def _claim_unleased(self, camera_id: str, quality: str) -> Lease | None:
        """A pull that started without Redis takes its lease (None: another node has it)."""
        lease = await self._take(camera_id, quality)
        if lease is not None:
            log.info("cluster: Redis is back, %s pulled under a lease again", quality, extra={"camera": camera_id})
        return lease

    @contextlib.asynccontextmanager
    async def open_video(
        self, backend: Backend, camera_id: str, quality: str, stall_timeout: float
    ) -> AsyncIterator[VideoFeed]:
        lease, owner_url = await self._claim(camera_id, quality)
        if owner_url is None:
            async with backend.open_video(camera_id, quality, stall_timeout) as feed:
                yield _LeasedFeed(feed, lease, functools.partial(self._claim_unleased, camera_id, quality))
            return
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with open_peer(self._session, owner_url, self._secret, camera_id, quality, stall_timeout) as feed:
            yield feed

    async def close(self) -> None:
        for key in list(self._leases):
            self.forget(*key)
        if self._session is not None:
            await self._session.close()
