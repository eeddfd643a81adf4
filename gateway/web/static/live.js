// Live video of one tile: WebRTC (WHEP), or progressive fMP4 through Media Source
// Extensions. A session opens, reports decoded frames, and closes; the player (player.js)
// decides which one to run and when to start over.

import { apiUrl, errorText } from "./api.js";

export const ICE_GATHER_MS = 2000;

export class FatalError extends Error {} // retrying the same transport will not help
export class CameraUnavailable extends Error {} // 503 camera_unavailable: the camera, not the transport

// "stream refused (503): camera 'porch' is unavailable: camera 'porch' refused ..." on the
// porch tile reads best as "refused ...".
export const whyUnavailable = (message) => message.replace(/^.*is unavailable: /, "").replace(/^camera '[^']*' /, "");

export async function refusal(response, prefix, fatalStatuses) {
  const message = `${prefix} (${response.status}): ${await errorText(response)}`;
  if (fatalStatuses.includes(response.status)) return new FatalError(message);
  return response.status === 503 && message.includes("unavailable") ? new CameraUnavailable(message) : new Error(message);
}

export function iceGatheringDone(pc, timeoutMs) {
  // The gateway takes one complete offer (no trickle ICE): wait for our candidates.
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

// ---- WebRTC (WHEP) --------------------------------------------------------------

export class WebrtcSession {
  constructor(player) {
    this.player = player;
    this.pc = null;
    this.location = null;
  }

  async open() {
    const { video, camera } = this.player;
    const pc = (this.pc = new RTCPeerConnection({ bundlePolicy: "max-bundle" }));
    pc.addTransceiver("video", { direction: "recvonly" });
    // The camera's own opus, where it has a microphone (the gateway answers inactive otherwise).
    pc.addTransceiver("audio", { direction: "recvonly" });
    const stream = new MediaStream();
    pc.addEventListener("track", (event) => {
      stream.addTrack(event.track);
      if (video.srcObject !== stream) video.srcObject = stream;
      video.play().catch(() => {});
    });
    await pc.setLocalDescription(await pc.createOffer());
    await iceGatheringDone(pc, ICE_GATHER_MS);
    const response = await fetch(apiUrl(`/whep/${encodeURIComponent(camera.id)}`, { quality: this.player.quality }), {
      method: "POST",
      headers: { "Content-Type": "application/sdp" },
      body: pc.localDescription.sdp,
    });
    if (response.status !== 201) {
      // 406: no common codec; 404: no such camera; 401/403: not allowed.
      throw await refusal(response, "WebRTC refused", [401, 403, 404, 406]);
    }
    this.location = new URL(response.headers.get("Location"), location.href).toString();
    await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
  }

  broken() {
    return !this.pc || ["failed", "closed"].includes(this.pc.connectionState);
  }

  async progress() {
    if (!this.pc) return 0;
    const stats = await this.pc.getStats();
    let frames = 0;
    stats.forEach((report) => {
      if (report.type === "inbound-rtp" && report.kind === "video") frames = report.framesDecoded || 0;
    });
    return frames;
  }

  close() {
    if (this.location) {
      // keepalive: the DELETE still goes out when the page is being closed.
      fetch(apiUrl(this.location), { method: "DELETE", keepalive: true }).catch(() => {});
      this.location = null;
    }
    if (this.pc) this.pc.close();
    this.player.video.srcObject = null;
  }
}

// ---- fMP4 boxes, for MSE ----------------------------------------------------------

function fourcc(bytes, offset) {
  return String.fromCharCode(bytes[offset], bytes[offset + 1], bytes[offset + 2], bytes[offset + 3]);
}

/** Where the init segment ends (after moov, ISO/IEC 14496-12 4.2); 0: need more bytes; -1: not fMP4. */
export function initSegmentEnd(bytes) {
  let offset = 0;
  while (offset + 8 <= bytes.length) {
    const size = new DataView(bytes.buffer, bytes.byteOffset + offset, 4).getUint32(0);
    if (size < 8) return -1;
    if (fourcc(bytes, offset + 4) === "moov") return offset + size <= bytes.length ? offset + size : 0;
    offset += size;
  }
  return 0;
}

/** RFC 6381 codecs of an init segment: avc1.PPCCLL from the avcC record; audio from its sample entry. */
export function codecsOf(init) {
  const codecs = [];
  for (let i = 4; i + 8 <= init.length; i++) {
    const name = fourcc(init, i);
    if (name === "avcC") {
      const hex = (b) => b.toString(16).padStart(2, "0").toUpperCase();
      codecs.push(`avc1.${hex(init[i + 5])}${hex(init[i + 6])}${hex(init[i + 7])}`);
    } else if (name === "mp4a" && !codecs.includes("mp4a.40.2")) {
      codecs.push("mp4a.40.2");
    } else if (name === "Opus" && !codecs.includes("opus")) {
      codecs.push("opus");
    }
  }
  return codecs;
}

/** A MediaSource attached to the video, once it is open. */
export async function openMediaSource(video) {
  if (!("MediaSource" in window)) throw new FatalError("this browser has no Media Source Extensions");
  const source = new MediaSource();
  video.srcObject = null;
  video.src = URL.createObjectURL(source);
  await new Promise((resolve) => source.addEventListener("sourceopen", resolve, { once: true }));
  return source;
}

export function detachMediaSource(video) {
  if (video.src) {
    URL.revokeObjectURL(video.src);
    video.removeAttribute("src");
    video.load();
  }
}

/** The frames a video element has shown (decoded and not dropped). */
export function framesShown(video) {
  const quality = video.getVideoPlaybackQuality?.();
  return quality ? quality.totalVideoFrames : Math.round(video.currentTime * 1000);
}

// ---- MSE with progressive fMP4 ----------------------------------------------------

export class MseSession {
  constructor(player) {
    this.player = player;
    this.abort = new AbortController();
    this.buffer = null;
    this.pending = [];
    this.ended = false;
    this.failed = false;
  }

  async open() {
    const { video, camera } = this.player;
    this.source = await openMediaSource(video);
    const url = apiUrl(`/live/${encodeURIComponent(camera.id)}.mp4`, { quality: this.player.quality });
    const response = await fetch(url, { signal: this.abort.signal, cache: "no-store" });
    if (!response.ok) throw await refusal(response, "stream refused", [401, 403, 404]);
    this.pump(response.body.getReader()).catch(() => {
      this.failed = true;
    });
    video.play().catch(() => {});
  }

  async pump(reader) {
    let head = new Uint8Array(0);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (!this.buffer) {
        const joined = new Uint8Array(head.length + value.length);
        joined.set(head);
        joined.set(value, head.length);
        head = joined;
        const end = initSegmentEnd(head);
        if (end < 0) throw new Error("not an fMP4 stream");
        if (end === 0) continue;
        const type = `video/mp4; codecs="${codecsOf(head.subarray(0, end)).join(",")}"`;
        if (!MediaSource.isTypeSupported(type)) throw new FatalError(`cannot play ${type}`);
        this.buffer = this.source.addSourceBuffer(type);
        this.buffer.addEventListener("updateend", () => this.appendNext());
        this.buffer.addEventListener("error", () => (this.failed = true));
        this.pending.push(head);
      } else {
        this.pending.push(value);
      }
      this.appendNext();
    }
    this.ended = true;
  }

  appendNext() {
    if (!this.buffer || this.buffer.updating || !this.pending.length) return;
    if (this.pending.length > 300) this.failed = true; // the page cannot keep up: start over
    try {
      this.buffer.appendBuffer(this.pending.shift());
    } catch {
      this.failed = true;
    }
  }

  keepLive() {
    // Stay at the live edge and keep the buffer small (a few seconds back).
    const { video } = this.player;
    const ranges = video.buffered;
    if (!ranges.length) return;
    const end = ranges.end(ranges.length - 1);
    if (end - video.currentTime > 2.0) video.currentTime = end - 0.3;
    if (video.paused) video.play().catch(() => {});
    const start = ranges.start(0);
    if (this.buffer && !this.buffer.updating && video.currentTime - start > 30) {
      this.buffer.remove(start, video.currentTime - 10);
    }
  }

  broken() {
    return this.failed || this.ended;
  }

  async progress() {
    this.keepLive();
    return framesShown(this.player.video);
  }

  close() {
    this.abort.abort();
    detachMediaSource(this.player.video);
  }
}
