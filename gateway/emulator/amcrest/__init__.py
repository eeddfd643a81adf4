"""An Amcrest/Dahua camera emulator: a device with N channels, like a Dahua NVR
(DESIGN "Emulators"; reference/amcrest-cgi-facts.md).

Entry point: `AmcrestEmulator(AmcrestSettings(...))`, `await start()`, `http_url`,
`rtsp_url(channel, subtype, credentials)`, `await stop()`.

Choices where the reference is silent (stable, so tests and the gateway can rely on them):
- Every channel shows the WEP emulator's picture of camera index channel-1 (H.264 loops
  share its disk cache); `h265_channels` are HEVC. Subtype 0 is the high size, 1 the low.
- One timeline for all channels: a snapshot is the picture the video shows at that
  instant; an RTSP session starts at the last keyframe (one-second GOPs).
- RTSP: OPTIONS is open, every other method needs Digest (no qop, as the cameras ask);
  only TCP interleaved transport (461 for UDP); audio track 1 is PCMA, PCMU or AAC-LC
  16 kHz mono; RTCP sender reports every 2 s.
- HTTP: every /cgi-bin route needs Digest (MD5, qop=auth, realm "Login to <serial>");
  errors are `Error\\r\\n<reason>!\\r\\n` text/plain. Event parts carry `data=` JSON in
  Dahua's styled form; a Heartbeat part every `heartbeat` seconds.
- Control without auth: POST /_emulator/events {"channel","code","action","data"?},
  POST /_emulator/event-fault {"kind": "garbage"|"cut"}, GET /_emulator/ptz,
  GET /_emulator/talk/{channel}, GET /_emulator/stats.
"""

from gateway.emulator.amcrest.emulator import AmcrestEmulator
from gateway.emulator.amcrest.settings import AmcrestSettings

__all__ = ["AmcrestEmulator", "AmcrestSettings"]
