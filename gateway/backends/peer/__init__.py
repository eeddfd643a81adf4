"""A cluster peer as an upstream: the node that owns a camera serves its hub as fMP4 on
`GET /internal/v1/live/{camera}/{quality}` (gateway/cluster/routes.py); the other nodes
read it here as a video feed, audio included, into their own hubs."""

from gateway.backends.peer.feed import PeerFeed, open_peer

__all__ = ["PeerFeed", "open_peer"]
