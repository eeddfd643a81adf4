"""The MPD a WEP answers for format=mpd (guide, "mpd format" sample). Sans-IO.

One main AdaptationSet (Role main) with the high and low full-ROI Representations,
four supplementary tile AdaptationSets (Role supplementary) whose SRD places each tile
on a 2 x 2 grid of the full picture, and, for cameras with a microphone, an audio
AdaptationSet (webm/opus). Every Representation has a relative BaseURL carrying its
opaque `ctx`. The tiles are served by the low stream (same width and height as a
tile); their picture is not a crop, which no emulator client relies on.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

BASE_PATH = "/mt/api/rest/v1"


@dataclass(frozen=True, slots=True)
class VideoRep:
    rep_id: str
    ctx: str
    width: int
    height: int
    bandwidth: int
    codecs: str


def _base_url(ctx: str, session: str, camera_id: str, fmt: str) -> str:
    return escape(f"{BASE_PATH}/media?ctx={ctx}&session={session}&cameraId={camera_id}&format={fmt}")


def _video_rep(rep: VideoRep, session: str, camera_id: str) -> str:
    return (
        f'<Representation id="{rep.rep_id}" bandwidth="{rep.bandwidth}" width="{rep.width}" '
        f'height="{rep.height}" mimeType="video/mp4" codecs={quoteattr(rep.codecs)}>\n'
        f"<BaseURL>{_base_url(rep.ctx, session, camera_id, 'fmp4')}</BaseURL>\n"
        f"</Representation>\n"
    )


def _adaptation_set(srd: str, role: str, body: str) -> str:
    return (
        "<AdaptationSet>\n"
        f'<SupplementalProperty schemeIdUri="urn:mpeg:dash:srd:2014" value="{srd}"/>\n'
        '<SupplementalProperty schemeIdUri="urn:avg:rotation:v1" value="0"/>\n'
        f'<Role schemeIdUri="urn:mpeg:dash:role:2011" value="{role}"/>\n'
        f"{body}</AdaptationSet>\n"
    )


def build_mpd(
    camera_id: str,
    session: str,
    main: list[VideoRep],
    tiles: list[VideoRep],
    audio_ctx: str | None,
) -> str:
    full_w, full_h = main[0].width, main[0].height
    sets = [_adaptation_set(f"0,0,0,{full_w},{full_h},{full_w},{full_h}", "main",
                            "".join(_video_rep(r, session, camera_id) for r in main))]  # fmt: skip
    tile_w, tile_h = full_w // 2, full_h // 2
    for n, rep in enumerate(tiles):
        x, y = (n % 2) * tile_w, (n // 2) * tile_h
        srd = f"0,{x},{y},{tile_w},{tile_h},{full_w},{full_h}"
        sets.append(_adaptation_set(srd, "supplementary", _video_rep(rep, session, camera_id)))
    if audio_ctx is not None:
        sets.append(
            '<AdaptationSet mimeType="audio/webm" lang="und">\n'
            '<Role schemeIdUri="urn:mpeg:dash:role:2011" value="main"/>\n'
            '<Representation id="audio" bandwidth="64000" audioSamplingRate="48000" '
            'mimeType="audio/webm" codecs="opus">\n'
            f"<BaseURL>{_base_url(audio_ctx, session, camera_id, 'webm')}</BaseURL>\n"
            "</Representation>\n</AdaptationSet>\n"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'profiles="urn:mpeg:dash:profile:isoff-on-demand:2011" type="static" minBufferTime="PT1.5S">\n'
        "<Period>\n" + "".join(sets) + "</Period>\n</MPD>\n"
    )
