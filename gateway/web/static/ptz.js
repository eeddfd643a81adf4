// Pan, tilt and zoom of one tile's camera: a hold-to-move pad (8 directions, zoom in and
// out, home, presets), the arrow keys and +/- while the tile has the focus, a click in the
// picture to centre there and a box dragged on it to zoom to it.
//
// A held move is sent again every REPEAT_MS: the gateway stops a move by itself 1 s after
// the last command (its dead man), so a page that vanishes never leaves a camera turning.
// Releasing sends /ptz/stop at once. Commands go out one at a time, the newest winning:
// a stop never overtakes the move before it.

import { button, call, cameraPath, element, momentText } from "./api.js";

const REPEAT_MS = 350;
const SPEED = 0.6;
const DRAG_PX = 8; // a press that moves less than this is a click (centre), more a box (zoom)

// [symbol, what it does, pan, tilt]; the middle of the pad is "home".
const PAD = [
  ["↖", "Move up and left", -1, 1], ["↑", "Move up", 0, 1], ["↗", "Move up and right", 1, 1],
  ["←", "Move left", -1, 0], null, ["→", "Move right", 1, 0],
  ["↙", "Move down and left", -1, -1], ["↓", "Move down", 0, -1], ["↘", "Move down and right", 1, -1],
];
const KEYS = {
  ArrowLeft: [-1, 0, 0], ArrowRight: [1, 0, 0], ArrowUp: [0, 1, 0], ArrowDown: [0, -1, 0],
  "+": [0, 0, 1], "=": [0, 0, 1], "-": [0, 0, -1], _: [0, 0, -1],
};
const FIELDS = new Set(["INPUT", "SELECT", "TEXTAREA"]);

const clamp = (value, low, high) => Math.min(high, Math.max(low, value));

/** The gateway's message as a sentence, its UTC time in local words: "camera 'porch' is
 *  being steered by guard-2 since 2024-05-01T12:00:00Z" reads "Camera 'porch' is being
 *  steered by guard-2 since 14:00:00". */
