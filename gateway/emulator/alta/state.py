"""The typed keys under which routes find the AltaEmulator and the caller's login."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from gateway.emulator.alta.emulator import AltaEmulator

ALTA: web.AppKey[AltaEmulator] = web.AppKey("alta_emulator")
USER = web.RequestKey("alta_user", str)  # the username of the session cookie
