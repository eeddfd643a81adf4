"""A WHIP talker built on aiortc: sends a generated tone as a sendonly opus track.

Used by the tests (a lighter peer than Chromium) and by bench/bench_talkdown.py (many
talkers per process).
"""

from __future__ import annotations

import asyncio
import fractions
import time
from urllib.parse import urljoin

import aiohttp
import av
import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack

RATE = 48000
TIME_BASE = fractions.Fraction(1, RATE)


def answered_ptime(answer: str) -> int:
    """The audio per packet the answer asks for (a=ptime, RFC 4566 6), as a browser reads
    it; 20 ms (what browsers send by default) when it says nothing."""
    for line in answer.splitlines():
        if line.startswith("a=ptime:") and line[8:].strip().isdigit():
            return int(line[8:])
    return 20


class ToneTrack(AudioStreamTrack):
    """A sine tone as real-time opus packets of `ptime_ms` (a browser honours the answer's
    a=ptime: tests/talkdown/test_chromium.py); `pause` stops the packets (a muted sender).

    The track encodes itself (libopus through PyAV, mono at 32 kb/s as browsers send
    speech) and hands aiortc encoded packets, which aiortc sends as they are: its own
    encoder only makes 20 ms frames.
    """

    def __init__(self, freq: float = 440.0, amplitude: float = 0.5):
        super().__init__()
        self._freq = freq
        self._amplitude = amplitude
        self._sent = 0  # samples
        self._start: float | None = None
        self._playing = asyncio.Event()
        self._playing.set()
        self._encoder: av.CodecContext | None = None
        self.ptime_ms = 20
        self.frames = 0  # packets sent

    @property
    def seconds(self) -> float:
        return self._sent / RATE

    def pause(self) -> None:
        """Send no more frames (like a sender whose RTP stopped), until resume()."""
        self._playing.clear()

    def resume(self) -> None:
        self._start = None
        self._playing.set()

    async def recv(self) -> av.Packet:
        samples = RATE * self.ptime_ms // 1000
        if self._encoder is None:
            self._encoder = av.CodecContext.create("libopus", "w")
            self._encoder.sample_rate, self._encoder.format, self._encoder.layout = RATE, "s16", "mono"
            self._encoder.bit_rate = 32000
            self._encoder.options = {"application": "voip", "frame_duration": str(self.ptime_ms)}
        while True:
            await self._playing.wait()
            if self._start is None:
                self._start = time.monotonic() - self._sent / RATE
            delay = self._start + self._sent / RATE - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            t = (self._sent + np.arange(samples)) / RATE
            pcm = (self._amplitude * np.sin(2 * np.pi * self._freq * t) * 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = RATE, self._sent, TIME_BASE
            packets = self._encoder.encode(frame)
            self._sent += samples
            if packets:  # libopus may hold the first frame back (its lookahead)
                packet = packets[0]
                packet.pts, packet.time_base = self._sent - samples, TIME_BASE
                self.frames += 1
                return packet


class WhipTalker:
    """POST an offer to /whip/{camera}/talk, send the tone, DELETE at the end."""

    def __init__(
        self, http: aiohttp.ClientSession, base_url: str, camera_id: str, freq: float = 440.0, path: str | None = None
    ):
        self._http = http
        self._base_url = base_url
        self.camera_id = camera_id
        self._path = path or f"/whip/{camera_id}/talk"
        self.track = ToneTrack(freq)
        self.pc = RTCPeerConnection()
        self.location: str | None = None
        self.connected = asyncio.Event()

        @self.pc.on("connectionstatechange")
        def _state() -> None:
            if self.pc.connectionState == "connected":
                self.connected.set()

    async def start(self) -> aiohttp.ClientResponse:
        """Offer and apply the answer; returns the gateway's response (201 expected)."""
        self.pc.addTransceiver(self.track, direction="sendonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        async with self._http.post(
            self._base_url + self._path, data=self.pc.localDescription.sdp, headers={"Content-Type": "application/sdp"}
        ) as response:
            answer = await response.text()
        if response.status == 201:
            self.location = urljoin(self._base_url + "/", response.headers["Location"])
            await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
            self.track.ptime_ms = answered_ptime(answer)
        else:
            await self.pc.close()
        response.answer_text = answer  # type: ignore[attr-defined]
        return response

    async def stop(self) -> int | None:
        """DELETE the session (status) and close the peer connection."""
        status = None
        if self.location is not None:
            async with self._http.delete(self.location) as response:
                status = response.status
            self.location = None
        await self.pc.close()
        return status
