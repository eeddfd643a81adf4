// One tile of the grid: a camera's video with its status, and the controls the camera
// has (sound, snapshot, talk, pan/tilt/zoom, timeline and bookmarks, record, share,
// fullscreen).

import { apiUrl, button, errorText } from "./api.js";
import { Bookmarks } from "./bookmarks.js";
import { whyUnavailable } from "./live.js";
import { Player } from "./player.js";
import { PtzControl } from "./ptz.js";
import { RecordControl } from "./record.js";
import { ShareControl } from "./share.js";
import { PushToTalk } from "./talk.js";
import { TimelineStrip } from "./timeline.js";

export class Tile {
  /**
   * camera: as listed by /api/v1/cameras. quality, mode: the player's. onChange(tile): its
   * status changed. onRemove(tile): the operator emptied it.
   */
  constructor(camera, template, { quality, mode, onChange, onRemove }) {
    this.camera = camera;
    const name = (this.name = camera.name || camera.id);
    const tile = (this.element = template.content.firstElementChild.cloneNode(true));
    tile.dataset.camera = camera.id;
    tile.setAttribute("aria-label", name);
    tile.querySelector(".name").textContent = name;
    tile.querySelector(".name").title = name;
    this.problem = tile.querySelector(".tile-problem");
    this.goLiveButton = tile.querySelector(".go-live");
    this.player = new Player(camera, tile, quality, { mode, onChange: () => this.update(onChange) });
    const buttons = tile.querySelector(".buttons");

    const snapshot = tile.querySelector(".snapshot");
    snapshot.addEventListener("click", () => this.snapshot(snapshot));
    // Browsers only autoplay muted video: sound is the viewer's choice.
    const sound = tile.querySelector(".sound");
    sound.hidden = !camera.audio; // no microphone on the camera: nothing to hear
    sound.addEventListener("click", () => {
      const video = this.player.video;
      video.muted = !video.muted;
      sound.setAttribute("aria-pressed", String(!video.muted));
      sound.textContent = video.muted ? "Sound off" : "Sound on";
    });
    // Push-to-talk, where the camera has a speaker (spkc).
    const talk = tile.querySelector(".talk");
    talk.hidden = !camera.speaker;
    if (camera.speaker) this.talk = new PushToTalk(camera, talk, tile);

    if (camera.ptz) {
      this.ptz = new PtzControl(camera, tile, name);
      buttons.append(this.ptz.toggle);
      tile.setAttribute("aria-keyshortcuts", "ArrowUp ArrowDown ArrowLeft ArrowRight + -");
    }
    this.strip = new TimelineStrip(camera, tile, this.player, name);
    this.bookmarks = new Bookmarks(camera, this.strip, this.player);
    this.record = new RecordControl(camera, tile, name, (text) => this.say(text));
    // A guest link to what the tile shows: live, or the recording around the moment on screen.
    this.share = new ShareControl(camera, this.player, name, (text) => this.say(text));
    buttons.append(this.strip.toggle, this.record.button, this.share.button);
    tile.append(this.strip.root, this.share.panel);

    const fullscreen = button("fullscreen", "", `Show ${name} on the whole screen`); // drawn by style.css
    fullscreen.addEventListener("click", () => this.fullscreen());
    buttons.append(fullscreen);
    tile.querySelector(".remove").setAttribute("aria-label", `Take ${name} out of this tile`);
    tile.querySelector(".remove").title = `Take ${name} out of this tile`;
    tile.querySelector(".remove").addEventListener("click", () => onRemove(this));
    this.goLiveButton.addEventListener("click", () => this.strip.goLive());
  }

  start() {
    // A configured camera the gateway cannot reach says why; the player keeps trying.
    if (this.camera.available === false) this.player.setStatus("unavailable", whyUnavailable(this.camera.reason || ""));
    else this.player.setStatus("connecting");
    this.player.run();
    this.strip.load(); // also finds out whether the camera keeps recordings
    this.record.load();
  }

  update(onChange) {
    this.goLiveButton.hidden = !this.player.recorded;
    this.strip.showPosition(this.player.shownTime());
    onChange(this);
  }

  /** Plays the recording from `at` (a Date) in this tile, its timeline open. */
  playRecorded(at) {
    this.strip.show(true);
    this.strip.playAt(at, false);
  }

  say(text) {
    this.problem.textContent = text;
    this.problem.hidden = !text;
  }

  async fullscreen() {
    try {
      if (document.fullscreenElement === this.element) await document.exitFullscreen();
      else await this.element.requestFullscreen();
    } catch (error) {
      this.say(`Fullscreen is not available here: ${error.message}`);
    }
  }

  async snapshot(control) {
    control.disabled = true;
    try {
      const response = await fetch(apiUrl(`/api/v1/cameras/${encodeURIComponent(this.camera.id)}/snapshot.jpg`));
      if (!response.ok) throw new Error(await errorText(response));
      const link = document.createElement("a");
      link.href = URL.createObjectURL(await response.blob());
      link.download = `${this.name}-${new Date().toISOString().replace(/[:.]/g, "-")}.jpg`;
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
      this.say("");
    } catch (error) {
      this.say(`Snapshot failed: ${error.message}`);
    } finally {
      control.disabled = false;
    }
  }

  /** The page is closing: the camera is let go of (a held move stops, the mic hangs up). */
  goodbye() {
    if (this.ptz) this.ptz.goodbye();
    if (this.talk) this.talk.release();
    this.player.close();
  }

  close() {
    if (this.ptz) this.ptz.releaseAll();
    if (this.talk) this.talk.release();
    this.player.close();
    this.strip.close();
    this.record.close();
    this.element.remove();
  }
}
