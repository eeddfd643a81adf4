// The guest page of a shared link (/g/{id}): one camera, live or a recorded window, and
// nothing else. The link's id is the page's only credential: every request presents it
// (api.js useToken), and the gateway opens with it just that camera and that time.
//
// The page plays with the console's own player (player.js): live over WebRTC (WHEP) with
// a fallback to progressive fMP4 through MSE, recorded from the recorded HLS; where the
// browser has no MSE but plays HLS itself (iOS Safari), the gateway's HLS directly.
// A state stream (/g/{id}/state) tells what the link shows and, the moment it is revoked
// or expires, that it ended: the video stops and the page says why.

import { apiUrl, momentText, sleep, useToken } from "./api.js";
import { framesShown, WebrtcSession } from "./live.js";
import { Player } from "./player.js";

const TICK_MS = 500;
const RETRY_MS = 1000; // the state stream broke (not ended): asked again after this
const MESSAGES = {
  revoked: ["This link was revoked", "The person who shared it has withdrawn it."],
  expired: ["This link has expired", "Ask the person who shared it for a new one."],
  unknown: ["This link does not exist", "Check that the whole address was copied."],
  finished: ["End of the shared recording", "That is all this link shows."],
};

const linkId = decodeURIComponent(location.pathname.split("/")[2] || "");
useToken(linkId);

const page = document.querySelector(".guest-page");
const tile = page.querySelector(".guest-tile");
const message = page.querySelector(".guest-message");
const viewer = { link: null, player: null, ended: null };
window.guestViewer = viewer;

const NATIVE_HLS = !("MediaSource" in window) && document.createElement("video").canPlayType("application/vnd.apple.mpegurl") !== "";

/** The gateway's HLS played by the browser itself, where there is no MSE to play it with. */
class NativeHlsSession {
  constructor(player, at) {
    const camera = encodeURIComponent(player.camera.id);
    this.player = player;
    this.url = at
      ? apiUrl(`/hls/${camera}/${player.quality}/playlist.m3u8`, { t: at.toISOString() })
      : apiUrl(`/hls/${camera}/index.m3u8`);
  }

  async open() {
    const { video } = this.player;
    video.srcObject = null;
    video.src = this.url;
    video.play().catch(() => {});
  }

  broken() {
    return Boolean(this.player.video.error);
  }

  async progress() {
    return framesShown(this.player.video);
  }

  close() {
    const { video } = this.player;
    video.removeAttribute("src");
    video.load();
  }
}

class GuestPlayer extends Player {
  newSession() {
    const session = super.newSession();
    if (!NATIVE_HLS || session instanceof WebrtcSession) return session;
    this.transport = "hls";
    this.transportLabel.textContent = "HLS";
    return new NativeHlsSession(this, this.recordedAt);
  }
}

function say(kind) {
  const [title, text] = MESSAGES[kind];
  message.querySelector("h2").textContent = title;
  message.querySelector("p").textContent = text;
  message.hidden = false;
}

/** The link ended (or the recording did): the video stops, the page says why. */
function end(kind) {
  if (viewer.ended) return;
  viewer.ended = kind;
  page.dataset.state = kind;
  if (viewer.player) viewer.player.close();
  tile.dataset.status = "ended";
  tile.querySelector(".badge").textContent = kind === "finished" ? "ended" : kind;
  tile.hidden = true; // nothing more to see there: the message takes its place
  say(kind);
  if (kind === "finished") {
    const again = message.querySelector(".again");
    again.hidden = false;
    again.addEventListener("click", () => location.reload(), { once: true });
  }
}

function show(link) {
  const camera = link.camera;
  const name = camera.name || camera.id;
  document.title = `${name} · shared camera`;
  page.querySelector(".guest-name").textContent = name;
  const from = link.live ? null : new Date(link.from);
  const to = link.live ? null : new Date(link.to);
  page.querySelector(".guest-when").textContent = link.live ? "Live" : `Recorded · ${momentText(from)} – ${momentText(to)}`;
  page.querySelector(".guest-expiry").textContent = `This link works until ${momentText(new Date(link.expires_at))}`;
  tile.setAttribute("aria-label", name);
  tile.hidden = false;

  const quality = camera.qualities.includes("high") ? "high" : camera.qualities[0];
  const player = (viewer.player = new GuestPlayer(camera, tile, quality, { mode: "auto" }));
  const sound = tile.querySelector(".sound");
  sound.hidden = !camera.audio;
  sound.addEventListener("click", () => {
    player.video.muted = !player.video.muted;
    sound.setAttribute("aria-pressed", String(!player.video.muted));
    sound.textContent = player.video.muted ? "Sound off" : "Sound on";
  });
  if (from) player.recordedAt = from;
  page.dataset.state = "playing";
  player.setStatus("connecting");
  player.run();
  if (to) {
    // The recording goes on past the window; the page stops where the link's window ends.
    const timer = setInterval(() => {
      const shown = player.shownTime();
      if (viewer.ended) clearInterval(timer);
      else if (shown && shown >= to) end("finished");
    }, TICK_MS);
  }
}

/** Reads the state stream (newline-delimited JSON) until the link ends. */
async function watch() {
  const url = `/g/${encodeURIComponent(linkId)}/state`;
  while (!viewer.ended) {
    let response;
    try {
      response = await fetch(url, { cache: "no-store" });
    } catch {
      await sleep(RETRY_MS);
      continue;
    }
    if (response.status === 410) {
      const answer = await response.json().catch(() => ({}));
      end(String(answer.error?.message || "").includes("revoked") ? "revoked" : "expired");
      return;
    }
    if (response.status === 404 || response.status === 401) {
      end("unknown");
      return;
    }
    if (response.ok) {
      try {
        await read(response.body.getReader());
      } catch {
        // the connection broke: asked again below
      }
    }
    if (!viewer.ended) await sleep(RETRY_MS);
  }
}

async function read(reader) {
  const decoder = new TextDecoder();
  let pending = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    pending += decoder.decode(value, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop();
    for (const line of lines) {
      if (!line.trim()) continue;
      const entry = JSON.parse(line);
      if (entry.link && !viewer.link) {
        viewer.link = entry.link;
        show(entry.link);
      } else if (entry.gone) {
        end(entry.gone === "revoked" ? "revoked" : "expired");
        return;
      }
    }
  }
}

window.addEventListener("pagehide", () => {
  if (viewer.player) viewer.player.close();
});
watch();
