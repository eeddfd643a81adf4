"""PTZ and digital outputs of WEP cameras, through gateway/wep/control_api.py.

Outputs: WEP triggers an output entity (`GET /entities`) either as a toggle or as a
momentary trigger (`isToggle`). The gateway's `on`/`off` read the entity's state and toggle
only when it differs; `pulse` is the momentary trigger. Output `n` is the camera's n-th
digital output entity as WEP lists them.
"""

from __future__ import annotations

from typing import Any

from gateway.backends.base import OutputState, Preset, PtzVector, UpstreamFailure
from gateway.wep.control_api import WepControlApi

_ON = {"ON", "ACTIVE", "TRUE", "HIGH", "CLOSED"}
_OFF = {"OFF", "INACTIVE", "FALSE", "LOW", "OPEN"}


class WepCameraControl:
    def __init__(self, api: WepControlApi):
        self._api = api

    async def move(self, camera_id: str, vector: PtzVector) -> None:
        if vector.still:
            await self._api.stop(camera_id)
        else:
            await self._api.continuous(camera_id, vector.pan, vector.tilt, vector.zoom)

    async def stop(self, camera_id: str) -> None:
        await self._api.stop(camera_id)

    async def center(self, camera_id: str, x: float, y: float) -> None:
        await self._api.center(camera_id, x, y)

    async def zoom_to(self, camera_id: str, roi: tuple[float, float, float, float]) -> None:
        await self._api.zoom_to(camera_id, roi)

    async def presets(self, camera_id: str) -> list[Preset]:
        return [Preset(number, name) for number, name in await self._api.presets(camera_id)]

    async def goto_preset(self, camera_id: str, preset: int) -> None:
        await self._api.goto_preset(camera_id, preset)

    async def home(self, camera_id: str) -> None:
        await self._api.home(camera_id)

    async def set_output(self, camera_id: str, output: int, state: OutputState) -> None:
        outputs = [entity for entity in await self._api.entities() if _is_output_of(entity, camera_id)]
        if not 1 <= output <= len(outputs):
            raise UpstreamFailure(
                "not_found", f"camera {camera_id!r} has no digital output {output} (it has {len(outputs)})", 404
            )
        entity = outputs[output - 1]
        entity_id = str(entity.get("id") or entity.get("entityId"))
        if state is OutputState.PULSE:
            await self._api.trigger_output(entity_id, False, camera_id)
            return
        current = _state_of(entity)
        if current is None:
            raise UpstreamFailure(
                "unknown_state",
                f"camera {camera_id!r} output {output}: WEP does not say whether "
                "it is on, so it cannot be set (pulse works)",
                409,
            )
        if current != (state is OutputState.ON):
            await self._api.trigger_output(entity_id, True, camera_id)


def _is_output_of(entity: dict[str, Any], camera_id: str) -> bool:
    kind = str(entity.get("type") or entity.get("entityType") or entity.get("kind") or "").upper()
    if "OUTPUT" not in kind:
        return False
    linked = entity.get("cameraId") or entity.get("linkedCameraId") or entity.get("deviceId")
    many = entity.get("linkedCameraIds") or entity.get("cameraIds")
    return linked == camera_id or (isinstance(many, list) and camera_id in many)


def _state_of(entity: dict[str, Any]) -> bool | None:
    for key in ("active", "isActive", "on"):
        if isinstance(entity.get(key), bool):
            return entity[key]
    state = str(entity.get("state") or entity.get("status") or "").upper()
    return True if state in _ON else False if state in _OFF else None
