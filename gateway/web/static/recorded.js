// Recorded video in a tile: the gateway's recorded HLS (`playlist.m3u8?t=`) played through
// Media Source Extensions by this page itself, with no player library.
//
// Why by hand: the recorded playlist is the simplest kind there is, an EVENT playlist
// (RFC 8216bis 4.4.3.5) of fMP4 segments, one EXT-X-MAP per init segment, no parts, no
// variants, no encryption. Segments are only ever added, and ENDLIST closes it. So playing
// it is: fetch the playlist, append the init segment and each new segment to one
// SourceBuffer in "sequence" mode (one segment after another, discontinuities included),
// and fetch the playlist again until ENDLIST. EXT-X-PROGRAM-DATE-TIME on every segment
// says which wall-clock moment is on screen.

import { apiUrl, errorText, sleep } from "./api.js";
import { codecsOf, detachMediaSource, FatalError, framesShown, openMediaSource, refusal } from "./live.js";

const POLL_MS = 1000; // WEP sends recorded video in real time: the playlist grows as it plays
const START_AHEAD_S = 3; // buffered before playing, so the next segment comes in time
const KEEP_BEHIND_S = 30; // played video kept for a step back; older is removed

/** No recording at the asked time (404), or a time that cannot be recorded (400). */
export class NoRecording extends Error {}

/**
 * An EVENT playlist: {targetDuration, ended, segments: [{uri, map, pdt, duration,
 * discontinuity}]}, URIs resolved against `baseUrl`, `pdt` in ms since the epoch.
 */
export function parsePlaylist(text, baseUrl) {
  const lines = text.split(/\r?\n/).map((line) => line.trim());
  if (lines[0] !== "#EXTM3U") throw new Error("not an HLS playlist");
  const found = { targetDuration: 2, ended: false, segments: [] };
  let map = null;
  let pdt = null;
  let duration = 0;
  let discontinuity = false;
  for (const line of lines) {
    if (!line) continue;
    if (line.startsWith("#EXT-X-TARGETDURATION:")) found.targetDuration = Number(line.slice(22)) || 2;
    else if (line.startsWith("#EXT-X-MAP:")) {
      const uri = /URI="([^"]*)"/.exec(line);
      map = uri ? new URL(uri[1], baseUrl).toString() : null;
    } else if (line === "#EXT-X-DISCONTINUITY") discontinuity = true;
    else if (line.startsWith("#EXT-X-PROGRAM-DATE-TIME:")) pdt = Date.parse(line.slice(25));
    else if (line.startsWith("#EXTINF:")) duration = parseFloat(line.slice(8)) || 0;
    else if (line === "#EXT-X-ENDLIST") found.ended = true;
    else if (!line.startsWith("#")) {
      const previous = found.segments[found.segments.length - 1];
      if (!Number.isFinite(pdt) && previous && Number.isFinite(previous.pdt)) pdt = previous.pdt + previous.duration * 1000;
      found.segments.push({ uri: new URL(line, baseUrl).toString(), map, pdt, duration, discontinuity });
      pdt = null;
      duration = 0;
      discontinuity = false;
    }
  }
  return found;
}

export class RecordedSession {
  /** at: the Date to play from. */
  constructor(player, at) {
    this.player = player;
    this.at = at;
    this.url = apiUrl(`/hls/${encodeURIComponent(player.camera.id)}/${player.quality}/playlist.m3u8`,
      { t: at.toISOString() });
    this.abort = new AbortController();
    this.source = null;
    this.buffer = null;
    this.next = 0; // index of the next segment to append
    this.first = null; // the first segment's URI: another one means another recording
    this.map = null; // the init segment appended last
    this.placed = []; // {start, end, pdt}: where each appended segment sits on the video's timeline
    this.listed = 0; // segments in the last playlist
    this.ended = false; // the playlist has ENDLIST
    this.started = false;
    this.finished = false; // played to the end of an ended playlist
    this.failed = false;
    this.closed = false;
    this.problem = "";
    this.resumeAt = at; // where to start again: the moment last shown
  }

  async open() {
    const { video } = this.player;
    video.autoplay = false; // played once enough is buffered (progress)
    this.source = await openMediaSource(video);
    const response = await this.fetch(this.url);
    if (response.status === 404 || response.status === 400) {
      throw new NoRecording(await errorText(response));
    }
    if (!response.ok) throw await refusal(response, "recording refused", [401, 403]);
    await this.take(await response.text(), response.url);
    this.poll();
  }

  fetch(url) {
    return fetch(url, { signal: this.abort.signal, cache: "no-store" });
  }

  async poll() {
    try {
      while (!this.closed && !this.ended) {
        await sleep(POLL_MS);
        if (this.closed) return;
        const response = await this.fetch(this.url);
        if (!response.ok) throw new Error(`recording lost (${response.status}): ${await errorText(response)}`);
        await this.take(await response.text(), response.url);
      }
    } catch (error) {
      if (!this.closed) this.fail(error);
    }
  }

