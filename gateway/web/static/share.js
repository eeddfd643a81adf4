// A tile's Share button: a guest link (POST /api/v1/links) to what the tile shows, live or
// the recorded minutes around the moment on screen, shown with a copy button and its
// expiry. Shown to viewers allowed to share (a token with `share`): the page asks once.

import { button, call, element, momentText } from "./api.js";

const BEFORE_S = 30; // a recorded link starts this long before the moment on screen
const AFTER_S = 270; // and ends this long after it, or now

let allowed = null;

/** Whether this viewer may make guest links: GET /api/v1/links answers it (403 otherwise). */
export function canShare() {
  if (!allowed) allowed = call("GET", "/api/v1/links").then(() => true, () => false);
  return allowed;
}

export class ShareControl {
  /** player: the tile's (what it shows); say(text): a message on the tile ("" clears it). */
  constructor(camera, player, name, say) {
    this.camera = camera;
    this.player = player;
    this.say = say;
    this.button = button("share", "Share");
    this.button.title = `Share ${name} with a guest link`;
    this.button.setAttribute("aria-expanded", "false");
    this.button.hidden = true; // until the viewer is known to be allowed
    this.button.addEventListener("click", () => (this.panel.hidden ? this.create() : this.hide()));

    this.panel = element("section", "share-panel");
    this.panel.hidden = true;
    this.panel.setAttribute("aria-label", `Guest link to ${name}`);
    const head = element("div", "share-head");
    this.what = element("p", "share-what");
    const close = button("share-close", "✕", "Close the guest link");
    close.addEventListener("click", () => this.hide());
    head.append(this.what, close);
    const row = element("div", "share-row");
    this.url = element("input", "share-url");
    this.url.type = "text";
    this.url.readOnly = true;
    this.url.setAttribute("aria-label", "Guest link address");
    this.url.addEventListener("focus", () => this.url.select());
    this.copy = button("share-copy", "Copy");
    this.copy.addEventListener("click", () => this.copyUrl());
    row.append(this.url, this.copy);
    this.expiry = element("p", "share-expiry");
    this.panel.append(head, row, this.expiry);
    canShare().then((ok) => (this.button.hidden = !ok));
  }

  /** A new link to what the tile shows now. */
  async create() {
    const shown = this.player.shownTime(); // null: live
    const body = { camera: this.camera.id };
    if (shown) {
      const from = new Date(shown.getTime() - BEFORE_S * 1000);
      body.from = from.toISOString();
      body.to = new Date(Math.max(from.getTime() + 1000, Math.min(shown.getTime() + AFTER_S * 1000, Date.now()))).toISOString();
    } else {
      body.live = true;
    }
    this.button.setAttribute("aria-busy", "true");
    try {
      const link = await call("POST", "/api/v1/links", { body });
      this.what.textContent = link.live
        ? "Live video"
        : `Recording ${momentText(new Date(link.from))} – ${momentText(new Date(link.to))}`;
      this.url.value = link.url;
      this.expiry.textContent = `Works until ${momentText(new Date(link.expires_at))}`;
      this.copy.textContent = "Copy";
      this.panel.hidden = false;
      this.button.setAttribute("aria-expanded", "true");
      this.say("");
      this.url.focus();
    } catch (error) {
      this.say(`Could not make a guest link: ${error.message}`);
    } finally {
      this.button.removeAttribute("aria-busy");
    }
  }

  async copyUrl() {
    try {
      await navigator.clipboard.writeText(this.url.value);
    } catch {
      // No clipboard API (a page not served over HTTPS): the selection, copied the old way.
      this.url.select();
      document.execCommand("copy");
    }
    this.copy.textContent = "Copied";
  }

  hide() {
    this.panel.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
  }
}
