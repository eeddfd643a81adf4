"""A GET /media stream that is being read, and the BaseURL rewrite that opens one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from urllib.parse import quote

import aiohttp

from gateway.wep.answers import unavailable
from gateway.wep.errors import READ_TIMEOUT, WepUnavailable
from gateway.wep.stats import WepStats

__all__ = ["READ_TIMEOUT", "MediaStream", "set_query_param"]  # READ_TIMEOUT: a stream's stall (errors.py)

log = logging.getLogger("gateway.wep")


def set_query_param(url: str, name: str, value: str) -> str:
    """`url` with its `name` query parameter set to `value`, everything else byte for byte.

    The MPD's BaseURL embeds the session it was fetched with (guide, "mpd format"), which
    is stale after a re-login; its other parameters (`ctx` is opaque) must not be re-encoded.
    """
    head, hash_sign, fragment = url.partition("#")
    path, _, query = head.partition("?")
    pair = f"{name}={quote(value, safe='')}"
    parts, replaced = [], False
    for part in query.split("&") if query else []:
        if part.split("=", 1)[0] == name:
            if not replaced:
                parts.append(pair)
                replaced = True
            continue  # a second copy would leave WEP to choose
        parts.append(part)
    if not replaced:
        parts.append(pair)
    return f"{path}?{'&'.join(parts)}{hash_sign}{fragment}"


class MediaStream:
    """An open GET /media answer. `chunks()` yields bytes as they arrive; a read that waits
    longer than `read_timeout` raises WepUnavailable so the caller can reconnect."""

    def __init__(self, response: aiohttp.ClientResponse, camera_id: str, read_timeout: float, stats: WepStats):
        self.content_type = response.headers.get("Content-Type", "")
        self.camera_id = camera_id
        self.bytes_received = 0
        self._response = response
        self._read_timeout = read_timeout
        self._stats = stats

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            try:
                async with asyncio.timeout(self._read_timeout):
                    chunk = await self._response.content.readany()
            except TimeoutError:
                log.warning(
                    "media stream stalled: read timeout, no bytes for %.1fs",
                    self._read_timeout,
                    extra={"camera": self.camera_id},
                )
                raise WepUnavailable(
                    504,
                    None,
                    READ_TIMEOUT,
                    f"camera {self.camera_id}: stream read timeout, no bytes for {self._read_timeout:g}s",
                ) from None
            except aiohttp.ClientPayloadError:
                raise WepUnavailable(
                    502,
                    None,
                    "CONNECTION_CLOSED",
                    f"camera {self.camera_id}: stream cut short, WEP closed it mid-transfer",
                ) from None
            except aiohttp.ClientError as exc:
                raise unavailable(f"camera {self.camera_id}: stream", exc, self._read_timeout) from None
            if not chunk:
                return  # WEP ended the stream
            self.bytes_received += len(chunk)
            self._stats.stream_bytes += len(chunk)
            yield chunk
