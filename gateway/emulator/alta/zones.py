"""Alarm zones: named groups of devices, armed or disarmed (a disarmed zone raises nothing)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gateway.emulator.alta.errors import NotFound
from gateway.emulator.alta.settings import ZoneSpec


@dataclass(frozen=True)
class Device:
    id: int
    name: str


@dataclass
class Zone:
    id: int
    name: str
    devices: tuple[Device, ...]
    armed: bool = True

    def device(self, device_id: int | str | None) -> Device:
        """The zone's device `device_id` (int or its string), its first one for None."""
        if device_id is None:
            return self.devices[0]
        for device in self.devices:
            if str(device.id) == str(device_id):
                return device
        raise NotFound(f"alarm zone {self.id} has no device {device_id}")


class ZoneBook:
    def __init__(self, specs: Iterable[ZoneSpec]):
        self._zones = {
            spec.id: Zone(spec.id, spec.name, tuple(Device(d.id, d.name) for d in spec.devices), spec.armed)
            for spec in specs
        }

    def all(self) -> list[Zone]:
        return list(self._zones.values())

    def get(self, zone_id: int | str) -> Zone:
        """By id, as a number or its string (a path segment, a JSON list of either)."""
        for zone in self._zones.values():
            if str(zone.id) == str(zone_id):
                return zone
        raise NotFound(f"no alarm zone {zone_id}")

    def set_armed(self, zone_ids: Iterable[int | str], armed: bool) -> list[Zone]:
        """Arm or disarm every zone named; NotFound (and nothing changed) if one is unknown."""
        zones = [self.get(zone_id) for zone_id in zone_ids]
        for zone in zones:
            zone.armed = armed
        return zones
