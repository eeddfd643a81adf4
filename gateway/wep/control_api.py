"""WEP's camera commands (guide, "Web Endpoint API Routes"): PTZ continuous and field of
view (`PUT /camera/commands/pan-tilt-zoom`), presets (`GET /camera/ptz/preset`,
`PUT /camera/commands/preset`, `.../preset/home`), digital outputs (`GET /entities`,
`PUT /camera/commands/trigger-digital-output`), on the shared client.

The guide documents the answers as "string" and its preset body example names the field
`patternId` (copied from the pattern route): answers are read tolerantly, and a preset
command carries the number under both names.
"""

from __future__ import annotations

from typing import Any

from gateway.wep.answers import WepCall
from gateway.wep.client import WepClient
from gateway.wep.errors import WepUnavailable

# fieldOfView takes "any unit ... as long as it is consistent": a 10000-unit panel.
PANEL = 10000


def panel_span(low: float, high: float) -> tuple[int, int]:
    """Start and size in panel units of [low, high] (normalised, low < high): at least one
    unit, inside the panel. A region finer than a unit would round to a zero-sized ROI, which
    WEP refuses (400): the smallest region it takes is as close as the panel can say."""
    start = min(round(low * PANEL), PANEL - 1)
    return start, max(round(high * PANEL), start + 1) - start


class WepControlApi:
    def __init__(self, client: WepClient):
        self.client = client

    async def _put(self, path: str, route: str, body: dict, camera_id: str) -> None:
        call = WepCall("PUT", path, route, body=body, session_in_query=False, session_in_body=True, camera_id=camera_id)
        await self.client.call(call, result=False)

    async def continuous(self, camera_id: str, pan: float, tilt: float, zoom: float) -> None:
        """START a continuous move: "The last call will continue until another START or STOP"."""
        await self._put(
            "/camera/commands/pan-tilt-zoom",
            "ptz.continuous",
            {
                "id": camera_id,
                "continuous": {"panAmount": pan, "tiltAmount": tilt, "zoomAmount": zoom, "action": "START"},
            },
            camera_id,
        )

    async def stop(self, camera_id: str) -> None:
        await self._put(
            "/camera/commands/pan-tilt-zoom",
            "ptz.continuous",
            {"id": camera_id, "continuous": {"panAmount": 0, "tiltAmount": 0, "zoomAmount": 0, "action": "STOP"}},
            camera_id,
        )

    async def center(self, camera_id: str, x: float, y: float) -> None:
        field_of_view = {
            "imagePanelSize": {"width": PANEL, "height": PANEL},
            "point": {"x": round(x * PANEL), "y": round(y * PANEL)},
        }
        await self._put(
            "/camera/commands/pan-tilt-zoom", "ptz.fov", {"id": camera_id, "fieldOfView": field_of_view}, camera_id
        )

    async def zoom_to(self, camera_id: str, roi: tuple[float, float, float, float]) -> None:
        left, top, right, bottom = roi
        (x, width), (y, height) = panel_span(left, right), panel_span(top, bottom)
        field_of_view = {
            "imagePanelSize": {"width": PANEL, "height": PANEL},
            "ROI": {"x": x, "y": y, "width": width, "height": height},
        }
        await self._put(
            "/camera/commands/pan-tilt-zoom", "ptz.fov", {"id": camera_id, "fieldOfView": field_of_view}, camera_id
        )

    async def presets(self, camera_id: str) -> list[tuple[int, str]]:
        result = await self.client.call(
            WepCall("GET", "/camera/ptz/preset", "ptz.presets", (("id", camera_id),), camera_id=camera_id)
        )
        items = result.get("presets") if isinstance(result, dict) else result
        if not isinstance(items, list):
            raise WepUnavailable(502, None, "BAD_RESPONSE", "GET /camera/ptz/preset: result has no preset list")
        presets = []
        for item in items:
            number = _number(item.get("id", item.get("presetId")) if isinstance(item, dict) else item)
            if number is not None:
                name = item.get("name") if isinstance(item, dict) else None
                presets.append((number, str(name) if name else f"Preset {number}"))
        return sorted(presets)

    async def goto_preset(self, camera_id: str, preset: int) -> None:
        await self._put(
            "/camera/commands/preset",
            "ptz.preset",
            {"id": camera_id, "presetId": preset, "patternId": preset},
            camera_id,
        )

    async def home(self, camera_id: str) -> None:
        await self._put("/camera/commands/preset/home", "ptz.home", {"id": camera_id}, camera_id)

    async def entities(self) -> list[dict]:
        result = await self.client.call(WepCall("GET", "/entities", "entities"))
        items = result.get("entities") if isinstance(result, dict) else result
        if not isinstance(items, list):
            raise WepUnavailable(502, None, "BAD_RESPONSE", "GET /entities: result has no entity list")
        return [item for item in items if isinstance(item, dict)]

    async def trigger_output(self, entity_id: str, toggle: bool, camera_id: str) -> None:
        """One digital output by its entity id: toggled, or triggered (a momentary pulse)."""
        await self._put(
            "/camera/commands/trigger-digital-output",
            "output.trigger",
            {"entityId": entity_id, "isToggle": toggle},
            camera_id,
        )


def _number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None
