// Push-to-talk (WHIP): hold the button and the microphone goes to the camera speaker over
// one sendonly audio track; release and the session is DELETEd. One session per press, so
// an idle page never holds the camera's one talker slot.

import { apiUrl, errorText } from "./api.js";
import { ICE_GATHER_MS, iceGatheringDone } from "./live.js";

const TALK_LABEL = { idle: "Talk", connecting: "Connecting…", live: "● Mic live", error: "Talk" };
const TALK_HINT = "Hold to talk through the camera's speaker";

export class PushToTalk {
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
