// wep-gateway viewer: a grid of cameras, each over WebRTC (WHEP) with a fallback to
// progressive fMP4 through Media Source Extensions. No build step, no dependencies.
//
// URL parameters: ?mode=auto|webrtc|mse  ?quality=high|low  ?token=... (passed on to
// every request the page makes).
//
// An ES module (strict by itself); the Events panel lives in events.js and alarms.js.
import { AlarmsPanel } from "./alarms.js";
import { EventsPanel, alertTile, familyOf } from "./events.js";

(() => {
  const params = new URLSearchParams(location.search);
  const TOKEN = params.get("token");
  const MODE = ["webrtc", "mse"].includes(params.get("mode")) ? params.get("mode") : "auto";
  const QUALITY = params.get("quality");

  const TICK_MS = 500;
  const STALL_MS = 3000; // no new picture for this long: show "reconnecting"
  const RESTART_MS = 12000; // ...and for this long: start a new session
  const FIRST_PICTURE_MS = 10000; // a new session must show a picture within this
  const ICE_GATHER_MS = 2000;
  const MAX_BACKOFF_MS = 8000;
  const WEBRTC_ATTEMPTS = 2; // failed WebRTC sessions in a row before falling back to MSE

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function apiUrl(path, query = {}) {
    const url = new URL(path, location.href);
    for (const [key, value] of Object.entries(query)) if (value) url.searchParams.set(key, value);
    if (TOKEN) url.searchParams.set("token", TOKEN);
    return url.toString();
  }

  class FatalError extends Error {} // retrying the same transport will not help
  class CameraUnavailable extends Error {} // 503 camera_unavailable: the camera, not the transport

  // "stream refused (503): camera 'porch' is unavailable: camera 'porch' refused ..." on the
  // porch tile reads best as "refused ...".
  const whyUnavailable = (message) => message.replace(/^.*is unavailable: /, "").replace(/^camera '[^']*' /, "");

  async function refusal(response, prefix, fatalStatuses) {
    const message = `${prefix} (${response.status}): ${await errorText(response)}`;
    if (fatalStatuses.includes(response.status)) return new FatalError(message);
    return response.status === 503 && message.includes("unavailable") ? new CameraUnavailable(message) : new Error(message);
  }

  async function errorText(response) {
    try {
      const body = await response.json();
      return body.error ? body.error.message : response.statusText;
    } catch {
      return response.statusText;
    }
  }

  // ---- WebRTC (WHEP) ------------------------------------------------------------

  function iceGatheringDone(pc, timeoutMs) {
    // The gateway takes one complete offer (no trickle ICE): wait for our candidates.
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      pc.addEventListener("icegatheringstatechange", () => {
        if (pc.iceGatheringState === "complete") {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  class WebrtcSession {
    constructor(player) {
      this.player = player;
      this.pc = null;
      this.location = null;
    }

    async open() {
      const { video, camera } = this.player;
      const pc = (this.pc = new RTCPeerConnection({ bundlePolicy: "max-bundle" }));
      pc.addTransceiver("video", { direction: "recvonly" });
      // The camera's own opus, where it has a microphone (the gateway answers inactive otherwise).
      pc.addTransceiver("audio", { direction: "recvonly" });
      const stream = new MediaStream();
      pc.addEventListener("track", (event) => {
        stream.addTrack(event.track);
        if (video.srcObject !== stream) video.srcObject = stream;
        video.play().catch(() => {});
      });
      await pc.setLocalDescription(await pc.createOffer());
      await iceGatheringDone(pc, ICE_GATHER_MS);
      const response = await fetch(apiUrl(`/whep/${encodeURIComponent(camera.id)}`, { quality: this.player.quality }), {
        method: "POST",
        headers: { "Content-Type": "application/sdp" },
        body: pc.localDescription.sdp,
      });
      if (response.status !== 201) {
        // 406: no common codec; 404: no such camera; 401/403: not allowed.
        throw await refusal(response, "WebRTC refused", [401, 403, 404, 406]);
      }
      this.location = new URL(response.headers.get("Location"), location.href).toString();
      await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
    }

    broken() {
      return !this.pc || ["failed", "closed"].includes(this.pc.connectionState);
    }

    async progress() {
      if (!this.pc) return 0;
      const stats = await this.pc.getStats();
      let frames = 0;
      stats.forEach((report) => {
        if (report.type === "inbound-rtp" && report.kind === "video") frames = report.framesDecoded || 0;
      });
      return frames;
    }

    close() {
      if (this.location) {
        // keepalive: the DELETE still goes out when the page is being closed.
        fetch(apiUrl(this.location), { method: "DELETE", keepalive: true }).catch(() => {});
        this.location = null;
      }
      if (this.pc) this.pc.close();
      this.player.video.srcObject = null;
    }
  }

  // ---- MSE with progressive fMP4 ------------------------------------------------

  function fourcc(bytes, offset) {
    return String.fromCharCode(bytes[offset], bytes[offset + 1], bytes[offset + 2], bytes[offset + 3]);
  }

  function initSegmentEnd(bytes) {
    // Top-level boxes (ISO/IEC 14496-12 4.2): the init segment ends with moov.
    let offset = 0;
    while (offset + 8 <= bytes.length) {
      const size = new DataView(bytes.buffer, bytes.byteOffset + offset, 4).getUint32(0);
      if (size < 8) return -1;
      if (fourcc(bytes, offset + 4) === "moov") return offset + size <= bytes.length ? offset + size : 0;
      offset += size;
    }
    return 0; // need more bytes
  }

  function codecsOf(init) {
    // RFC 6381: avc1.PPCCLL from the avcC record; audio from its sample entry.
    const codecs = [];
    for (let i = 4; i + 8 <= init.length; i++) {
      const name = fourcc(init, i);
      if (name === "avcC") {
        const hex = (b) => b.toString(16).padStart(2, "0").toUpperCase();
        codecs.push(`avc1.${hex(init[i + 5])}${hex(init[i + 6])}${hex(init[i + 7])}`);
      } else if (name === "mp4a" && !codecs.includes("mp4a.40.2")) {
        codecs.push("mp4a.40.2");
      } else if (name === "Opus" && !codecs.includes("opus")) {
        codecs.push("opus");
      }
    }
    return codecs;
  }

  class MseSession {
    constructor(player) {
      this.player = player;
      this.abort = new AbortController();
      this.buffer = null;
      this.pending = [];
      this.ended = false;
      this.failed = false;
    }

    async open() {
      if (!("MediaSource" in window)) throw new FatalError("this browser has no Media Source Extensions");
      const { video, camera } = this.player;
      const source = (this.source = new MediaSource());
      video.srcObject = null;
      video.src = URL.createObjectURL(source);
      await new Promise((resolve) => source.addEventListener("sourceopen", resolve, { once: true }));
      const url = apiUrl(`/live/${encodeURIComponent(camera.id)}.mp4`, { quality: this.player.quality });
      const response = await fetch(url, { signal: this.abort.signal, cache: "no-store" });
      if (!response.ok) throw await refusal(response, "stream refused", [401, 403, 404]);
      this.pump(response.body.getReader()).catch(() => {
        this.failed = true;
      });
      video.play().catch(() => {});
    }

    async pump(reader) {
      let head = new Uint8Array(0);
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (!this.buffer) {
          const joined = new Uint8Array(head.length + value.length);
          joined.set(head);
          joined.set(value, head.length);
          head = joined;
          const end = initSegmentEnd(head);
          if (end < 0) throw new Error("not an fMP4 stream");
          if (end === 0) continue;
          const type = `video/mp4; codecs="${codecsOf(head.subarray(0, end)).join(",")}"`;
          if (!MediaSource.isTypeSupported(type)) throw new FatalError(`cannot play ${type}`);
          this.buffer = this.source.addSourceBuffer(type);
          this.buffer.addEventListener("updateend", () => this.appendNext());
          this.buffer.addEventListener("error", () => (this.failed = true));
          this.pending.push(head);
        } else {
          this.pending.push(value);
        }
        this.appendNext();
      }
      this.ended = true;
    }

    appendNext() {
      if (!this.buffer || this.buffer.updating || !this.pending.length) return;
      if (this.pending.length > 300) this.failed = true; // the page cannot keep up: start over
      try {
        this.buffer.appendBuffer(this.pending.shift());
      } catch {
        this.failed = true;
      }
    }

    keepLive() {
      // Stay at the live edge and keep the buffer small (a few seconds back).
      const { video } = this.player;
      const ranges = video.buffered;
      if (!ranges.length) return;
      const end = ranges.end(ranges.length - 1);
      if (end - video.currentTime > 2.0) video.currentTime = end - 0.3;
      if (video.paused) video.play().catch(() => {});
      const start = ranges.start(0);
      if (this.buffer && !this.buffer.updating && video.currentTime - start > 30) {
        this.buffer.remove(start, video.currentTime - 10);
      }
    }

    broken() {
      return this.failed || this.ended;
    }

    async progress() {
      this.keepLive();
      const quality = this.player.video.getVideoPlaybackQuality?.();
      return quality ? quality.totalVideoFrames : Math.round(this.player.video.currentTime * 1000);
    }

    close() {
      this.abort.abort();
      const { video } = this.player;
      if (video.src) {
        URL.revokeObjectURL(video.src);
        video.removeAttribute("src");
        video.load();
      }
    }
  }

  // ---- push-to-talk (WHIP) ------------------------------------------------------

  const TALK_LABEL = { idle: "Talk", connecting: "Connecting…", live: "● Mic live", error: "Talk" };
  const TALK_HINT = "Hold to talk through the camera's speaker";

  // Hold the button: the microphone goes to the camera speaker over WHIP (one sendonly
  // audio track); release: DELETE the session. One session per press, so an idle page
  // never holds the camera's one talker slot.
  class PushToTalk {
    constructor(camera, button, tile) {
      this.camera = camera;
      this.button = button;
      this.tile = tile;
      this.attempt = null; // {pc, stream, location} of the press in progress
      this.state = "idle";
      button.disabled = !("RTCPeerConnection" in window) || !navigator.mediaDevices;
      button.addEventListener("pointerdown", (event) => {
        event.preventDefault();
        button.setPointerCapture(event.pointerId);
        this.press();
      });
      for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) {
        button.addEventListener(type, () => this.release());
      }
      button.addEventListener("keydown", (event) => {
        if ((event.key === " " || event.key === "Enter") && !event.repeat) {
          event.preventDefault();
          this.press();
        }
      });
      button.addEventListener("keyup", (event) => {
        if (event.key === " " || event.key === "Enter") this.release();
      });
      this.setState("idle");
    }

    setState(state, detail = "") {
      this.state = state;
      this.tile.dataset.talk = state;
      this.button.textContent = TALK_LABEL[state];
      this.button.setAttribute("aria-pressed", String(state === "connecting" || state === "live"));
      this.button.title = detail || TALK_HINT;
    }

    async press() {
      if (this.attempt) return;
      const attempt = (this.attempt = { pc: null, stream: null, location: null });
      this.setState("connecting");
      try {
        attempt.stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
        if (this.attempt !== attempt) return this.hangUp(attempt);
        const pc = (attempt.pc = new RTCPeerConnection({ bundlePolicy: "max-bundle" }));
        pc.addTransceiver(attempt.stream.getAudioTracks()[0], { direction: "sendonly" });
        pc.addEventListener("connectionstatechange", () => {
          if (this.attempt !== attempt) return;
          if (pc.connectionState === "connected") this.setState("live");
          else if (["failed", "closed"].includes(pc.connectionState)) this.end("the connection to the speaker was lost");
        });
        await pc.setLocalDescription(await pc.createOffer());
        await iceGatheringDone(pc, ICE_GATHER_MS);
        const response = await fetch(apiUrl(`/whip/${encodeURIComponent(this.camera.id)}/talk`), {
          method: "POST",
          headers: { "Content-Type": "application/sdp" },
          body: pc.localDescription.sdp,
        });
        if (response.status !== 201) throw new Error(`Talk refused (${response.status}): ${await errorText(response)}`);
        attempt.location = new URL(response.headers.get("Location"), location.href).toString();
        if (this.attempt !== attempt) return this.hangUp(attempt); // released while connecting
        await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
      } catch (error) {
        console.warn(`${this.camera.id}: ${error.message}`);
        if (this.attempt === attempt) this.end(error.message);
        else this.hangUp(attempt);
      }
    }

    release() {
      if (this.attempt) this.end();
    }

    end(problem = "") {
      const attempt = this.attempt;
      this.attempt = null;
      if (attempt) this.hangUp(attempt);
      this.setState(problem ? "error" : "idle", problem);
    }

    hangUp(attempt) {
      if (attempt.location) {
        // keepalive: the DELETE still goes out when the page is being closed.
        fetch(apiUrl(attempt.location), { method: "DELETE", keepalive: true }).catch(() => {});
        attempt.location = null;
      }
      if (attempt.pc) attempt.pc.close();
      if (attempt.stream) attempt.stream.getTracks().forEach((track) => track.stop());
    }
  }

  // ---- one tile -----------------------------------------------------------------

  class Player {
    constructor(camera, tile, quality) {
      this.camera = camera;
      this.tile = tile;
      this.quality = quality;
      this.video = tile.querySelector("video");
      this.badge = tile.querySelector(".badge");
      this.transportLabel = tile.querySelector(".transport");
      this.session = null;
      this.transport = null;
      this.status = "connecting";
      this.frames = 0;
      this.closed = false;
      this.webrtcFailures = MODE === "mse" || !("RTCPeerConnection" in window) ? WEBRTC_ATTEMPTS : 0;
    }

    get pc() {
      return this.session && this.session.pc;
    }

    setStatus(status, detail = "") {
      this.status = status;
      this.tile.dataset.status = status;
      this.badge.textContent = detail ? `${status} · ${detail}` : status;
      updateSummary();
    }

    async run() {
      let backoff = 1000;
      while (!this.closed) {
        const webrtc = MODE === "webrtc" || this.webrtcFailures < WEBRTC_ATTEMPTS;
        this.transport = webrtc ? "webrtc" : "mse";
        this.tile.dataset.transport = this.transport;
        this.transportLabel.textContent = webrtc ? "WebRTC" : "MSE";
        let played = false;
        let unavailable = null;
        try {
          this.session = webrtc ? new WebrtcSession(this) : new MseSession(this);
          await this.session.open();
          played = await this.watch();
        } catch (error) {
          console.warn(`${this.camera.id}: ${error.message}`);
          if (error instanceof CameraUnavailable) unavailable = whyUnavailable(error.message);
          else if (error instanceof FatalError && webrtc && MODE !== "webrtc") this.webrtcFailures = WEBRTC_ATTEMPTS;
          else if (error instanceof FatalError) {
            this.setStatus("error", error.message);
            return;
          }
        } finally {
          if (this.session) this.session.close();
          this.session = null;
        }
        // An unreachable camera says nothing about WebRTC: it does not count toward the fallback.
        if (webrtc && !unavailable) this.webrtcFailures = played ? 0 : this.webrtcFailures + 1;
        if (this.closed) return;
        if (played) backoff = 1000;
        if (unavailable) this.setStatus("unavailable", unavailable);
        else this.setStatus("reconnecting");
        await sleep(backoff);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }

    // Resolves when the session should be replaced; true if it ever showed pictures.
    async watch() {
      let played = false;
      let last = -1;
      let lastChange = performance.now();
      while (!this.closed) {
        await sleep(TICK_MS);
        if (this.session.broken()) return played;
        const frames = await this.session.progress();
        const now = performance.now();
        if (frames > last) {
          if (last >= 0 || frames > 0) {
            played = played || frames > 0;
            if (frames > 0 && this.status !== "playing") this.setStatus("playing");
          }
          last = frames;
          lastChange = now;
          this.frames = frames;
          continue;
        }
        const idle = now - lastChange;
        if (played && idle > STALL_MS && this.status !== "reconnecting") this.setStatus("reconnecting");
        if (idle > (played ? RESTART_MS : FIRST_PICTURE_MS)) return played;
      }
      return played;
    }

    async snapshot(button) {
      button.disabled = true;
      try {
        const response = await fetch(apiUrl(`/api/v1/cameras/${encodeURIComponent(this.camera.id)}/snapshot.jpg`));
        if (!response.ok) throw new Error(await errorText(response));
        const link = document.createElement("a");
        link.href = URL.createObjectURL(await response.blob());
        link.download = `${this.camera.name || this.camera.id}-${new Date().toISOString().replace(/[:.]/g, "-")}.jpg`;
        link.click();
        setTimeout(() => URL.revokeObjectURL(link.href), 10000);
      } catch (error) {
        button.title = `Snapshot failed: ${error.message}`;
      } finally {
        button.disabled = false;
      }
    }

    close() {
      this.closed = true;
      if (this.session) this.session.close();
    }
  }

  // ---- the page -----------------------------------------------------------------

  const players = [];
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
    const grid = document.getElementById("grid");
    const template = document.getElementById("tile");
    if (!cameras.length) showNotice("No cameras are available.");
    for (const camera of cameras) {
      const tile = template.content.firstElementChild.cloneNode(true);
      tile.dataset.camera = camera.id;
      tile.querySelector(".name").textContent = camera.name || camera.id;
      // Many tiles at once: the low stream keeps phones and busy grids smooth.
      const quality = QUALITY || (cameras.length > 4 && camera.qualities.includes("low") ? "low" : camera.qualities[0]);
      const player = new Player(camera, tile, quality);
      players.push(player);
      const snapshot = tile.querySelector(".snapshot");
      snapshot.addEventListener("click", () => player.snapshot(snapshot));
      // Browsers only autoplay muted video: sound is the viewer's choice.
      const sound = tile.querySelector(".sound");
      sound.hidden = !camera.audio;  // no microphone on the camera: nothing to hear
      sound.addEventListener("click", () => {
        const video = tile.querySelector("video");
        video.muted = !video.muted;
        sound.setAttribute("aria-pressed", String(!video.muted));
        sound.textContent = video.muted ? "Sound off" : "Sound on";
      });
      // Push-to-talk, where the camera has a speaker (spkc).
      const talk = tile.querySelector(".talk");
      talk.hidden = !camera.speaker;
      if (camera.speaker) player.talk = new PushToTalk(camera, talk, tile);
      grid.append(tile);
      // A configured camera the gateway cannot reach says why; the player keeps trying.
      if (camera.available === false) player.setStatus("unavailable", whyUnavailable(camera.reason || ""));
      else player.setStatus("connecting");
      player.run();
    }
    updateSummary();
    startEventsPanel(cameras);
  }

  function startEventsPanel(cameras) {
    const names = new Map(cameras.map((camera) => [camera.id, camera.name || camera.id]));
    const tiles = new Map(players.map((player) => [player.camera.id, player.tile]));
    const cameraName = (id) => names.get(id) || id;
    const alarms = new AlarmsPanel(document.getElementById("alarms"), { apiUrl, errorText, cameraName });
    const events = new EventsPanel(document.getElementById("events"), {
      apiUrl,
      errorText,
      cameraName,
      onEvent(event) {
        const family = familyOf(String(event.type || ""));
        // Something begins or happens on a camera: its tile lights up for a moment.
        if (event.camera && event.state !== "stop") alertTile(tiles.get(event.camera), family === "alarm" ? "alarm" : "event");
        if (family === "alarm") alarms.refresh(); // the list changed upstream
      },
    });
    Object.assign(panels, { alarms, events });
    alarms.refresh();
    events.start();
  }

  window.addEventListener("pagehide", () => {
    players.forEach((player) => {
      player.close();
      if (player.talk) player.talk.release();
    });
    if (panels.events) panels.events.close();
  });
  main();
})();
