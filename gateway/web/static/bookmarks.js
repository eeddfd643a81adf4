// Bookmarks of one tile's camera, inside its timeline: mark the moment on screen with a
// name, list the camera's bookmarks (newest first) and play one.

import { call, cameraPath, element, momentText } from "./api.js";

const SHOWN = 20; // bookmarks listed; the timeline marks every one in its window
const DURATION_S = 10;

let serial = 0;

export class Bookmarks {
  /** strip: the tile's TimelineStrip (marks them, plays them); player: the tile's Player. */
  constructor(camera, strip, player) {
    this.camera = camera;
    this.strip = strip;
    this.player = player;
    this.loaded = false;
    const key = `bookmarks-${++serial}`;
    const root = (this.root = element("details", "bookmarks"));
    this.summary = element("summary", "", "Bookmarks");
    this.form = element("form", "bm-form");
    const label = element("label", "bm-label", "Name");
    this.name = element("input", "bm-name");
    this.name.id = `${key}-name`;
    label.htmlFor = this.name.id;
    Object.assign(this.name, { type: "text", maxLength: 200, required: true, autocomplete: "off", placeholder: "What happened" });
    this.save = element("button", "bm-save", "Bookmark this moment");
    this.save.type = "submit";
    this.form.append(label, this.name, this.save);
    this.problem = element("p", "bm-problem");
    this.problem.setAttribute("role", "alert");
    this.problem.hidden = true;
    this.list = element("ul", "bm-list");
    this.empty = element("p", "bm-empty", "No bookmarks yet.");
    root.append(this.summary, this.form, this.problem, this.list, this.empty);
    strip.root.append(root);

    root.addEventListener("toggle", () => {
      if (root.open) this.load();
    });
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.mark();
    });
  }

  async load() {
    try {
      const { bookmarks } = await call("GET", cameraPath(this.camera, "/bookmarks"));
      this.loaded = true;
      this.show(bookmarks);
      this.showProblem("");
    } catch (error) {
      this.showProblem(`Bookmarks cannot be read: ${error.message}`);
    }
  }

  show(bookmarks) {
    bookmarks.sort((a, b) => String(b.time).localeCompare(String(a.time)));
    this.summary.textContent = bookmarks.length ? `Bookmarks (${bookmarks.length})` : "Bookmarks";
    this.strip.setBookmarks(bookmarks);
    this.list.replaceChildren(...bookmarks.slice(0, SHOWN).map((bookmark) => this.item(bookmark)));
    this.empty.hidden = bookmarks.length > 0;
  }

  //  12:03:04  Door left open           [Play]
  item(bookmark) {
    const li = element("li", "bm");
    const at = new Date(bookmark.time);
    const when = element("time", "bm-when", Number.isNaN(at.getTime()) ? "" : momentText(at));
    if (when.textContent) when.dateTime = bookmark.time;
    const name = element("span", "bm-title", String(bookmark.name || ""));
    name.title = [bookmark.name, bookmark.description].filter(Boolean).join(" · ");
    const play = element("button", "bm-play", "Play");
    play.type = "button";
    play.setAttribute("aria-label", `Play bookmark ${bookmark.name} from ${when.textContent}`);
    play.disabled = Number.isNaN(at.getTime());
    play.addEventListener("click", () => this.strip.playAt(at, false));
    li.append(when, name, play);
    return li;
  }

  /** Bookmarks the moment on screen: the recorded one, or now when live. */
  async mark() {
    const at = this.player.shownTime() || new Date();
    this.save.setAttribute("aria-busy", "true");
    try {
      await call("POST", cameraPath(this.camera, "/bookmarks"),
        { body: { name: this.name.value.trim(), time: at.toISOString(), duration_s: DURATION_S } });
      this.name.value = "";
      this.showProblem("");
      await this.load();
    } catch (error) {
      this.showProblem(`Could not bookmark: ${error.message}`);
    } finally {
      this.save.removeAttribute("aria-busy");
    }
  }

  showProblem(text) {
    this.problem.textContent = text;
    this.problem.hidden = !text;
  }
}
