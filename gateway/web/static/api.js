// How the console page talks to the gateway: URLs carrying the page's token, JSON calls
// with readable errors, and this tab's operator id.

const params = new URLSearchParams(location.search);
export let TOKEN = params.get("token");

/** Another credential for every request the page makes: the guest page's link id. */
export function useToken(token) {
  TOKEN = token;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A URL of this gateway with `query` (empty values left out) and the page's ?token=. */
export function apiUrl(path, query = {}) {
  const url = new URL(path, location.href);
  for (const [key, value] of Object.entries(query)) if (value) url.searchParams.set(key, value);
  if (TOKEN) url.searchParams.set("token", TOKEN);
  return url.toString();
}

/** The message of an error answer ({"error": {"code", "message"}}), else its status text. */
export async function errorText(response) {
  try {
    const body = await response.json();
    return body.error ? body.error.message : response.statusText;
  } catch {
    return response.statusText;
  }
}

/** An API answer that was not 2xx: its status, the gateway's code and message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const OPERATOR_KEY = "wepgw.operator";

/** This tab's operator id. With viewer tokens off, the gateway tells operators apart by
 *  it (X-Operator-Id): sessionStorage is per tab, so two tabs are two operators. */
export function operatorId() {
  let id = "";
  try {
    id = sessionStorage.getItem(OPERATOR_KEY) || "";
    if (!id) {
      id = crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2);
      sessionStorage.setItem(OPERATOR_KEY, id);
    }
  } catch {
    id = id || "tab"; // storage refused (privacy mode): one id for this page's life
  }
  return id;
}

/**
 * A JSON call to the API: the answer's body, or an ApiError with the gateway's message.
 * `keepalive`: the request still goes out while the page is being closed.
 */
export async function call(method, path, { body, query, keepalive = false } = {}) {
  const headers = { "X-Operator-Id": operatorId() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(apiUrl(path, query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      keepalive,
    });
  } catch (error) {
    throw new ApiError(0, "network", `the gateway cannot be reached (${error.message})`);
  }
  if (!response.ok) {
    let code = "";
    let message = response.statusText || `HTTP ${response.status}`;
    try {
      const answer = await response.json();
      if (answer.error) ({ code, message } = answer.error);
    } catch {
      // not JSON: the status text says it
    }
    throw new ApiError(response.status, code, message);
  }
  return response.status === 204 ? {} : response.json();
}

/** The API path of one camera: /api/v1/cameras/{id}{rest}. */
export const cameraPath = (camera, rest = "") => `/api/v1/cameras/${encodeURIComponent(camera.id)}${rest}`;

/** An element with a class and (as text, never markup) its content. */
export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A <button type="button"> with its visible text and, where the text is a symbol, a label. */
export function button(className, text, label) {
  const node = element("button", className, text);
  node.type = "button";
  if (label) {
    node.setAttribute("aria-label", label);
    node.title = label;
  }
  return node;
}

const pad = (n) => String(n).padStart(2, "0");

/** A Date as local HH:MM:SS. */
export const clockText = (at) => `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`;

/** A Date as local "YYYY-MM-DD HH:MM:SS" (the date only when it is not today). */
export function momentText(at) {
  const now = new Date();
  const today = at.getFullYear() === now.getFullYear() && at.getMonth() === now.getMonth() && at.getDate() === now.getDate();
  return today ? clockText(at) : `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} ${clockText(at)}`;
}

/** A Date as the value of an <input type="datetime-local" step="1">. */
export const localInputValue = (at) =>
  `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T${clockText(at)}`;
