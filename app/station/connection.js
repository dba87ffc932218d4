// The websocket to /ws/station: reconnects with backoff, resumes from the last seq seen,
// and declares the link dead when the server has been silent too long.

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000]; // then stays at the last step
const SILENCE_MS = 30_000; // no message (heartbeat included) for this long: the link is dead
const PING_MS = 10_000;
const CONNECT_TIMEOUT_MS = 10_000; // an opening handshake that hangs this long is abandoned
// Close codes that mean "your token is no good": go back to the login form.
export const AUTH_CLOSE_CODES = new Set([4401, 4403, 1008]);

/** ws:// or wss:// URL of the station socket, matching the page's scheme. */
export function stationUrl(token, lastSeq, loc = window.location) {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  // numerics=batch: each flush of the server's numerics arrives as one message for all beds
  const q = new URLSearchParams({ token, last_seq: String(lastSeq), numerics: "batch" });
  return `${scheme}//${loc.host}/ws/station?${q}`;
}

export class StationSocket {
  /**
   * @param {object} o
   * @param {() => string} o.url  builds the URL at each attempt (so it carries the latest seq)
   * @param {(msg: object) => void} o.onMessage
   * @param {(status: object) => void} o.onStatus  {live, lost, attempt, retryAt, reason}
   * @param {(code: number) => void} o.onAuthRejected
   */
  constructor({ url, onMessage, onStatus, onAuthRejected, silenceMs = SILENCE_MS }) {
    this._url = url;
    this._onMessage = onMessage;
    this._onStatus = onStatus;
    this._onAuthRejected = onAuthRejected;
    this._silenceMs = silenceMs;
    this._ws = null;
    this._attempt = 0;
    this._stopped = true;
    this._lost = false; // true from a failure until the next message arrives
    this._retryTimer = null;
    this._watchTimer = null;
    this._lastMessageAt = 0;
    this._onOnline = () => this._retryNow();
  }

  start() {
    if (!this._stopped) return;
    this._stopped = false;
    window.addEventListener("online", this._onOnline);
    this._watchTimer = setInterval(() => this._watch(), 1000);
    this._open();
  }

  stop() {
    this._stopped = true;
    window.removeEventListener("online", this._onOnline);
    clearTimeout(this._retryTimer);
    clearInterval(this._watchTimer);
    this._drop(1000, "logout");
  }

  /** Send a message if the socket is open; false otherwise. */
  send(msg) {
    if (!this._ws || this._ws.readyState !== WebSocket.OPEN) return false;
    this._ws.send(JSON.stringify(msg));
    return true;
  }

  get live() {
    return !this._lost && this._ws != null && this._ws.readyState === WebSocket.OPEN;
  }

  _open() {
    clearTimeout(this._retryTimer);
    let ws;
    try {
      ws = new WebSocket(this._url());
    } catch (err) {
      this._failed(`cannot open: ${err.message}`);
      return;
    }
    this._ws = ws;
    this._openedAt = Date.now();
    this._lastMessageAt = Date.now();
    this._lastPingAt = Date.now();
    let first = true;
    ws.onmessage = (ev) => {
      if (ws !== this._ws) return;
      this._lastMessageAt = Date.now();
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        console.warn("station socket: not JSON", ev.data);
        return;
      }
      if (first) {
        // Live again only once the server has spoken on this socket (an accept followed
        // by an immediate close must not clear the banner).
        first = false;
        this._lost = false;
        this._attempt = 0;
        this._status("live");
      }
      this._onMessage(msg);
    };
    ws.onopen = () => {
      this._lastMessageAt = Date.now();
    };
    ws.onclose = (ev) => {
      if (ws !== this._ws) return;
      this._ws = null;
      if (this._stopped) return;
      if (AUTH_CLOSE_CODES.has(ev.code)) {
        this._stopped = true;
        clearInterval(this._watchTimer);
        this._onAuthRejected(ev.code);
        return;
      }
      this._failed(ev.reason || `closed (code ${ev.code})`);
    };
    ws.onerror = () => {
      // A close event always follows; the reason is handled there.
    };
  }

  _failed(reason) {
    this._lost = true;
    const delay = BACKOFF_MS[Math.min(this._attempt, BACKOFF_MS.length - 1)];
    const jittered = Math.round(delay * (0.8 + 0.4 * Math.random()));
    this._attempt += 1;
    this._retryAt = Date.now() + jittered;
    this._status("lost", reason);
    this._retryTimer = setTimeout(() => this._open(), jittered);
  }

  /** Drop the socket and open a new one at once (e.g. a gap in the sequence was seen). */
  reconnect(reason) {
    if (this._stopped) return;
    console.warn("station socket: reconnecting:", reason);
    this._drop(4000, "resync");
    this._open();
  }

  _retryNow() {
    if (this._stopped || this._ws) return;
    this._open();
  }

  _drop(code, reason) {
    const ws = this._ws;
    this._ws = null;
    if (ws) {
      ws.onmessage = ws.onclose = ws.onopen = ws.onerror = null;
      try {
        ws.close(code, reason);
      } catch {
        // already closing
      }
    }
  }

  _watch() {
    if (this._stopped) return;
    const now = Date.now();
    if (this._ws && this._ws.readyState === WebSocket.CONNECTING) {
      if (now - this._openedAt > CONNECT_TIMEOUT_MS) {
        this._drop(4000, "connect timeout");
        this._failed("the server did not answer");
        return;
      }
    }
    if (this._ws && this._ws.readyState === WebSocket.OPEN) {
      if (now - this._lastMessageAt > this._silenceMs) {
        this._drop(4000, "server silent");
        this._failed("no message from the server for " + Math.round(this._silenceMs / 1000) + " s");
        return;
      }
      if (now - this._lastPingAt >= PING_MS) {
        this._lastPingAt = now;
        this.send({ type: "ping" });
      }
    }
    if (this._lost) this._status("lost");
  }

  _status(kind, reason) {
    if (reason) this._reason = reason;
    this._onStatus({
      live: kind === "live",
      lost: this._lost,
      attempt: this._attempt,
      retryInMs: this._ws ? 0 : Math.max(0, (this._retryAt ?? 0) - Date.now()),
      connecting: this._ws != null,
      reason: this._reason ?? "",
    });
  }
}
