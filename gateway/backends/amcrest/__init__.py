"""Amcrest/Dahua cameras attached directly: RTSP video and audio, CGI snapshots, PTZ,
speaker and events."""

from gateway.backends.amcrest.backend import AmcrestBackend

__all__ = ["AmcrestBackend"]
