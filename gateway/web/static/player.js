// One tile's video: live over WebRTC with a fallback to MSE, or recorded from a chosen
// moment. The player keeps a session running, watches that pictures keep coming, and
// starts over (with a backoff) when they stop; switching live/recorded starts over at once.

import { momentText, sleep } from "./api.js";
import { CameraUnavailable, FatalError, MseSession, WebrtcSession, whyUnavailable } from "./live.js";
import { NoRecording, RecordedSession } from "./recorded.js";

const TICK_MS = 500;
const STALL_MS = 3000; // no new picture for this long: show "reconnecting"
const RESTART_MS = 12000; // ...and for this long: start a new session
const FIRST_PICTURE_MS = 10000; // a new session must show a picture within this
const MAX_BACKOFF_MS = 8000;
const WEBRTC_ATTEMPTS = 2; // failed WebRTC sessions in a row before falling back to MSE

export class Player {
  /**
   * mode: "auto" | "webrtc" | "mse" (the page's ?mode=). onChange(player): status, transport
   * or the shown moment changed.
   */
  constructor(camera, tile, quality, { mode, onChange }) {
    this.camera = camera;
    this.tile = tile;
    this.quality = quality;
    this.mode = mode;
    this.onChange = onChange || (() => {});
    this.video = tile.querySelector("video");
    this.badge = tile.querySelector(".badge");
    this.transportLabel = tile.querySelector(".transport");
    this.modeLabel = tile.querySelector(".mode");
    this.session = null;
    this.transport = null;
    this.status = "connecting";
    this.frames = 0;
    this.closed = false;
    this.recordedAt = null; // null: live; a Date: recorded from that moment
    this.generation = 0; // bumped by every switch: the running session is then stale
    this.wakers = [];
    this.webrtcFailures = mode === "mse" || !("RTCPeerConnection" in window) ? WEBRTC_ATTEMPTS : 0;
  }

  get pc() {
    return this.session && this.session.pc;
  }

  get recorded() {
    return this.recordedAt !== null;
  }

  setStatus(status, detail = "") {
    this.status = status;
    this.tile.dataset.status = status;
    this.badge.textContent = detail ? `${status} · ${detail}` : status;
    this.badge.title = this.badge.textContent; // cut short on small tiles
    this.onChange(this);
  }

  /** The wall-clock moment on screen: a Date while recorded, null while live. */
  shownTime() {
    if (!this.recorded) return null;
    return this.session instanceof RecordedSession ? this.session.shownTime() : this.recordedAt;
  }

  showMode() {
    const shown = this.shownTime();
    this.tile.dataset.mode = shown ? "recorded" : "live";
    this.modeLabel.textContent = shown ? `Recorded · ${momentText(shown)}` : "LIVE";
    this.modeLabel.title = shown ? shown.toLocaleString() : "Live pictures";
    this.onChange(this);
  }

  /** Plays the recording from `at` (a Date). */
  playFrom(at) {
    this.recordedAt = at;
    this.switched();
  }

  goLive() {
    if (!this.recorded) return;
    this.recordedAt = null;
    this.switched();
  }

  /** Another quality (the layout changed): live sessions start over with it. */
  setQuality(quality) {
    if (quality === this.quality) return;
    this.quality = quality;
    if (!this.recorded) this.switched();
  }

  switched() {
    this.generation++;
    if (this.session) this.session.close();
    this.showMode();
    this.setStatus("connecting");
    this.wakers.splice(0).forEach((wake) => wake());
  }

