"""The session description a DESCRIBE answers (RFC 4566, RFC 2326 C.1), sans-IO."""

from __future__ import annotations

from gateway.emulator.amcrest.audio_loops import AudioTrack
from gateway.emulator.amcrest.video_loops import VIDEO_CLOCK, VideoTrack

VIDEO_PAYLOAD_TYPE = 96
VIDEO_TRACK = 0
AUDIO_TRACK = 1


def session_description(video: VideoTrack, audio: AudioTrack | None, session_id: int, host: str,
                        name: str) -> bytes:  # fmt: skip
    """Video is `trackID=0`, audio `trackID=1`, both relative to the Content-Base
    (RFC 2326 C.1.1), as Dahua firmware names them."""
    family = "IP6" if ":" in host else "IP4"
    lines = [
        "v=0",
        f"o=- {session_id} {session_id} IN {family} {host}",
        f"s={name}",
        f"c=IN {family} {host}",
        "t=0 0",
        "a=control:*",
        "a=range:npt=0-",  # RFC 2326 C.1.5: a live stream, open-ended
        f"m=video 0 RTP/AVP {VIDEO_PAYLOAD_TYPE}",
        f"a=control:trackID={VIDEO_TRACK}",
        f"a=framerate:{video.fps}",
        f"a=rtpmap:{VIDEO_PAYLOAD_TYPE} {video.encoding}/{VIDEO_CLOCK}",
        f"a=fmtp:{VIDEO_PAYLOAD_TYPE} {video.fmtp}",
        "a=recvonly",
    ]
    if audio is not None:
        pt = audio.payload_type
        lines += [
            f"m=audio 0 RTP/AVP {pt}",
            f"a=control:trackID={AUDIO_TRACK}",
            f"a=rtpmap:{pt} {audio.rtpmap}",
            *([f"a=fmtp:{pt} {audio.fmtp}"] if audio.fmtp else []),
            "a=recvonly",
        ]
    return ("\r\n".join(lines) + "\r\n").encode()
