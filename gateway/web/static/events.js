// The Events panel: recent events, then live ones over Server-Sent Events, newest first.
//
// Event data is untrusted (camera names, notes, WEP's fields): it reaches the page only
// through textContent and through links checked to stay on this gateway.

// SSE `event:` names, one per type family (gateway/events/model.py FAMILIES).
// "rule": a rule fired; "notify": the same, sent highlighted to the subjects the rule names.
export const FAMILIES = ["motion", "analytics", "alarm", "device", "user", "rule", "notify", "system"];

const HISTORY = 50; // events asked for on load
const KEPT = 100; // entries kept in the list: the oldest go first
const SEEN = 1000; // event ids (and alarm actions) remembered for dedupe
const ALERT_MS = 3000; // how long a camera's tile stays outlined after its event
const MAX_BACKOFF_MS = 30000;
const ECHO_MS = 10000; // WEP's event for an action the gateway took comes within this

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const pad = (n) => String(n).padStart(2, "0");

/** An ISO time as local HH:MM:SS; "" when it is not a time. */
function clock(iso) {
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? "" : `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`;
}

/** A <time> element showing HH:MM:SS, the full local date and time on hover. */
export function timeElement(iso) {
  const element = document.createElement("time");
  element.textContent = clock(iso);
  if (element.textContent) {
    element.dateTime = iso;
    element.title = new Date(iso).toLocaleString();
  }
  return element;
}

/** An event's or alarm's link as a URL of this gateway (with the page's token); null for
 *  anything else: links come from the server, but a `javascript:` or foreign URL never
 *  becomes an href. */
export function sameOrigin(path, apiUrl) {
  if (typeof path !== "string" || !path.startsWith("/") || path.startsWith("//")) return null;
  const url = new URL(apiUrl(path));
  return url.origin === location.origin ? url.toString() : null;
}

