"""Cluster mode ([cluster] redis_url): several gateway nodes share one view of the cameras
through Redis. node.py (connection, membership, the message channel), leases.py (one node
acts on a thing at a time), ownership.py (who pulls each camera), routes.py (the cluster
view and the peers' internal stream)."""
