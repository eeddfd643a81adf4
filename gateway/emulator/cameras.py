"""The emulated cameras: stable opaque ids and the camera objects /cameras returns."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

SERVER_ID = "wepEmuServer0000000001"
SITE_ID = "wepEmuSite00000000000001"  # webhook messages' "siteId"


@dataclass(frozen=True, slots=True)
class Camera:
    index: int
    id: str  # opaque, ACC-like (base64url), stable across runs
    name: str
    has_speaker: bool
    has_audio: bool  # a microphone: webm/opus audio and an audio AdaptationSet
    has_ptz: bool = False  # takes the PTZ commands; its live picture follows them

    def to_json(self, verbosity: str) -> dict:
        """Guide /cameras: LOW without capabilities and links, MEDIUM adds capabilities,
        HIGH adds links too."""
        body = {
            "id": self.id,
            "name": self.name,
            "logicalId": self.index + 1,
            "model": "WEP-EMU-H264",
            "manufacturer": "wep-emulator",
            "serial": f"EMU{self.index:06d}",
            "firmwareVersion": "1.0.0",
            "ipAddress": f"192.0.2.{10 + self.index}",
            "serverId": SERVER_ID,
            "location": "emulator",
            "connectionState": "CONNECTED",
            "connected": True,
            "active": True,
            "recordingState": "RECORDING",
        }
        if verbosity in ("MEDIUM", "HIGH"):
            body["capabilities"] = {
                "audio": self.has_audio,
                "speaker": self.has_speaker,
                "ptz": self.has_ptz,
                "video": ["high", "low"],
            }
        if verbosity == "HIGH":
            body["links"] = {"media": f"/mt/api/rest/v1/media?cameraId={self.id}&format=mpd"}
        return body


def make_cameras(count: int, ptz_camera: int = 0) -> list[Camera]:
    """`count` cameras. With two or more, the last one is the "plain" camera with neither
    speaker nor microphone, so clients meet both kinds; a single camera has both. Camera
    `ptz_camera` (1-based; 0: none) is the PTZ one."""
    cameras = []
    for i in range(count):
        digest = hashlib.sha256(f"wep-emulator-camera-{i}".encode()).digest()
        camera_id = "4xIx" + base64.urlsafe_b64encode(digest).decode().rstrip("=")
        plain = count >= 2 and i == count - 1
        cameras.append(Camera(i, camera_id, f"Emulated camera {i + 1}", not plain, not plain, i + 1 == ptz_camera))
    return cameras
