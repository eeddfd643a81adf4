"""A gateway with access control on (the shared test config turns it off), and the
peers that prove a route really answers: SDP offers from aiortc, a WAV for talkdown."""

from __future__ import annotations

import contextlib
import dataclasses

import aiohttp
from aiortc import RTCPeerConnection

from gateway.config import Config
from tests.conftest import config_for
from tests.talkdown.audio import tone, wav_bytes
from tests.talkdown.whip_talker import ToneTrack

ADMIN_KEY = "admin-key-for-tests-0123456789"
TOKEN_SECRET = "token-secret-for-tests-0123456789abcdef"


def secure_config(emulator, **sections) -> Config:
    config = config_for(emulator, sources={"idle_close_after": 2.0, "stall_timeout": 3.0}, **sections)
    auth = dataclasses.replace(config.auth, viewer_auth=True, admin_key=ADMIN_KEY, token_secret=TOKEN_SECRET)
    return dataclasses.replace(config, auth=auth)


def admin_headers(key: str = ADMIN_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def mint(http: aiohttp.ClientSession, base: str, cameras: list[str], actions: list[str], ttl: int = 600) -> str:
    async with http.post(
        f"{base}/api/v1/tokens", json={"cameras": cameras, "actions": actions, "ttl": ttl}, headers=admin_headers()
    ) as response:
        assert response.status == 201, await response.text()
        return (await response.json())["token"]


@contextlib.asynccontextmanager
async def viewer_offer():
    """A real WHEP offer (recvonly H.264 video), and the peer connection to close."""
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    try:
        yield pc.localDescription.sdp
    finally:
        await pc.close()


@contextlib.asynccontextmanager
async def talker_offer():
    """A real WHIP offer: one sendonly opus microphone."""
    pc = RTCPeerConnection()
    pc.addTransceiver(ToneTrack(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    try:
        yield pc.localDescription.sdp
    finally:
        await pc.close()


def short_wav(seconds: float = 0.3) -> bytes:
    return wav_bytes(tone(seconds, 8000), 8000)