const sentenceCase = (type) => {
  const words = type.toLowerCase().replace(/_/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
};

const ENDED = { start: "started", stop: "ended" };

/** What happened, in words: "Motion started", "Alarm acknowledged by guard-1". */
export function describe(event) {
  const data = event.data && typeof event.data === "object" ? event.data : {};
  const type = String(event.type || "");
  if (type.startsWith("DEVICE_MOTION_") && ENDED[event.state]) return `Motion ${ENDED[event.state]}`;
  if (type.startsWith("DEVICE_ANALYTICS_") && ENDED[event.state]) return `Analytics ${ENDED[event.state]}`;
  if (type === "RULE_FIRED") {
    const rule = data.rule && typeof data.rule === "object" && typeof data.rule.name === "string" ? data.rule.name : "";
    return rule ? `Rule “${rule}” fired` : "A rule fired";
  }
  if (type.startsWith("ALARM_")) {
    // The gateway's own alarm events say who in `by` (the token's sub); WEP's in `userName`.
    const who = typeof data.by === "string" ? data.by : typeof data.userName === "string" ? data.userName : "";
    return `${sentenceCase(type)}${who ? ` by ${who}` : ""}`;
  }
  return sentenceCase(type) || "Event";
}

/** A second line: the alarm's name and note, or an analytic's name, when the event has them. */
function details(event) {
  const data = event.data && typeof event.data === "object" ? event.data : {};
  const parts = [data.name, data.alarmName, data.analyticEventName, data.note]
    .filter((part) => typeof part === "string" && part);
  return [...new Set(parts)].join(" · ");
}

export class EventsPanel {
  /**
   * root: the <aside> of index.html. apiUrl: the page's URL builder (adds ?token=).
   * cameraName(id): a camera's display name. onEvent(event): each new live event.
   * onPlay(event, at): the operator asks for the recording around an event, from `at` (a Date).
   */
  constructor(root, { apiUrl, errorText, cameraName, onEvent, onPlay }) {
    this.apiUrl = apiUrl;
    this.errorText = errorText;
    this.cameraName = cameraName;
    this.onEvent = onEvent || (() => {});
    this.onPlay = onPlay || null;
    this.list = root.querySelector(".event-list");
    // Thumbnails load as they scroll into the list's view, not fifty at once on load.
    this.thumbnails = "IntersectionObserver" in window
      ? new IntersectionObserver((entries) => this.reveal(entries), { root: this.list, rootMargin: "200px 0px" })
      : null;
    this.empty = root.querySelector(".events-empty");
    this.problem = root.querySelector(".events-problem");
    this.indicator = root.querySelector(".live");
    this.seen = new Set(); // event ids: a reconnect replays the recent ones
    this.actions = new Map(); // actionKey -> {element, source, time}: one line per alarm action
    this.source = null;
    this.lastEventId = "";
    this.backoff = 2000;
  }

  start() {
    this.connect(); // first: nothing published while the history loads is missed
    this.loadHistory();
  }

  setLive(state) {
    this.indicator.dataset.state = state;
    this.indicator.textContent = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", offline: "Offline" }[state];
  }

  async loadHistory() {
    // Busy while the history goes in: a screen reader announces the live ones, not fifty at once.
    this.list.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(this.apiUrl("/api/v1/events", { limit: String(HISTORY) }), { cache: "no-store" });
      if (!response.ok) throw new Error(await this.errorText(response));
      const { events } = await response.json();
      for (const event of events) this.add(event, false);
      this.showProblem("");
    } catch (error) {
      this.showProblem(`Recent events cannot be shown: ${error.message}`);
    } finally {
      this.list.removeAttribute("aria-busy");
      this.empty.hidden = this.list.children.length > 0;
    }
  }

  showProblem(text) {
    this.problem.textContent = text;
    this.problem.hidden = !text;
  }

  connect() {
    const query = this.lastEventId ? { last_event_id: this.lastEventId } : {};
    const source = (this.source = new EventSource(this.apiUrl("/api/v1/events/stream", query)));
    source.addEventListener("open", () => {
      this.backoff = 2000;
      this.setLive("live");
    });
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CONNECTING) {
        this.setLive("reconnecting"); // EventSource retries by itself, with Last-Event-ID
        return;
      }
      // Closed for good (an HTTP error answer, or the wrong content type): EventSource
      // gives up, so this page tries again, resuming with last_event_id.
      source.close();
      this.setLive("offline");
      sleep(this.backoff).then(() => {
        if (this.source === source) this.connect();
      });
      this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
    });
    for (const family of FAMILIES) {
      source.addEventListener(family, (message) => {
        if (message.lastEventId) this.lastEventId = message.lastEventId;
        let event;
        try {
          event = JSON.parse(message.data);
        } catch {
          return;
        }
        if (event && typeof event.id === "string" && this.add(event, true)) this.onEvent(event);
      });
    }
  }

  close() {
    if (this.source) this.source.close();
    this.source = null;
  }

  /** Puts the event in the list by its time, newest first; false when already there. */
  add(event, live) {
    if (typeof event.id !== "string" || this.seen.has(event.id)) return false;
    remember(this.seen, event.id, SEEN);
    const key = actionKey(event);
    const twin = key && this.actions.get(key);
    if (twin && twin.element.isConnected && Math.abs(Date.parse(twin.time) - Date.parse(event.time)) < ECHO_MS) {
      if (event.source !== "gateway" || twin.source === "gateway") return false; // WEP's echo: shown already
      twin.element.remove(); // the gateway's line names the person: it replaces WEP's
    }
    const entry = this.entry(event, live);
    if (key) remember(this.actions, key, SEEN, { element: entry, source: event.source, time: event.time });
    const time = String(event.time || "");
    // ISO times of one form ("...T12:00:00.000Z") sort as text; of two at the same
    // millisecond, the one that came later is the newer.
    const after = [...this.list.children].find((other) => (live ? other.dataset.time <= time : other.dataset.time < time));
    this.list.insertBefore(entry, after || null);
    while (this.list.children.length > KEPT) this.list.lastElementChild.remove();
    this.empty.hidden = true;
    return true;
  }

  //  Loading dock                    12:03:04
  //  Motion started          Picture  Recording
  //  (the alarm's name, a note)
  entry(event, live) {
    const item = element("li", "event");
    item.dataset.time = String(event.time || "");
    item.dataset.family = familyOf(String(event.type || ""));
    item.dataset.state = String(event.state || "");
    if (live) item.classList.add("fresh");
    if (event.notify === true) {
      item.classList.add("notify"); // a rule names this reader: it stands out
      item.setAttribute("role", "alert");
    }
    const head = element("div", "head");
    const where = element("span", "where", event.camera ? this.cameraName(String(event.camera)) : "Site");
    where.title = where.textContent; // long names are cut short on screen
    const when = timeElement(event.time);
    when.className = "when";
    head.append(where, when);
    const line = element("div", "line");
    line.append(element("span", "what", describe(event)));
    const links = event.links && typeof event.links === "object" ? event.links : {};
    const anchors = LINKS.map(([key, label, hint]) => {
      const href = sameOrigin(links[key], this.apiUrl);
      if (!href) return null;
      const link = element("a", key, label);
      Object.assign(link, { href, target: "_blank", rel: "noopener noreferrer", title: hint });
      return link;
    }).filter(Boolean);
    if (anchors.length) {
      const group = element("span", "links");
      group.append(...anchors);
      line.append(group);
    }
    item.append(head, line);
    const more = details(event);
    if (more) item.append(element("div", "detail", more));
    const thumbnail = this.thumbnail(event, links);
    if (thumbnail) {
      item.classList.add("with-thumb");
      item.prepend(thumbnail);
    }
    return item;
  }

  //  [picture]  Loading dock   12:03:04      the picture is the event's snapshot; where the
  //     ▶       Motion started                event has a recording it is a button playing it
  thumbnail(event, links) {
    const picture = sameOrigin(links.snapshot, this.apiUrl);
    const recording = sameOrigin(links.recording, this.apiUrl);
    const from = recording ? new Date(new URL(recording).searchParams.get("t") || "") : null;
    const playable = this.onPlay && event.camera && from && !Number.isNaN(from.getTime());
    if (!picture && !playable) return null;
    const holder = playable ? element("button", "thumb") : element("span", "thumb");
    if (picture) {
      const image = element("img", "thumb-image");
      image.alt = "";
      image.width = 160;
      image.height = 90;
      const small = new URL(picture);
      small.searchParams.set("size", "160x90");
      image.dataset.src = small.toString();
      holder.append(image);
      if (this.thumbnails) this.thumbnails.observe(image);
      else image.src = image.dataset.src;
    }
    if (playable) {
      holder.type = "button";
      const where = this.cameraName(String(event.camera));
      const label = `Play the recording of ${where} from ${timeElement(from.toISOString()).textContent}`;
      holder.setAttribute("aria-label", label);
      holder.title = label;
      holder.append(element("span", "thumb-play", "▶"));
      holder.addEventListener("click", () => this.onPlay(event, from));
    }
    return holder;
  }

  reveal(entries) {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      const image = entry.target;
      this.thumbnails.unobserve(image);
      image.addEventListener("error", () => image.classList.add("missing"), { once: true });
      image.src = image.dataset.src;
    }
  }
}