function readable(message) {
  const text = message.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, (iso) => momentText(new Date(iso)));
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export class PtzControl {
  /** camera: the listed camera (ptz: true); tile: its <article>; name: its display name. */
  constructor(camera, tile, name) {
    this.camera = camera;
    this.tile = tile;
    this.screen = tile.querySelector(".screen");
    this.video = tile.querySelector("video");
    this.held = new Map(); // "pad" | a key -> [pan, tilt, zoom]
    this.moving = false; // a move was sent and not stopped yet
    this.repeat = null;
    this.wanted = null; // the newest command not sent yet
    this.sending = false;
    this.fov = true; // centre and zoom-to work, until the gateway says 501
    this.presetsLoaded = false;
    this.notes = new Set(); // what was said once already
    this.drag = null;
    this.build(name);
    this.listen();
  }

  build(name) {
    this.toggle = button("ptz-toggle", "PTZ", `PTZ: pan, tilt and zoom ${name}`);
    this.toggle.setAttribute("aria-pressed", "false");
    const root = (this.root = element("div", "ptz"));
    root.hidden = true;
    root.setAttribute("role", "group");
    root.setAttribute("aria-label", `Camera control: ${name}`);
    const pad = element("div", "ptz-pad");
    for (const entry of PAD) {
      if (!entry) {
        this.home = button("ptz-home", "⌂", "Go to the home position");
        pad.append(this.home);
        continue;
      }
      const [symbol, label, pan, tilt] = entry;
      const key = button("ptz-move", symbol, label);
      this.holdable(key, [pan, tilt, 0]);
      pad.append(key);
    }
    const side = element("div", "ptz-side");
    const zoomIn = button("ptz-zoom", "+", "Zoom in");
    const zoomOut = button("ptz-zoom", "−", "Zoom out");
    this.holdable(zoomIn, [0, 0, 1]);
    this.holdable(zoomOut, [0, 0, -1]);
    this.presets = element("select", "ptz-presets");
    this.presets.setAttribute("aria-label", "Go to a preset");
    this.presets.append(new Option("Presets…", ""));
    side.append(zoomIn, zoomOut, this.presets);
    const controls = element("div", "ptz-controls");
    controls.append(pad, side);
    this.hint = element("p", "ptz-hint", "Click to centre · drag a box to zoom");
    this.note = element("p", "ptz-note");
    this.note.setAttribute("role", "status");
    this.note.hidden = true;
    this.problem = element("p", "ptz-problem");
    this.problem.setAttribute("role", "alert");
    this.problem.hidden = true;
    this.box = element("div", "ptz-box");
    this.box.hidden = true;
    root.append(controls, this.hint, this.note, this.problem);
    this.screen.append(this.box, root);
  }

  listen() {
    this.toggle.addEventListener("click", () => this.show(this.root.hidden));
    this.home.addEventListener("click", () => this.send("/ptz/home"));
    this.presets.addEventListener("change", () => {
      const number = this.presets.value;
      this.presets.value = "";
      if (number) this.send(`/presets/${encodeURIComponent(number)}/goto`);
    });
    this.tile.addEventListener("keydown", (event) => this.key(event, true));
    this.tile.addEventListener("keyup", (event) => this.key(event, false));
    this.tile.addEventListener("focusout", (event) => {
      if (!this.tile.contains(event.relatedTarget)) this.releaseAll();
    });
    window.addEventListener("blur", () => this.releaseAll());
    this.screen.addEventListener("pointerdown", (event) => this.pressPicture(event));
    this.screen.addEventListener("pointermove", (event) => this.dragPicture(event));
    this.screen.addEventListener("pointerup", (event) => this.releasePicture(event));
    this.screen.addEventListener("pointercancel", () => this.endDrag());
  }

  show(open) {
    this.root.hidden = !open;
    this.toggle.setAttribute("aria-pressed", String(open));
    this.tile.dataset.ptz = open ? "open" : "";
    this.screen.classList.toggle("aiming", open && this.fov);
    if (open && !this.presetsLoaded) this.loadPresets();
    if (!open) this.releaseAll();
  }

  async loadPresets() {
    this.presetsLoaded = true;
    try {
      const { presets } = await call("GET", cameraPath(this.camera, "/presets"));
      for (const preset of presets) {
        const label = preset.name ? `${preset.number} · ${preset.name}` : String(preset.number);
        this.presets.append(new Option(label, String(preset.number)));
      }
      this.presets.disabled = presets.length === 0;
      if (!presets.length) this.presets.options[0].textContent = "No presets";
    } catch (error) {
      this.presetsLoaded = false; // asked again when the pad opens again
      this.presets.disabled = true;
      this.presets.title = `Presets cannot be read: ${error.message}`;
    }
  }

  // ---- holding a direction --------------------------------------------------------

  holdable(control, vector) {
    control.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      event.preventDefault();
      event.stopPropagation(); // not a click in the picture
      control.setPointerCapture(event.pointerId);
      this.hold("pad", vector);
    });
    for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) {
      control.addEventListener(type, () => this.hold("pad", null));
    }
    control.addEventListener("keydown", (event) => {
      if ((event.key === " " || event.key === "Enter") && !event.repeat) {
        event.preventDefault();
        this.hold("pad", vector);
      }
    });
    control.addEventListener("keyup", (event) => {
      if (event.key === " " || event.key === "Enter") this.hold("pad", null);
    });
  }

  key(event, down) {
    const vector = KEYS[event.key];
    if (!vector || FIELDS.has(event.target.tagName) || event.altKey || event.ctrlKey || event.metaKey) return;
    event.preventDefault(); // arrows would scroll the page
    if (down && event.repeat) return;
    if (down && this.root.hidden) this.show(true); // its messages show on the pad
    this.hold(event.key, down ? vector : null);
  }

  releaseAll() {
    if (this.held.size) {
      this.held.clear();
      this.update();
    }
  }

  hold(source, vector) {
    if (vector) this.held.set(source, vector);
    else if (!this.held.delete(source)) return;
    this.update();
  }

  /** Sends the move of everything held together (two arrows: a diagonal), or stops. */
  update() {
    clearInterval(this.repeat);
    this.repeat = null;
    const sum = [0, 0, 0];
    for (const vector of this.held.values()) vector.forEach((part, i) => (sum[i] += part));
    const [pan, tilt, zoom] = sum.map((part) => clamp(part, -1, 1) * SPEED);
    if (!pan && !tilt && !zoom) {
      if (this.moving) this.send("/ptz/stop");
      this.moving = false;
      return;
    }
    const move = () => this.send("/ptz", { pan, tilt, zoom });
    this.moving = true; // from now on a release must stop it, even before the gateway answers
    move();
    this.repeat = setInterval(move, REPEAT_MS);
  }

  /** The page is closing: a last stop (the gateway's dead man stops it anyway). */
  goodbye() {
    clearInterval(this.repeat);
    if (this.moving) call("POST", cameraPath(this.camera, "/ptz/stop"), { keepalive: true }).catch(() => {});
  }

  // ---- one command at a time, the newest winning ---------------------------------------

  send(path, body) {
    this.wanted = { path, body };
    if (!this.sending) this.pump();
  }

  async pump() {
    this.sending = true;
    while (this.wanted) {
      const { path, body } = this.wanted;
      this.wanted = null;
      try {
        await call("POST", cameraPath(this.camera, path), { body });
        this.showProblem("");
      } catch (error) {
        this.refused(path, error);
      }
    }
    this.sending = false;
  }

  refused(path, error) {
    if (error.status === 501 && (path === "/ptz/center" || path === "/ptz/zoom-to")) {
      this.fov = false;
      this.screen.classList.remove("aiming");
      this.hint.hidden = true;
      this.say("fov", "This camera cannot centre on a click or zoom to a box. Use the pad or a preset.");
      return;
    }
    if (error.status === 501 && path === "/ptz/home") {
      this.home.disabled = true;
      this.home.title = "This camera has no home position";
      this.say("home", "This camera has no home position. Use a preset.");
      return;
    }
    // 409: someone else steers it. Holding on would only repeat the refusal: the move ends
    // here; pressing again asks again.
    clearInterval(this.repeat);
    this.repeat = null;
    this.held.clear();
    this.moving = false;
    if (this.root.hidden) this.show(true);
    this.showProblem(readable(error.message));
  }

  /** A note said once per camera and page. */
  say(key, text) {
    if (this.notes.has(key)) return;
    this.notes.add(key);
    this.note.textContent = text;
    this.note.hidden = false;
  }

  showProblem(text) {
    this.problem.textContent = text;
    this.problem.hidden = !text;
  }

  // ---- click to centre, drag to zoom ------------------------------------------------

  /** Where the picture is on screen (the video is letterboxed: object-fit contain). */
  pictureRect() {
    const box = this.video.getBoundingClientRect();
    const { videoWidth: width, videoHeight: height } = this.video;
    if (!width || !height) return box;
    const scale = Math.min(box.width / width, box.height / height);
    const shown = { width: width * scale, height: height * scale };
    return { left: box.left + (box.width - shown.width) / 2, top: box.top + (box.height - shown.height) / 2, ...shown };
  }

  normal(event) {
    const rect = this.pictureRect();
    return [clamp((event.clientX - rect.left) / rect.width, 0, 1), clamp((event.clientY - rect.top) / rect.height, 0, 1)];
  }

  pressPicture(event) {
    if (this.root.hidden || !this.fov || event.button !== 0) return;
    if (event.target !== this.video && event.target !== this.screen) return; // the pad, a badge
    event.preventDefault();
    this.screen.setPointerCapture(event.pointerId);
    this.drag = { x: event.clientX, y: event.clientY, from: this.normal(event), dragged: false };
  }

  dragPicture(event) {
    const drag = this.drag;
    if (!drag) return;
    drag.dragged = drag.dragged || Math.hypot(event.clientX - drag.x, event.clientY - drag.y) >= DRAG_PX;
    if (!drag.dragged) return;
    const screen = this.screen.getBoundingClientRect();
    const rect = this.pictureRect();
    const x = clamp(event.clientX, rect.left, rect.left + rect.width);
    const y = clamp(event.clientY, rect.top, rect.top + rect.height);
    const startX = clamp(drag.x, rect.left, rect.left + rect.width);
    const startY = clamp(drag.y, rect.top, rect.top + rect.height);
    Object.assign(this.box.style, {
      left: `${Math.min(x, startX) - screen.left}px`, top: `${Math.min(y, startY) - screen.top}px`,
      width: `${Math.abs(x - startX)}px`, height: `${Math.abs(y - startY)}px`,
    });
    this.box.hidden = false;
  }

  releasePicture(event) {
    const drag = this.drag;
    if (!drag) return;
    this.endDrag();
    const to = this.normal(event);
    if (!drag.dragged) {
      this.send("/ptz/center", { x: to[0], y: to[1] });
      return;
    }
    const roi = [Math.min(drag.from[0], to[0]), Math.min(drag.from[1], to[1]),
      Math.max(drag.from[0], to[0]), Math.max(drag.from[1], to[1])];
    if (roi[2] - roi[0] > 0.01 && roi[3] - roi[1] > 0.01) this.send("/ptz/zoom-to", { roi });
  }

  endDrag() {
    this.drag = null;
    this.box.hidden = true;
  }
}
