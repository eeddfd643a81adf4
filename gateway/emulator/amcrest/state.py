"""The typed application key under which routes find the AmcrestEmulator."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from gateway.emulator.amcrest.emulator import AmcrestEmulator

AMCREST: web.AppKey[AmcrestEmulator] = web.AppKey("amcrest_emulator")