  fail(error) {
    console.warn(`${this.player.camera.id}: ${error.message}`);
    this.problem = error.message;
    this.failed = true;
  }

  /** Appends the segments of `text` not appended yet, in order. */
  async take(text, baseUrl) {
    const playlist = parsePlaylist(text, baseUrl);
    if (!playlist.segments.length) throw new Error("the recording has no video yet");
    // The gateway closed the recording and opened a new one from the same time (it was
    // idle): its segments start over, so this session does too, from where it was.
    this.first = this.first || playlist.segments[0].uri;
    if (playlist.segments[0].uri !== this.first) throw new Error("the recording was restarted");
    this.listed = playlist.segments.length;
    for (; this.next < playlist.segments.length && !this.closed; this.next++) {
      const segment = playlist.segments[this.next];
      if (segment.map !== this.map) {
        await this.appendInit(await this.bytes(segment.map));
        this.map = segment.map;
      }
      await this.appendSegment(segment, await this.bytes(segment.uri));
    }
    if (playlist.ended && !this.closed) {
      this.ended = true;
      if (this.source.readyState === "open") this.source.endOfStream();
    }
  }

  async bytes(url) {
    const response = await this.fetch(url);
    if (!response.ok) throw new Error(`${url.split("?")[0].split("/").pop()} (${response.status}): ${await errorText(response)}`);
    return new Uint8Array(await response.arrayBuffer());
  }

  async appendInit(init) {
    if (!this.buffer) {
      const type = `video/mp4; codecs="${codecsOf(init).join(",")}"`;
      if (!MediaSource.isTypeSupported(type)) throw new FatalError(`cannot play ${type}`);
      this.buffer = this.source.addSourceBuffer(type);
      // One segment after another whatever their timestamps: a discontinuity (WEP's
      // stream resumed after a drop) continues where the last segment ended.
      this.buffer.mode = "sequence";
    }
    await this.append(init);
  }

  async appendSegment(segment, bytes) {
    await this.trim();
    await this.append(bytes);
    const ranges = this.buffer.buffered;
    if (!ranges.length) return;
    const last = this.placed[this.placed.length - 1];
    const start = last ? last.end : ranges.start(0);
    this.placed.push({ start, end: ranges.end(ranges.length - 1), pdt: segment.pdt });
  }

  append(bytes) {
    return new Promise((resolve, reject) => {
      const done = () => {
        this.buffer.removeEventListener("updateend", done);
        this.buffer.removeEventListener("error", failed);
        resolve();
      };
      const failed = () => {
        this.buffer.removeEventListener("updateend", done);
        this.buffer.removeEventListener("error", failed);
        reject(new Error("the browser could not take the recorded video"));
      };
      this.buffer.addEventListener("updateend", done);
      this.buffer.addEventListener("error", failed);
      try {
        this.buffer.appendBuffer(bytes);
      } catch (error) {
        failed();
      }
    });
  }

  async trim() {
    const { video } = this.player;
    const ranges = this.buffer.buffered;
    if (!ranges.length || video.currentTime - ranges.start(0) < 2 * KEEP_BEHIND_S) return;
    const until = video.currentTime - KEEP_BEHIND_S;
    await new Promise((resolve) => {
      this.buffer.addEventListener("updateend", resolve, { once: true });
      this.buffer.remove(ranges.start(0), until);
    });
  }

  /** The wall-clock moment on screen, from the segment's EXT-X-PROGRAM-DATE-TIME. */
  shownTime() {
    if (!this.placed.length) return this.at;
    const now = this.player.video.currentTime;
    const segment = this.placed.find((placed) => now < placed.end) || this.placed[this.placed.length - 1];
    if (!Number.isFinite(segment.pdt)) return this.at;
    return new Date(segment.pdt + Math.max(0, now - segment.start) * 1000);
  }

  broken() {
    return this.failed || this.finished;
  }

  async progress() {
    const { video } = this.player;
    const ranges = video.buffered;
    const end = ranges.length ? ranges.end(ranges.length - 1) : 0;
    if (!this.started && (end - video.currentTime >= START_AHEAD_S || (this.ended && this.next >= this.listed))) {
      this.started = true;
    }
    if (this.started && video.paused && !video.ended) video.play().catch(() => {});
    this.resumeAt = this.shownTime();
    if (this.ended && this.next >= this.listed && (video.ended || video.currentTime >= end - 0.1)) this.finished = true;
    return this.started ? framesShown(video) : 0; // the first picture, shown paused, is not playing yet
  }

  close() {
    this.closed = true;
    this.abort.abort();
    detachMediaSource(this.player.video);
    this.player.video.autoplay = true;
  }
}
