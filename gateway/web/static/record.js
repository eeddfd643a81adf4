// Record on demand: one button starts the camera system's manual recording and stops it;
// while it runs the tile says so, with how long it has been going.

import { call, cameraPath, element } from "./api.js";

const SECONDS = 900; // one press records at most this long (the gateway allows up to 24 h)
const CHECK_MS = 10000; // while recording, its state is read again this often (it may end by itself)

export class RecordControl {
  /** tile: the tile's <article>; say(text): a message on the tile ("" clears it). */
  constructor(camera, tile, name, say) {
    this.camera = camera;
    this.tile = tile;
    this.say = say;
    this.since = null; // Date the recording started, or null
    this.timer = null;
    this.button = element("button", "record", "Record");
    this.button.type = "button";
    this.button.setAttribute("aria-pressed", "false");
    this.button.title = `Record ${name} now (up to ${SECONDS / 60} minutes); press again to stop`;
    this.button.hidden = true; // until the camera is known to record
    this.chip = tile.querySelector(".rec-chip");
    this.button.addEventListener("click", () => this.press());
  }

  /** Reads the state; a camera whose system does not record keeps the button hidden. */
  async load() {
    try {
      this.show(await call("GET", cameraPath(this.camera, "/record")));
      this.button.hidden = false;
    } catch (error) {
      // 400: no recordings on this camera's system; other answers leave the button, which
      // says what goes wrong when pressed.
      this.button.hidden = error.status === 400;
    }
  }

  async press() {
    const action = this.since ? "stop" : "start";
    this.button.setAttribute("aria-busy", "true");
    try {
      this.show(await call("POST", cameraPath(this.camera, "/record"), { body: { action, seconds: SECONDS } }));
      this.say("");
    } catch (error) {
      this.say(`Could not ${action} recording: ${error.message}`);
    } finally {
      this.button.removeAttribute("aria-busy");
    }
  }

  show({ recording, since }) {
    const started = recording ? new Date(since || Date.now()) : null;
    this.since = started && !Number.isNaN(started.getTime()) ? started : recording ? new Date() : null;
    this.button.textContent = this.since ? "Stop recording" : "Record";
    this.button.setAttribute("aria-pressed", String(Boolean(this.since)));
    this.tile.dataset.recording = this.since ? "on" : "";
    clearInterval(this.timer);
    this.timer = null;
    this.chip.hidden = !this.since;
    if (!this.since) return;
    let ticks = 0;
    const tick = () => {
      const seconds = Math.max(0, Math.round((Date.now() - this.since.getTime()) / 1000));
      this.chip.textContent = `● REC ${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
      if (++ticks % (CHECK_MS / 1000) === 0) this.load();
    };
    tick();
    this.timer = setInterval(tick, 1000);
  }

  close() {
    clearInterval(this.timer);
  }
}
