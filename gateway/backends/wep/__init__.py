"""The ACC Web Endpoint as a backend; its client stays in gateway/wep/."""

from gateway.backends.wep.backend import WepBackend

__all__ = ["WepBackend"]
