"""The typed application key under which routes find the Emulator."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from gateway.emulator.server import Emulator

EMULATOR: web.AppKey[Emulator] = web.AppKey("wep_emulator")
BASE_PATH = "/mt/api/rest/v1"