  /** Sleeps `ms`, or less if the player is switched meanwhile. */
  pause(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakers.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Opens a session; returns early when the player is switched meanwhile (a MediaSource
   *  detached while it opens would never open, and the loop would wait forever). */
  async open(session) {
    let wake;
    const switched = new Promise((resolve) => (wake = resolve));
    this.wakers.push(wake);
    const opening = session.open();
    try {
      await Promise.race([opening, switched]);
    } finally {
      opening.catch(() => {}); // a session left behind may still fail: nobody is listening
      this.wakers = this.wakers.filter((waker) => waker !== wake);
    }
  }

  newSession() {
    if (this.recorded) {
      this.transport = "mse";
      this.transportLabel.textContent = "MSE · recorded";
      return new RecordedSession(this, this.recordedAt);
    }
    const webrtc = this.mode === "webrtc" || this.webrtcFailures < WEBRTC_ATTEMPTS;
    this.transport = webrtc ? "webrtc" : "mse";
    this.transportLabel.textContent = webrtc ? "WebRTC" : "MSE";
    return webrtc ? new WebrtcSession(this) : new MseSession(this);
  }

  async run() {
    let backoff = 1000;
    while (!this.closed) {
      const generation = this.generation;
      const session = (this.session = this.newSession());
      this.tile.dataset.transport = this.transport;
      this.showMode();
      const webrtc = session instanceof WebrtcSession;
      let played = false;
      let problem = null;
      try {
        await this.open(session);
        played = await this.watch(session, generation);
      } catch (error) {
        problem = error;
      } finally {
        session.close();
        if (this.session === session) this.session = null;
      }
      if (this.closed) return;
      if (this.generation !== generation) {
        backoff = 1000; // switched: the new choice starts now
        continue;
      }
      if (session instanceof RecordedSession) {
        if (problem instanceof NoRecording) {
          this.setStatus("no recording", problem.message);
          await this.pause(24 * 3600 * 1000); // until the operator picks another moment or live
          continue;
        }
        // Played to its end, or lost on the way: carry on from the moment last shown.
        this.recordedAt = session.resumeAt;
        if (session.finished) continue;
        if (!problem && session.problem) problem = new Error(session.problem);
      }
      let unavailable = null;
      if (problem) {
        console.warn(`${this.camera.id}: ${problem.message}`);
        if (problem instanceof CameraUnavailable) unavailable = whyUnavailable(problem.message);
        else if (problem instanceof FatalError && webrtc && this.mode !== "webrtc") this.webrtcFailures = WEBRTC_ATTEMPTS;
        else if (problem instanceof FatalError) {
          this.setStatus("error", problem.message);
          await this.pause(24 * 3600 * 1000); // until switched: the same again would fail again
          continue;
        }
      }
      // An unreachable camera says nothing about WebRTC: it does not count toward the fallback.
      if (webrtc && !unavailable) this.webrtcFailures = played ? 0 : this.webrtcFailures + 1;
      if (played) backoff = 1000;
      if (unavailable) this.setStatus("unavailable", unavailable);
      else this.setStatus("reconnecting", problem ? problem.message : "");
      await this.pause(backoff);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  }

  // Resolves when the session should be replaced; true if it ever showed pictures.
  async watch(session, generation) {
    let played = false;
    let last = -1;
    let lastChange = performance.now();
    const stalled = session instanceof RecordedSession ? "buffering" : "reconnecting";
    while (!this.closed && this.generation === generation) {
      await sleep(TICK_MS);
      if (this.generation !== generation || session.broken()) return played;
      const frames = await session.progress();
      if (this.recorded) this.showMode();
      const now = performance.now();
      if (frames > last) {
        if (last >= 0 || frames > 0) {
          played = played || frames > 0;
          if (frames > 0 && this.status !== "playing") this.setStatus("playing");
        }
        last = frames;
        lastChange = now;
        this.frames = frames;
        continue;
      }
      const idle = now - lastChange;
      if (played && idle > STALL_MS && this.status !== stalled) this.setStatus(stalled);
      if (idle > (played ? RESTART_MS : FIRST_PICTURE_MS)) return played;
    }
    return played;
  }

  close() {
    this.closed = true;
    if (this.session) this.session.close();
    this.wakers.splice(0).forEach((wake) => wake());
  }
}
