"""A bare RTSP client for protocol-level checks (status codes, headers); the real-peer
tests use ffprobe/ffmpeg instead."""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass

from gateway.emulator.amcrest.rtsp_framing import render_request


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


class RtspClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, username: str, password: str):
        self.reader, self.writer = reader, writer
        self.username, self.password = username, password
        self.cseq = 0
        self.challenge: dict[str, str] | None = None
        self.frames: list[tuple[int, bytes]] = []  # interleaved frames read while waiting for responses

    @classmethod
    async def connect(cls, port: int, username: str = "", password: str = "") -> RtspClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer, username, password)

    def close(self) -> None:
        self.writer.close()

    async def request(self, method: str, uri: str, headers: list[tuple[str, str]] = (), auth: bool = True) -> Response:
        self.cseq += 1
        headers = [("CSeq", str(self.cseq)), *headers]
        if auth and self.challenge is not None:
            headers.append(("Authorization", self._authorization(method, uri)))
        self.writer.write(render_request(method, uri, headers))
        response = await self.read_response()
        assert response.headers["cseq"] == str(self.cseq)
        if response.status == 401 and auth and self.challenge is None:
            value = response.headers["www-authenticate"]
            self.challenge = dict(re.findall(r'(\w+)="([^"]*)"', value))
            return await self.request(method, uri, headers[1:], auth)
        return response

    def _authorization(self, method: str, uri: str) -> str:
        realm, nonce = self.challenge["realm"], self.challenge["nonce"]
        ha1 = hashlib.md5(f"{self.username}:{realm}:{self.password}".encode()).hexdigest()
        ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
        response = hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()
        return (f'Digest username="{self.username}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
                f'response="{response}"')  # fmt: skip

    async def read_response(self) -> Response:
        while True:
            first = await self.reader.readexactly(1)
            if first == b"$":
                head = await self.reader.readexactly(3)
                channel, size = head[0], int.from_bytes(head[1:], "big")
                self.frames.append((channel, await self.reader.readexactly(size)))
                continue
            head = first + await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            status = int(lines[0].split(" ")[1])
            headers = {}
            for line in lines[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
            return Response(status, headers, body)
