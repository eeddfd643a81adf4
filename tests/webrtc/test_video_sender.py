"""The aiortc attributes VideoRtpSender plugs into are checked when a session starts."""

import pytest
from aiortc import RTCPeerConnection

from gateway.webrtc.video_sender import check_aiortc


async def test_a_changed_aiortc_fails_loudly_when_the_session_starts():
    pc = RTCPeerConnection()
    sender = pc.addTransceiver("video", direction="sendonly").sender
    check_aiortc(sender)  # the pinned aiortc has everything
    del sender._RTCRtpSender__rtx_payload_type
    with pytest.raises(RuntimeError, match=r"aiortc .* changed: RTCRtpSender has no _RTCRtpSender__rtx_payload_type"):
        check_aiortc(sender)
    await pc.close()
