"""The cluster's routes: `GET /api/v1/cluster` (admin: the nodes, what each owns and
serves) and `GET /internal/v1/live/{camera}/{quality}` (peers, with `[cluster] secret`:
this node's hub as fMP4, for the nodes that read the camera from here)."""

from __future__ import annotations

import logging

from aiohttp import web

from gateway.api.errors import ApiError
from gateway.cluster.leases import ClusterUnavailable
from gateway.live.routes import stream_fmp4
from gateway.services import CAMERAS, CLUSTER, OWNERSHIP, SOURCES

log = logging.getLogger("gateway.cluster")


def _node(request: web.Request):
    node = request.app.get(CLUSTER)
    if node is None:
        raise ApiError(404, "not_clustered", "this gateway runs alone: [cluster] redis_url is not set")
    return node


async def cluster_view(request: web.Request) -> web.Response:
    node = _node(request)
    try:
        members = await node.members()
    except ClusterUnavailable:
        reason = node.readiness() or "Redis is unreachable"
        raise ApiError(503, "cluster_unavailable", reason, {"Retry-After": "2"}) from None
    return web.json_response({"node_id": node.node_id, "nodes": [member.public() for member in members]})


async def internal_live(request: web.Request) -> web.StreamResponse:
    """A peer reads a camera this node owns (or that nobody owns yet: this node's source
    claims it). A request for a camera another node owns is refused with 409, so two
    nodes never read from each other in a circle."""
    _node(request)
    camera, quality = await request.app[CAMERAS].quality(request.match_info["camera"], request.match_info["quality"])
    try:
        holder = await request.app[OWNERSHIP].holder(camera.id, quality)
    except ClusterUnavailable:
        holder = None  # Redis away: serve what is asked, as everything else keeps serving
    if holder is not None and holder != request.app[CLUSTER].node_id:
        raise ApiError(409, "not_owner", f"node {holder} owns this camera")
    with request.app[SOURCES].subscribe(camera.id, quality) as reader:
        return await stream_fmp4(request, reader, camera.id, capture_times=True)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/cluster", cluster_view)
    app.router.add_get("/internal/v1/live/{camera}/{quality}", internal_live)
