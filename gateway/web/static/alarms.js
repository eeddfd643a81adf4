// The alarms of the Events panel: open alarms (active or claimed) with the actions their
// source takes: ACC's Acknowledge (and an optional note), Claim and Dismiss; Alta's Verify
// (valid, false alarm, or no verdict) and End, with Alta's shared video links. Shown only to
// tokens with the `alarms` action.
//
// Items are kept by alarm id and updated in place: a refresh while someone types a note
// leaves the note, and the focus, where they are.

import { timeElement } from "./events.js";

const CLOSED = new Set(["acknowledged", "dismissed"]);
// Alta's verification results (POST .../verify {"result"}), as the buttons say them.
const VERDICTS = [["valid", "Valid"], ["false", "False alarm"], ["none", "No verdict"]];
const SOURCES = { wep: "ACC", alta: "Alta" };
const MAX_NOTE = 1000; // gateway/events/alarms.py MAX_NOTE

export class AlarmsPanel {
  /** root: the alarms <section>; cameraName(id): a camera's display name; onCount(n): open alarms. */
  constructor(root, { apiUrl, errorText, cameraName, onCount }) {
    this.root = root;
    this.onCount = onCount || (() => {}); // how many are open, after each refresh
    this.apiUrl = apiUrl;
    this.errorText = errorText;
    this.cameraName = cameraName;
    this.heading = root.querySelector("h3");
    this.list = root.querySelector(".alarm-list");
    this.empty = root.querySelector(".alarms-empty");
    this.problem = root.querySelector(".alarms-problem");
    this.items = new Map(); // alarm id -> AlarmItem
    this.allowed = true;
    this.loading = null;
    this.again = false;
  }

  /** Fetches the list again; calls made while one is under way make one more, after it. */
  async refresh() {
    if (!this.allowed) return;
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = this.load();
    try {
      await this.loading;
    } finally {
      this.loading = null;
    }
    if (this.again) {
      this.again = false;
      await this.refresh();
    }
  }

  async load() {
    try {
      const response = await fetch(this.apiUrl("/api/v1/alarms"), { cache: "no-store" });
      if (response.status === 401 || response.status === 403) {
        // Not this token's business (no `alarms` action): no section at all.
        this.allowed = false;
        this.root.hidden = true;
        this.onCount(0);
        return;
      }
      if (!response.ok) throw new Error(await this.errorText(response));
      const body = await response.json();
      this.root.hidden = false;
      this.show(body.alarms.filter((alarm) => !CLOSED.has(alarm.state)));
      const unavailable = (body.unavailable || []).map((failed) => `${failed.source}: ${failed.reason}`);
      this.showProblem(unavailable.length ? `Some alarms cannot be read (${unavailable.join("; ")})` : "");
    } catch (error) {
      this.root.hidden = false;
      this.showProblem(`Alarms cannot be read: ${error.message}`);
    }
  }

  showProblem(text) {
    this.problem.textContent = text;
    this.problem.hidden = !text;
  }

  show(alarms) {
    alarms.sort((a, b) => String(b.time || "").localeCompare(String(a.time || "")));
    const wanted = new Set(alarms.map((alarm) => alarm.id));
    for (const [id, item] of this.items) {
      if (wanted.has(id)) continue;
      const hadFocus = item.element.contains(document.activeElement);
      item.element.remove();
      this.items.delete(id);
      if (hadFocus) this.heading.focus(); // the acted-on alarm went: keep the keyboard nearby
    }
    alarms.forEach((alarm, index) => {
      let item = this.items.get(alarm.id);
      if (!item) {
        item = new AlarmItem(this, alarm.id);
        this.items.set(alarm.id, item);
      }
      item.update(alarm);
      // Moved only when out of place: moving a node takes the focus out of it.
      if (this.list.children[index] !== item.element) this.list.insertBefore(item.element, this.list.children[index] || null);
    });
    this.empty.hidden = alarms.length > 0;
    this.onCount(alarms.length);
  }

