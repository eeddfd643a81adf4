// The timeline of one tile's camera: where recordings and motion exist (GET .../timeline),
// a scrubber to play the recording from a moment, a box to type any moment, and back to
// live. Shown for cameras whose system keeps recordings; the others answer 400 and get
// no timeline at all.

import { ApiError, button, call, cameraPath, clockText, element, localInputValue, momentText } from "./api.js";

const SPANS = [[600, "Last 10 minutes"], [3600, "Last hour"], [6 * 3600, "Last 6 hours"], [24 * 3600, "Last 24 hours"]];
const SPAN = 3600; // shown first
const REFRESH_MS = 30000; // the timeline of an open strip is read again this often
const SCRUB_SETTLE_MS = 500; // the scrubber's last position for this long starts the playback
const BACK_S = 300; // the moment offered in the time box when the strip opens: 5 minutes ago

let serial = 0;

export class TimelineStrip {
  /** player: the tile's Player; name: the camera's display name. */
  constructor(camera, tile, player, name) {
    this.camera = camera;
    this.tile = tile;
    this.player = player;
    this.span = SPAN;
    this.end = Date.now(); // the window's right edge
    this.following = true; // the window ends now, and moves with the clock
    this.recordings = [];
    this.motion = [];
    this.bookmarks = [];
    this.supported = null; // unknown until the first answer
    this.timer = null;
    this.settle = null;
    this.scrubbing = false;
    this.build(name);
    this.listen();
  }

  build(name) {
    const id = `timeline-${++serial}`;
    this.toggle = button("timeline-toggle", "Timeline", `Timeline and recordings of ${name}`);
    this.toggle.setAttribute("aria-expanded", "false");
    this.toggle.setAttribute("aria-controls", id);
    this.toggle.hidden = true; // until the camera is known to keep recordings
    const root = (this.root = element("section", "timeline"));
    root.id = id;
    root.hidden = true;
    root.setAttribute("aria-label", `Timeline of ${name}`);

    const head = element("div", "tl-head");
    this.spanSelect = element("select", "tl-span");
    this.spanSelect.setAttribute("aria-label", "How much of the timeline to show");
    for (const [seconds, label] of SPANS) this.spanSelect.append(new Option(label, String(seconds), false, seconds === SPAN));
    this.form = element("form", "tl-goto");
    const label = element("label", "tl-goto-label", "From");
    this.input = element("input", "tl-time");
    this.input.type = "datetime-local";
    this.input.step = "1";
    this.input.id = `${id}-time`;
    this.input.required = true;
    label.htmlFor = this.input.id;
    const play = element("button", "tl-play", "Play");
    play.type = "submit";
    play.setAttribute("aria-label", "Play the recording from this moment");
    this.form.append(label, this.input, play);
    this.live = button("tl-live", "Live");
    this.live.title = "Back to the live picture";
    head.append(this.spanSelect, this.live);

    const bar = element("div", "tl-bar");
    this.track = element("div", "tl-track");
    this.scrub = element("input", "tl-scrub");
    this.scrub.type = "range";
    this.scrub.min = "0";
    this.scrub.step = "1";
    this.scrub.setAttribute("aria-label", "Play the recording from a moment on the timeline");
    bar.append(this.track, this.scrub);

    this.scale = element("div", "tl-scale");
    this.status = element("p", "tl-status");
    this.status.setAttribute("role", "status");
    root.append(head, bar, this.scale, this.form, this.status);
  }

