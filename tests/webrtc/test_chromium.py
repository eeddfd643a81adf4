"""Debian's Chromium plays every camera over WebRTC from the viewer page; nothing is decoded
in the gateway's process; an upstream outage freezes the picture, which then comes back
without a page reload. A WHEP session that asks for audio plays the camera's opus."""

import asyncio

from gateway.webrtc.routes import WHEP_SESSIONS
from tests.web.chromium import chromium_page, frames_keep_rising, players, wait_playing


async def test_page_plays_every_camera_over_webrtc(gateway, gateway_url, emulator, artifacts_dir, codec_spy):
    sessions = gateway.app[WHEP_SESSIONS]
    async with chromium_page() as page:
        await page.goto(gateway_url + "/")
        await wait_playing(page, len(emulator.camera_ids), "webrtc")
        samples = await frames_keep_rising(page, 10)
        assert all(p["status"] == "playing" and p["width"] > 0 for p in samples[-1])
        # The page also receives the camera's opus, where it has a microphone (not the last one).
        audio = {p["id"]: p["audioPackets"] or 0 for p in samples[-1]}
        assert all(audio[camera] > 5 * 40 for camera in emulator.camera_ids[:-1]), audio
        assert audio[emulator.camera_ids[-1]] == 0
        await page.screenshot(path=str(artifacts_dir / "viewer-webrtc.png"))
        # Two screenshots a moment apart differ: the video is moving.
        first = await page.locator(".tile video").first.screenshot()
        await asyncio.sleep(1.0)
        second = await page.locator(".tile video").first.screenshot()
        assert first != second
        assert len(sessions) == len(emulator.camera_ids)
    # The page's pagehide DELETEs (or ICE consent) end the sessions; the counters stay.
    assert sessions.counters.frames_sent > 10 * 15
    # Sent by VideoRtpSender from payloads cut once per frame, never by aiortc's per-viewer packetizer.
    assert sessions.counters.video_packets_sent >= sessions.counters.frames_sent
    assert codec_spy.h264_packs == 0
    assert (codec_spy.h264_decoders, codec_spy.h264_encodes, codec_spy.vp8_coders, codec_spy.codec_contexts) == (
        0,
        0,
        0,
        [],
    )


async def test_upstream_outage_freezes_then_resumes_without_reload(gateway_url, emulator):
    async with chromium_page() as page:
        await page.goto(gateway_url + "/")
        await page.evaluate("window.__notReloaded = true")
        await wait_playing(page, len(emulator.camera_ids), "webrtc")
        emulator.stall_streams(6.0)
        emulator.drop_streams()
        await asyncio.sleep(2.0)
        frozen = await players(page)
        await asyncio.sleep(2.0)
        still = await players(page)
        assert [p["frames"] for p in still] == [p["frames"] for p in frozen], "picture should freeze"
        # Bounded wait for every camera to decode new frames after the outage.
        for _ in range(40):
            await asyncio.sleep(0.5)
            now = await players(page)
            if all(n["frames"] > s["frames"] + 15 for n, s in zip(now, still)):
                break
        assert all(n["frames"] > s["frames"] + 15 for n, s in zip(now, still)), (still, now)
        assert not any(p["reloaded"] for p in now)
        await frames_keep_rising(page, 3)


# A bare WHEP client in the page: video and audio recvonly, media into an <audio> element
# (Chromium only pulls decoded audio from a remote track that plays somewhere).
WHEP_AUDIO_JS = """async (url) => {
  const pc = new RTCPeerConnection();
  pc.addTransceiver('video', {direction: 'recvonly'});
  pc.addTransceiver('audio', {direction: 'recvonly'});
  const element = document.createElement('audio');
  element.autoplay = true;
  document.body.appendChild(element);
  pc.ontrack = (event) => { if (event.track.kind === 'audio') element.srcObject = new MediaStream([event.track]); };
  await pc.setLocalDescription(await pc.createOffer());
  const response = await fetch(url, {method: 'POST', headers: {'Content-Type': 'application/sdp'},
                                     body: pc.localDescription.sdp});
  if (response.status !== 201) throw new Error('WHEP ' + response.status + ': ' + await response.text());
  await pc.setRemoteDescription({type: 'answer', sdp: await response.text()});
  window.__whep = pc;
}"""

AUDIO_STATS_JS = """async () => {
  const stats = await window.__whep.getStats();
  let audio = null;
  const codecs = {};
  stats.forEach((r) => { if (r.type === 'codec') codecs[r.id] = r.mimeType; });
  stats.forEach((r) => {
    if (r.type === 'inbound-rtp' && r.kind === 'audio')
      audio = {packets: r.packetsReceived, samples: r.totalSamplesReceived, concealed: r.concealedSamples,
               codec: codecs[r.codecId] || null};
  });
  return audio;
}"""


async def test_chromium_plays_the_camera_opus_over_whep(gateway, gateway_url, emulator, audio_codec_spy):
    sessions = gateway.app[WHEP_SESSIONS]
    async with chromium_page() as page:
        await page.goto(gateway_url + "/healthz")  # same origin as /whep
        await page.evaluate(WHEP_AUDIO_JS, f"{gateway_url}/whep/{emulator.camera_ids[0]}?quality=low")
        seen = [None]
        for _ in range(40):  # bounded: until audio has come in
            await asyncio.sleep(0.5)
            seen.append(await page.evaluate(AUDIO_STATS_JS))
            if seen[-1] and seen[-1]["packets"] and seen[-1]["samples"]:
                break
        first = seen[-1]
        assert first and first["packets"] > 0 and first["samples"] > 0, seen
        assert first["codec"] == "audio/opus"
        for _ in range(3):  # packets and decoded samples keep rising
            await asyncio.sleep(1.0)
            now = await page.evaluate(AUDIO_STATS_JS)
            assert now["packets"] > first["packets"] and now["samples"] > first["samples"], (first, now)
            # Decoded from packets, not made up by concealment (concealedSamples is part of the total).
            assert now["samples"] - now["concealed"] > first["samples"] - first["concealed"], (first, now)
            first = now
    assert sessions.counters.audio_sessions == 1 and sessions.counters.audio_packets_sent >= now["packets"]
    assert audio_codec_spy.opus_coders == 0 and audio_codec_spy.opus_packs >= now["packets"]
    assert [name for name, _ in audio_codec_spy.contexts].count("opus") == audio_codec_spy.transcoders == 1
