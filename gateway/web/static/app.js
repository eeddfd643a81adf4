// wep-gateway console: a grid of cameras (layout.js, tile.js), each live over WebRTC (WHEP)
// with a fallback to progressive fMP4 through Media Source Extensions (live.js) or
// recorded (recorded.js, timeline.js); pan/tilt/zoom (ptz.js); the Events panel with its
// alarms (events.js, alarms.js). No build step, no dependencies: ES modules as served.
//
// URL parameters: ?mode=auto|webrtc|mse  ?quality=high|low  ?token=... (passed on to
// every request the page makes).

import { AlarmsPanel } from "./alarms.js";
import { apiUrl, errorText, sleep } from "./api.js";
import { EventsPanel, alertTile, familyOf } from "./events.js";
import { Console } from "./layout.js";

const params = new URLSearchParams(location.search);
const MODE = ["webrtc", "mse"].includes(params.get("mode")) ? params.get("mode") : "auto";
const QUALITY = params.get("quality");
const MAX_BACKOFF_MS = 8000;

const players = []; // the players of the tiles in view, in tile order
const panels = {};
window.gatewayViewer = { players, panels, mode: MODE };

function updateSummary() {
  const playing = players.filter((player) => player.status === "playing").length;
  document.getElementById("summary").textContent =
    `${players.length} camera${players.length === 1 ? "" : "s"} · ${playing} playing`;
}

function showNotice(text) {
  const notice = document.getElementById("notice");
  notice.textContent = text;
  notice.hidden = !text;
}

async function loadCameras() {
  for (let attempt = 0; ; attempt++) {
    try {
      const response = await fetch(apiUrl("/api/v1/cameras"), { cache: "no-store" });
      if (!response.ok) throw new Error(await errorText(response));
      showNotice("");
      return (await response.json()).cameras;
    } catch (error) {
      showNotice(`Cannot list the cameras: ${error.message}. Retrying…`);
      await sleep(Math.min(1000 * 2 ** attempt, MAX_BACKOFF_MS));
    }
  }
}

async function main() {
  const cameras = await loadCameras();
  if (!cameras.length) showNotice("No cameras are available.");
  const grid = new Console({
    cameras,
    grid: document.getElementById("grid"),
    list: document.getElementById("camera-list"),
    layouts: document.getElementById("layouts"),
    template: document.getElementById("tile"),
    players,
    mode: MODE,
    quality: QUALITY,
    onChange: updateSummary,
  });
  panels.console = grid;
  grid.start();
  startEventsPanel(cameras, grid);
}

function showAlarmCount(count) {
  const badge = document.getElementById("alarm-count");
  badge.textContent = `${count} open alarm${count === 1 ? "" : "s"}`;
  badge.hidden = count === 0;
  document.title = count ? `(${count}) Cameras · wep-gateway` : "Cameras · wep-gateway";
}

function startEventsPanel(cameras, grid) {
  const names = new Map(cameras.map((camera) => [camera.id, camera.name || camera.id]));
  const cameraName = (id) => names.get(id) || id;
  const tileOf = (id) => grid.tiles.get(id)?.element;
  const alarms = new AlarmsPanel(document.getElementById("alarms"), { apiUrl, errorText, cameraName, onCount: showAlarmCount });
  const events = new EventsPanel(document.getElementById("events"), {
    apiUrl,
    errorText,
    cameraName,
    onEvent(event) {
      const family = familyOf(String(event.type || ""));
      // Something begins or happens on a camera: its tile lights up for a moment.
      if (event.camera && event.state !== "stop") alertTile(tileOf(event.camera), family === "alarm" ? "alarm" : "event");
      if (family === "alarm") alarms.refresh(); // the list changed upstream
    },
    onPlay(event, at) {
      // The recording around the event, in its camera's tile (put in the selected tile if
      // it is not in view).
      const tile = grid.tileFor(String(event.camera));
      if (!tile) return;
      tile.playRecorded(at);
      tile.element.scrollIntoView({ block: "nearest" });
      tile.element.focus({ preventScroll: true });
    },
  });
  Object.assign(panels, { alarms, events });
  document.getElementById("alarm-count").addEventListener("click", () => {
    // The link jumps to the section; the focus follows, for the keyboard.
    setTimeout(() => document.getElementById("alarms-title").focus(), 0);
  });
  alarms.refresh();
  events.start();
}

window.addEventListener("pagehide", () => {
  if (panels.console) panels.console.goodbye();
  if (panels.events) panels.events.close();
});
main();