  listen() {
    this.toggle.addEventListener("click", () => this.show(this.root.hidden));
    this.spanSelect.addEventListener("change", () => {
      this.span = Number(this.spanSelect.value);
      if (this.following) this.end = Date.now();
      this.load();
    });
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      const at = new Date(this.input.value); // datetime-local: the viewer's local time
      if (!Number.isNaN(at.getTime())) this.playAt(at, false);
    });
    this.live.addEventListener("click", () => this.goLive());
    this.scrub.addEventListener("pointerdown", () => (this.scrubbing = true));
    for (const type of ["pointerup", "pointercancel"]) this.scrub.addEventListener(type, () => (this.scrubbing = false));
    this.scrub.addEventListener("input", () => {
      const at = this.scrubTime();
      this.scrub.setAttribute("aria-valuetext", momentText(at));
      this.scrub.title = momentText(at);
    });
    this.scrub.addEventListener("change", () => {
      // The keyboard changes it a step at a time: play once it settles.
      clearTimeout(this.settle);
      this.settle = setTimeout(() => {
        this.settle = null;
        this.playAt(this.scrubTime(), true);
      }, SCRUB_SETTLE_MS);
    });
  }

  show(open) {
    this.root.hidden = !open;
    this.toggle.setAttribute("aria-expanded", String(open));
    clearInterval(this.timer);
    this.timer = null;
    if (!open) return;
    if (!this.input.value) this.input.value = localInputValue(new Date(Date.now() - BACK_S * 1000));
    this.load();
    this.timer = setInterval(() => this.load(), REFRESH_MS);
  }

  get start() {
    return this.end - this.span * 1000;
  }

  /** Reads the timeline of the window; the first answer also says whether there is one. */
  async load() {
    if (this.following) this.end = Date.now();
    const [from, to] = [new Date(this.start), new Date(this.end)];
    try {
      const timeline = await call("GET", cameraPath(this.camera, "/timeline"),
        { query: { from: from.toISOString(), to: to.toISOString() } });
      this.supported = true;
      this.recordings = parseRanges(timeline.recordings);
      this.motion = parseRanges(timeline.motion);
      this.say(this.recordings.length ? "" : "Nothing recorded in this span.");
    } catch (error) {
      if (error instanceof ApiError && error.status === 400 && error.code === "not_supported") {
        this.supported = false; // the camera's system keeps no recordings
        this.toggle.hidden = true;
        this.show(false);
        return;
      }
      this.supported = this.supported ?? true; // recorded video may still play: only the map is missing
      this.recordings = [];
      this.motion = [];
      this.say(`The timeline cannot be read: ${error.message}. Pick a moment above to play it.`);
    }
    this.toggle.hidden = !this.supported;
    this.draw();
  }

  say(text) {
    this.status.textContent = text;
    this.status.hidden = !text;
  }

  setBookmarks(bookmarks) {
    this.bookmarks = bookmarks;
    if (!this.root.hidden) this.draw();
  }

  draw() {
    const spans = [];
    const place = (from, to, className, title) => {
      const left = Math.max(from, this.start);
      const right = Math.min(to, this.end);
      if (right <= left && className !== "tl-mark") return;
      const span = element("span", className);
      span.style.left = `${((left - this.start) / (this.span * 1000)) * 100}%`;
      if (className !== "tl-mark") span.style.width = `${Math.max(0.3, ((right - left) / (this.span * 1000)) * 100)}%`;
      span.title = title;
      spans.push(span);
    };
    for (const [from, to] of this.recordings) place(from, to, "tl-rec", `Recorded ${momentText(new Date(from))} – ${momentText(new Date(to))}`);
    for (const [from, to] of this.motion) place(from, to, "tl-motion", `Motion ${momentText(new Date(from))} – ${momentText(new Date(to))}`);
    for (const bookmark of this.bookmarks) {
      const at = Date.parse(bookmark.time);
      if (at >= this.start && at <= this.end) place(at, at, "tl-mark", `Bookmark: ${bookmark.name}`);
    }
    this.track.replaceChildren(...spans);
    this.scrub.max = String(this.span);
    this.scale.replaceChildren(...[0, 0.5, 1].map((fraction) => {
      const at = new Date(this.start + fraction * this.span * 1000);
      return element("span", "", this.span > 6 * 3600 ? momentText(at).slice(0, -3) : clockText(at).slice(0, 5));
    }));
    this.showPosition(this.player.shownTime());
  }

  scrubTime() {
    return new Date(this.start + Number(this.scrub.value) * 1000);
  }

  /** The moment on screen (null: live) as the scrubber's position. */
  showPosition(at) {
    if (this.root.hidden || this.scrubbing || this.settle) return; // the operator is choosing
    const shown = at ? at.getTime() : this.end;
    this.scrub.value = String(Math.round((Math.min(Math.max(shown, this.start), this.end) - this.start) / 1000));
    this.scrub.setAttribute("aria-valuetext", at ? momentText(at) : "Live");
    this.scrub.title = at ? momentText(at) : "Live";
  }

  /**
   * Plays from `at`. From the scrubber, a moment between recordings moves on to the next
   * recording in view (the map says nothing is there); a typed moment is asked for as is.
   */
  playAt(at, snap) {
    let moment = at.getTime();
    if (snap && this.recordings.length && !this.recordings.some(([from, to]) => moment >= from && moment < to)) {
      const next = this.recordings.find(([from]) => from > moment);
      if (next) moment = next[0];
    }
    if (moment < this.start || moment > this.end) {
      // Outside the window: the window moves to show it in its middle.
      this.following = false;
      this.end = Math.min(Date.now(), moment + (this.span * 1000) / 2);
      this.load();
    }
    this.input.value = localInputValue(new Date(moment));
    this.player.playFrom(new Date(moment));
  }

  goLive() {
    this.player.goLive();
    if (!this.following) {
      this.following = true;
      if (!this.root.hidden) this.load();
    }
  }

  close() {
    clearInterval(this.timer);
    clearTimeout(this.settle);
  }
}

/** [{from, to}] ISO ranges as [[ms, ms]], in order, unreadable ones left out. */
function parseRanges(ranges) {
  return (Array.isArray(ranges) ? ranges : [])
    .map((range) => [Date.parse(range.from), Date.parse(range.to)])
    .filter(([from, to]) => Number.isFinite(from) && Number.isFinite(to) && to > from)
    .sort((a, b) => a[0] - b[0]);
}
