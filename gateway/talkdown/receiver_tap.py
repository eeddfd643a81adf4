"""A microphone's encoded frames taken from aiortc's receiver, decoded straight to PCMU.

Why: aiortc's stock receive path hands each 20 ms opus frame from the event loop to a
decoder thread, decodes it with FFmpeg at 48 kHz stereo, hands the frame back to the
loop, and the talk then resampled it to 8 kHz mono in an executor (a third thread hop).
Measured (bench/bench_talkdown.py) that cost 3-4.5 % of a core per talker. libopus
decodes straight to 8 kHz mono (transcoders/opus.py) in about 25 us a frame, less than
one thread hop costs, so the frame is decoded on the loop as it comes, and its PCMU is
queued upstream at once. The frames come from datagram_tap.py, straight off the socket;
the receiver's queue is still taken over here so that aiortc's decoder thread idles and
the end of the track (the receiver stopping) reaches the talk.

aiortc (1.16) has no public API for a receiver's encoded frames, so this uses two
private attributes of RTCRtpReceiver, checked by `tap()` (which raises ReceiverTapError,
never degrades silently) and by tests/talkdown/test_receiver_tap.py:
- `_RTCRtpReceiver__decoder_queue`: the `queue.Queue` that `_handle_rtp_packet` puts
  `(codec, JitterFrame)` into on the loop, and `decoder_worker` gets from in its thread.
  `tap()` replaces it with an `EncodedAudioTap` before `receive()` starts that thread;
- `_RTCRtpReceiver__decoder_thread`: still None then (the tap must be in place first).
The decoder thread aiortc still starts idles in `EncodedAudioTap.get()` until the
receiver stops (`put(None)`), then ends the remote track as it always does.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

import av
from aiortc import RTCRtpReceiver
from aiortc.codecs import get_decoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from transcoders.opus import OpusError, OpusToPcmu
from transcoders.pcmu import PcmuEncoder

log = logging.getLogger("gateway.talkdown")

_QUEUE = "_RTCRtpReceiver__decoder_queue"
_THREAD = "_RTCRtpReceiver__decoder_thread"


class ReceiverTapError(RuntimeError):
    """aiortc's receiver no longer looks as this module expects (its private attributes changed)."""


class EncodedAudioTap:
    """Stands in for one receiver's decoder queue: encoded audio in (on the loop), PCMU out.

    `on_pcmu(pcmu, released_at)` is called on the loop for every frame given to `audio`
    (by datagram_tap.py, as the packet arrives; released_at: time.monotonic() then) or
    put here; `on_end(reason)` once, when the receiver stops or decoding fails for a
    reason other than a bad packet.
    """

    def __init__(self, on_pcmu: Callable[[bytes, float], None], on_end: Callable[[str], None]):
        self._on_pcmu = on_pcmu
        self._on_end = on_end
        self._opus: OpusToPcmu | None = None
        self._decoders: dict[int, Callable[[bytes, int], bytes]] = {}  # by payload type
        self._stopped = threading.Event()
        self.frames = 0
        self.bad_frames = 0

    @property
    def concealed_samples(self) -> int:
        return self._opus.concealed_samples if self._opus is not None else 0

    # -- aiortc's side: RTCRtpReceiver._handle_rtp_packet (loop) and decoder_worker (thread)

    def put(self, task) -> None:
        if task is None:  # RTCRtpReceiver.__stop_decoder: the receiver stops
            if not self._stopped.is_set():
                self._stopped.set()
                self._close()
                self._on_end("microphone track ended")
            return
        codec, encoded_frame = task
        self.audio(codec, encoded_frame.data, encoded_frame.timestamp)

    def audio(self, codec: RTCRtpCodecParameters, payload: bytes, timestamp: int) -> None:
        """One encoded frame (datagram_tap.py calls this as the packet arrives)."""
        if self._stopped.is_set():
            return
        released_at = time.monotonic()
        try:
            payload_type = codec.payloadType
            assert payload_type is not None  # a negotiated codec has its payload type
            decode = self._decoders.get(payload_type)
            if decode is None:
                decode = self._decoders[payload_type] = self._decoder_for(codec)
            pcmu = decode(payload, timestamp)
        except (OpusError, ValueError, av.FFmpegError) as exc:
            # As aiortc's decoder_worker: one bad frame is skipped, the stream goes on.
            self.bad_frames += 1
            log.debug("microphone frame not decoded (%s): %s", codec.name, exc)
            return
        except Exception:
            # Raised into _handle_rtp_packet it would end aiortc's DTLS receive loop with
            # only a warning: end the talk instead, with the traceback in the log.
            log.exception("microphone decoding failed (%s)", codec.name)
            self._stopped.set()
            self._close()
            self._on_end("microphone decoding failed")
            return
        self.frames += 1
        if pcmu:
            self._on_pcmu(pcmu, released_at)

    def get(self, block: bool = True, timeout: float | None = None):
        # decoder_worker's loop: nothing to decode here; the end marker when the receiver stops.
        self._stopped.wait()
        return None  # noqa: RET501, PLR1711 (None is aiortc's end-of-stream marker, said out loud)

    # -- decoding -------------------------------------------------------------------------

    def _decoder_for(self, codec: RTCRtpCodecParameters) -> Callable[[bytes, int], bytes]:
        """(payload, RTP timestamp) -> PCMU for one negotiated payload type."""
        name = codec.name.upper()
        if name == "OPUS":
            if self._opus is None:
                self._opus = OpusToPcmu()
            return self._opus.decode
        if name == "PCMU":
            return lambda payload, timestamp: payload  # already what the speaker takes (RFC 3551 4.5.14)
        # PCMA from a non-browser peer: aiortc's own decoder (G.711 at 8 kHz, cheap), then mu-law.
        decoder, encoder = get_decoder(codec), PcmuEncoder()

        def other(payload: bytes, timestamp: int) -> bytes:
            frames = decoder.decode(JitterFrame(payload, timestamp))
            return b"".join(encoder.encode(frame) for frame in frames)  # type: ignore[arg-type]  # G.711: AudioFrames

        return other

    def _close(self) -> None:
        if self._opus is not None:
            self._opus.close()

    def stop(self) -> None:
        """Release aiortc's idle decoder thread (the receiver's own stop does it too)."""
        if not self._stopped.is_set():
            self._stopped.set()
            self._close()


def tap(receiver: RTCRtpReceiver, audio_tap: EncodedAudioTap) -> None:
    """Route `receiver`'s encoded frames to `audio_tap` instead of aiortc's decoder thread.

    Call before the receiver starts (from the peer connection's "track" event).
    """
    original = getattr(receiver, _QUEUE, None)
    if not isinstance(original, queue.Queue):
        raise ReceiverTapError(f"aiortc's RTCRtpReceiver has no {_QUEUE} queue: the talk receiver tap needs updating")
    if not hasattr(receiver, _THREAD):
        raise ReceiverTapError(f"aiortc's RTCRtpReceiver has no {_THREAD}: the talk receiver tap needs updating")
    if getattr(receiver, _THREAD) is not None:
        raise ReceiverTapError("the receiver's decoder thread already runs: tap it before it starts")
    setattr(receiver, _QUEUE, audio_tap)