  async act(id, action, note, result) {
    const body = note ? { note } : {};
    if (result) body.result = result;
    const response = await fetch(this.apiUrl(`/api/v1/alarms/${encodeURIComponent(id)}/${action}`), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(await this.errorText(response));
    await this.refresh();
  }
}

/** Only http(s) links become anchors: an upstream's text never becomes a javascript: URL. */
const isWebUrl = (url) => typeof url === "string" && /^https?:\/\//i.test(url);

let serial = 0; // element ids: alarm ids come from upstream, never into an id attribute

const element = (tag, className, text) => {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
};

const button = (className, text, describedBy) => {
  const node = element("button", className, text);
  node.type = "button";
  if (describedBy) node.setAttribute("aria-describedby", describedBy);
  return node;
};

class AlarmItem {
  constructor(panel, id) {
    this.panel = panel;
    this.id = id;
    this.busy = false; // an action is under way
    const key = `alarm-${++serial}`;
    const li = (this.element = element("li", "alarm"));
    const head = element("div", "alarm-head");
    this.name = element("strong", "alarm-name");
    this.name.id = `${key}-name`;
    this.source = element("span", "alarm-source");
    this.state = element("span", "alarm-state");
    head.append(this.name, this.source, this.state);
    this.meta = element("div", "alarm-meta");
    this.videos = element("div", "alarm-videos"); // Alta's shared links: its own player, in a new tab

    this.buttons = element("div", "alarm-actions");
    this.acknowledge = button("acknowledge", "Acknowledge…", this.name.id);
    this.acknowledge.setAttribute("aria-expanded", "false");
    this.acknowledge.setAttribute("aria-controls", `${key}-form`);
    this.claim = button("claim", "Claim", this.name.id);
    this.dismiss = button("dismiss", "Dismiss", this.name.id);
    this.verdicts = VERDICTS.map(([result, text]) => {
      const node = button(`verify verify-${result}`, text, this.name.id);
      node.dataset.result = result;
      node.title = `Verify: ${text.toLowerCase()}`;
      return node;
    });
    this.end = button("end", "End", this.name.id);
    this.buttons.append(this.acknowledge, this.claim, this.dismiss, ...this.verdicts, this.end);

    // The note is asked for here, not with window.prompt: it stays in the page, keyboard
    // and screen-reader friendly, and a refresh does not lose it.
    this.form = element("form", "ack-form");
    this.form.id = `${key}-form`;
    this.form.hidden = true;
    const label = element("label", "ack-label", "Note (optional)");
    label.htmlFor = `${key}-note`;
    this.note = element("input", "ack-note");
    this.note.id = `${key}-note`;
    this.note.type = "text";
    this.note.maxLength = MAX_NOTE;
    this.note.autocomplete = "off";
    this.note.placeholder = "What you saw, what you did";
    this.send = element("button", "ack-send", "Acknowledge");
    this.send.type = "submit";
    this.send.setAttribute("aria-describedby", this.name.id);
    this.cancel = button("ack-cancel", "Cancel");
    const row = element("div", "ack-row");
    row.append(this.send, this.cancel);
    this.form.append(label, this.note, row);

    this.problem = element("p", "alarm-problem");
    this.problem.setAttribute("role", "alert");
    this.problem.hidden = true;
    li.append(head, this.meta, this.videos, this.buttons, this.form, this.problem);

    this.acknowledge.addEventListener("click", () => this.openForm(true));
    this.cancel.addEventListener("click", () => this.openForm(false));
    this.note.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.openForm(false);
    });
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.run("acknowledge", this.note.value.trim(), this.send);
    });
    this.claim.addEventListener("click", () => this.run("claim", "", this.claim));
    this.dismiss.addEventListener("click", () => this.run("dismiss", "", this.dismiss));
    for (const node of this.verdicts) {
      node.addEventListener("click", () => this.run("verify", "", node, node.dataset.result));
    }
    this.end.addEventListener("click", () => this.run("end", "", this.end));
  }

  update(alarm) {
    this.name.textContent = String(alarm.name || alarm.id);
    const state = String(alarm.state || "");
    this.element.dataset.state = state;
    this.state.textContent = state.charAt(0).toUpperCase() + state.slice(1);
    const source = String(alarm.source || "");
    this.element.dataset.source = source;
    this.source.textContent = SOURCES[source] || source;
    const cameras = (Array.isArray(alarm.cameras) ? alarm.cameras : []).map((id) => this.panel.cameraName(String(id)));
    const data = alarm.data && typeof alarm.data === "object" ? alarm.data : {};
    const when = alarm.time ? [timeElement(alarm.time)] : [];
    // Alta names the device that detected (origin_name); the webhook's device is an id.
    const device = [data.origin_name, data.device].find((value) => typeof value === "string" && value) || "";
    const where = cameras.length ? cameras.join(", ") : device || "No camera";
    const merged = data.merged === true ? " · more detections merged in" : "";
    this.meta.replaceChildren(...when, when.length ? ` · ${where}${merged}` : `${where}${merged}`);
    const shared = alarm.links && Array.isArray(alarm.links.shared) ? alarm.links.shared : [];
    this.videos.replaceChildren(...shared.filter(isWebUrl).map((url, index) => {
      const link = element("a", "alarm-video", shared.length > 1 ? `Video ${index + 1}` : "Video");
      Object.assign(link, { href: url, target: "_blank", rel: "noopener noreferrer" });
      link.title = "The alarm's video on Alta (opens in a new tab)";
      return link;
    }));
    this.videos.hidden = !this.videos.children.length;
    // Only the actions this alarm's source takes (GET /api/v1/alarms says which).
    const actions = new Set(Array.isArray(alarm.actions) ? alarm.actions : ["acknowledge", "claim", "dismiss"]);
    this.acknowledge.hidden = !actions.has("acknowledge");
    this.claim.hidden = !actions.has("claim");
    this.dismiss.hidden = !actions.has("dismiss");
    for (const node of this.verdicts) node.hidden = !actions.has("verify");
    this.end.hidden = !actions.has("end");
    this.claim.disabled = state === "claimed";
  }

  openForm(open) {
    this.form.hidden = !open;
    this.buttons.hidden = open;
    this.acknowledge.setAttribute("aria-expanded", String(open));
    if (open) this.note.focus();
    else this.acknowledge.focus();
  }

  async run(action, note, pressed, result) {
    // Busy, not disabled: a disabled button drops the keyboard focus to the page's top.
    if (this.busy) return;
    this.busy = true;
    const controls = [this.acknowledge, this.claim, this.dismiss, ...this.verdicts, this.end, this.send, this.cancel];
    controls.forEach((control) => control.setAttribute("aria-disabled", "true"));
    pressed.setAttribute("aria-busy", "true");
    this.showProblem("");
    try {
      await this.panel.act(this.id, action, note, result);
      if (action === "acknowledge" && this.element.isConnected) {
        this.note.value = "";
        this.openForm(false);
      }
    } catch (error) {
      this.showProblem(`Could not ${action}: ${error.message}`);
    } finally {
      this.busy = false;
      pressed.removeAttribute("aria-busy");
      controls.forEach((control) => control.removeAttribute("aria-disabled"));
    }
  }

  showProblem(text) {
    this.problem.textContent = text;
    this.problem.hidden = !text;
  }
}
