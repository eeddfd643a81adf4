"""Reading a peer's internal fMP4 stream (sans-IO reader, aiohttp at this edge)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from urllib.parse import quote

import aiohttp

from gateway.backends.base import UpstreamFailure
from gateway.media.fmp4 import Fragment, InitSegment
from gateway.media.fmp4.reader import Fmp4Reader

CONNECT_TIMEOUT = 2.0


class PeerFeed:
    """The owner's hub as init segments and fragments. `carries_audio`: the camera's audio
    comes with the video (the owner's audio pull), so the reading node pulls none itself."""

    carries_audio = True

    def __init__(self, response: aiohttp.ClientResponse):
        self._response = response

    async def events(self) -> AsyncIterator[InitSegment | Fragment]:
        reader = Fmp4Reader()
        try:
            async for chunk in self._response.content.iter_any():
                for event in reader.feed(chunk):
                    yield event
        except TimeoutError:
            raise UpstreamFailure("stall", "the owning node sent nothing in time") from None
        except aiohttp.ClientError as exc:
            raise UpstreamFailure("peer_lost", f"the owning node's stream broke ({exc.__class__.__name__})") from None


@contextlib.asynccontextmanager
async def open_peer(
    session: aiohttp.ClientSession, base_url: str, secret: str, camera_id: str, quality: str, stall_timeout: float
) -> AsyncIterator[PeerFeed]:
    url = f"{base_url}/internal/v1/live/{quote(camera_id, safe='')}/{quote(quality, safe='')}"
    timeout = aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT, sock_read=stall_timeout)
    try:
        async with session.get(url, headers={"Authorization": f"Bearer {secret}"}, timeout=timeout) as response:
            if response.status != 200:
                detail = (await response.text())[:200].replace("\n", " ")
                raise UpstreamFailure(
                    f"peer_{response.status}", f"the owning node answered {response.status}: {detail}"
                )
            yield PeerFeed(response)
    except TimeoutError:
        raise UpstreamFailure("peer_timeout", "the owning node did not answer in time") from None
    except aiohttp.ClientError as exc:
        raise UpstreamFailure(
            "peer_unreachable", f"the owning node is unreachable ({exc.__class__.__name__})"
        ) from None
