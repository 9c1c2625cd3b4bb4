// The server's own API, called from the browser. The API key lives in sessionStorage only (never in
// a URL); WebSockets, which cannot carry headers from a browser, open with a short-lived access
// token minted by POST /access-token (which takes the key in its X-API-Key header).

const KEY_ITEM = "gradium.apiKey";

export const session = {
  get key() { return sessionStorage.getItem(KEY_ITEM); },
  set key(value) {
    if (value) sessionStorage.setItem(KEY_ITEM, value);
    else sessionStorage.removeItem(KEY_ITEM);
  },
};

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// The API's own words: {"detail": ...} (Gradium, Cartesia), {"error": {"message"}} (OpenAI).
async function errorMessage(response) {
  const fallback = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (typeof body.detail === "string") return body.detail;
    if (body.error && typeof body.error.message === "string") return body.error.message;
    if (typeof body.message === "string") return body.message;
    return body.detail ? JSON.stringify(body.detail) : fallback;
  } catch {
    return fallback;
  }
}

// fetch with the key; `json` or `form` is the body; `raw` returns the Response (audio bodies).
export async function api(path, { method = "GET", json, form, raw = false, key } = {}) {
  const headers = { "x-api-key": key ?? session.key ?? "" };
  let body;
  if (json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  const response = await fetch(path, { method, headers, body });
  if (!response.ok) throw new ApiError(response.status, await errorMessage(response));
  if (raw) return response;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

// A Gradium streaming socket (route "tts" or "asr"), opened with a fresh access token.
export async function openSpeechSocket(route) {
  const grant = route === "tts" ? "tts" : "stt";
  const { token } = await api("/access-token", {
    method: "POST",
    json: { grants: { [grant]: true }, expires_in: 3600 },
  });
  const url = new URL(`/api/speech/${route}`, window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("access_token", token);
  const socket = new WebSocket(url);
  await new Promise((resolve, reject) => {
    socket.addEventListener("open", resolve, { once: true });
    socket.addEventListener("error", () => reject(new Error("the WebSocket could not connect")), { once: true });
  });
  return socket;
}

// Read a socket's JSON messages; `onMessage` gets each one. Resolves when the server closes;
// rejects with the server's own message on an `error` message.
export function readSocket(socket, onMessage) {
  return new Promise((resolve, reject) => {
    let failure = null;
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "error") {
        failure = new ApiError(message.code ?? 1008, message.message ?? "error");
        return;
      }
      try {
        onMessage(message);
      } catch (error) {
        failure = error;
        socket.close();
      }
    });
    socket.addEventListener("close", (event) => {
      if (failure) reject(failure);
      else if (event.code !== 1000 && event.code !== 1005) {
        reject(new ApiError(event.code, event.reason || `socket closed with code ${event.code}`));
      } else resolve();
    });
  });
}

export function showError(element, error) {
  element.textContent = error ? String(error.message ?? error) : "";
  element.hidden = !error;
}