const LINKS = [["snapshot", "Picture", "The camera's picture at that moment (opens in a new tab)"],
  ["recording", "Recording", "The recording from just before, as an HLS playlist (opens in a new tab)"]];

function element(tag, className, text) {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Adds to a Set or Map kept to `limit` entries, the oldest dropped first. */
function remember(collection, key, limit, value) {
  if (collection instanceof Map) collection.set(key, value);
  else collection.add(key);
  if (collection.size > limit) collection.delete(collection.keys().next().value);
}

/** "ALARM_ACKNOWLEDGED wep:42" for an action taken on an alarm, as the gateway announces it
 *  (`data.alarm`) and as WEP does after the gateway's PUT /alarm (`data.alarmId`, by the
 *  gateway's own WEP user); null for any other event. */
export function actionKey(event) {
  const data = event.data && typeof event.data === "object" ? event.data : {};
  const type = String(event.type || "") === "ALARM_PURGED" ? "ALARM_DISMISSED" : String(event.type || "");
  if (!type.startsWith("ALARM_") || type === "ALARM_TRIGGERED") return null;
  const upstream = typeof data.alarmId === "string" || typeof data.alarmId === "number" ? data.alarmId : null;
  const alarm = event.source === "gateway" ? data.alarm : upstream !== null ? `${event.source}:${upstream}` : null;
  return typeof alarm === "string" ? `${type} ${alarm}` : null;
}

/** The family of a type (gateway/events/model.py family_of): the history's events come
 *  without their SSE event name. */
export function familyOf(type) {
  for (const [prefix, family] of [["DEVICE_MOTION", "motion"], ["DEVICE_ANALYTICS", "analytics"], ["ALARM", "alarm"],
    ["DEVICE", "device"], ["AMCREST", "device"], ["USER", "user"], ["RULE", "rule"]]) {
    if (type.startsWith(prefix)) return family;
  }
  return "system";
}

const alertTimers = new WeakMap();

/** Outlines a camera's tile for a moment; a later event restarts the moment. */
export function alertTile(tile, family) {
  if (!tile) return;
  clearTimeout(alertTimers.get(tile));
  tile.dataset.alert = family;
  alertTimers.set(tile, setTimeout(() => delete tile.dataset.alert, ALERT_MS));
}
