// The ICU station page: login, then the bed grid, alert list, bed detail and (for engineers)
// the device panel, all fed by the /ws/station websocket. Plain ES modules, no build step.

import { AlertList } from "./alerts.js";
import { AuthError, apiFetch, clearSession, loadSession, login, sessionExpired } from "./api.js";
import { StationSocket, stationUrl } from "./connection.js";
import { BedDetail } from "./detail.js";
import { DevicePanel } from "./devices.js";
import { formatClock } from "./format.js";
import { AlarmSound, MUTE_MS } from "./sound.js";
import { Store, isAcked } from "./store.js";
import { BedGrid } from "./tiles.js";

const $ = (sel) => document.querySelector(sel);
const ENGINEER_ROLES = new Set(["engineer", "admin"]);
const GAP_RECONNECT_MIN_MS = 60_000; // at most one resync per minute for a seq gap

const store = new Store();
const sound = new AlarmSound();
let session = null;
let socket = null;
let linkStatus = { live: false, lost: false };
let gapSince = null; // lastSeq when a heartbeat first showed a gap
let lastGapReconnect = 0;

const pending = new Set(); // alert ids with an acknowledgement in flight
const ackErrors = new Map(); // alert id → why the last acknowledgement failed

const alertCtx = {
  bedLabel: (bed) => store.beds.get(bed)?.label || bed,
  onAck: (a) => acknowledge(a),
  pending,
  errors: ackErrors,
};

const grid = new BedGrid($("#beds"), store, (bed) => detail.open(bed));
const alertList = new AlertList($("#alert-list"), store, alertCtx);
const detail = new BedDetail($("#detail"), store, {
  session: () => session,
  alertCtx,
  onAuthError: (err) => showLogin(err.message),
});
const devicePanel = new DevicePanel($("#devices"), store);

// ---- rendering -------------------------------------------------------------------------

const dirty = new Set();
let renderQueued = false;

function schedule(what) {
  dirty.add(what);
  if (renderQueued) return;
  renderQueued = true;
  setTimeout(flush, 0);
}

function flush() {
  renderQueued = false;
  const d = new Set(dirty);
  dirty.clear();
  if (d.has("beds") || d.has("numerics") || d.has("alerts")) grid.render();
  if (d.has("alerts")) {
    alertList.render();
    renderAlertCount();
    updateSound();
  }
  if (detail.isOpen && (d.has("alerts") || d.has("beds"))) detail.render();
  if (d.has("devices")) devicePanel.render();
}

store.addEventListener("change", (ev) => schedule(ev.detail.what));

function renderAlertCount() {
  const listed = store.listAlerts();
  const unacked = listed.filter((a) => !isAcked(a)).length;
  $("#alert-count").textContent = listed.length
    ? `${listed.length} active${unacked ? `, ${unacked} unacknowledged` : ""}`
    : "";
}

function updateSound() {
  const ids = store
    .listAlerts()
    .filter((a) => a.priority === "high" && !isAcked(a))
    .map((a) => a.id);
  sound.update(ids);
}

function renderSoundControls() {
  const enable = $("#sound-enable");
  enable.hidden = sound.audible;
  const mute = $("#mute");
  if (sound.muted) {
    const left = Math.max(0, sound.mutedUntil - Date.now());
    const m = Math.floor(left / 60_000);
    const s = String(Math.floor((left % 60_000) / 1000)).padStart(2, "0");
    mute.textContent = `Muted ${m}:${s} — unmute`;
    mute.classList.add("active");
  } else {
    mute.textContent = "Mute 2 min";
    mute.classList.remove("active");
  }
}

function renderLink() {
  const banner = $("#banner");
  const state = $("#link");
  if (linkStatus.lost) {
    const retry =
      linkStatus.connecting || linkStatus.retryInMs < 1000
        ? "reconnecting…"
        : `reconnecting in ${Math.ceil(linkStatus.retryInMs / 1000)} s`;
    banner.textContent =
      `CONNECTION TO SERVER LOST — this screen is not live and alerts may be missing. ` +
      `${retry[0].toUpperCase()}${retry.slice(1)} (attempt ${linkStatus.attempt}).`;
    banner.title = linkStatus.reason;
    banner.hidden = false;
    document.body.classList.add("link-lost");
    state.textContent = "OFFLINE";
    state.className = "link-state down";
  } else {
    banner.hidden = true;
    document.body.classList.remove("link-lost");
    state.textContent = linkStatus.live ? "live" : "connecting…";
    state.className = `link-state ${linkStatus.live ? "up" : ""}`;
  }
}

function tick() {
  if (!session) return;
  if (sessionExpired(session)) {
    showLogin("Session expired; please log in again.");
    return;
  }
  $("#clock").textContent = formatClock(store.now());
  grid.render();
  devicePanel.render();
  updateSound();
  renderSoundControls();
  if (linkStatus.lost) renderLink();
}

// ---- server messages -------------------------------------------------------------------

function onMessage(msg) {
  switch (msg.type) {
    case "snapshot":
      gapSince = null;
      store.applySnapshot(msg);
      if (ENGINEER_ROLES.has(session?.role)) loadDevices();
      break;
    case "alert":
      store.applyAlert(msg.alert, msg.seq);
      break;
    case "numerics":
      store.applyNumerics(msg);
      break;
    case "bed":
      store.applyBed(msg.bed);
      break;
    case "device":
      store.applyDevice(msg.device);
      break;
    case "heartbeat":
    case "pong":
      store.observeServerTime(msg.t);
      checkGap(msg.seq);
      break;
    case "resync":
      console.info("server asks for a resync:", msg.reason);
      break;
    case "error":
      console.warn("station socket: server says:", msg.reason);
      break;
    default:
      break; // "error" replies and future message types
  }
}

/** A heartbeat announcing a seq we never received twice running: fetch what we missed. */
function checkGap(seq) {
  if (!Number.isInteger(seq) || seq <= store.lastSeq) {
    gapSince = null;
    return;
  }
  if (gapSince !== store.lastSeq) {
    gapSince = store.lastSeq;
    return;
  }
  if (Date.now() - lastGapReconnect < GAP_RECONNECT_MIN_MS) return;
  lastGapReconnect = Date.now();
  gapSince = null;
  socket?.reconnect(`heartbeat seq ${seq} > last seen ${store.lastSeq}`);
}

// ---- actions ---------------------------------------------------------------------------

async function acknowledge(a) {
  if (pending.has(a.id)) return;
  pending.add(a.id);
  ackErrors.delete(a.id);
  schedule("alerts");
  try {
    const res = await apiFetch(session, `/api/alerts/${encodeURIComponent(a.id)}/ack`, {
      method: "POST",
    });
    if (res && typeof res === "object") store.mergeAlert(res.alert ?? res);
  } catch (err) {
    if (err instanceof AuthError) {
      pending.delete(a.id);
      showLogin(err.message);
      return;
    }
    // REST unreachable: the websocket may still be up.
    const sent = err.status === 0 && socket?.send({ type: "ack", alert_id: a.id });
    if (!sent) ackErrors.set(a.id, `Not acknowledged: ${err.message}`);
  } finally {
    pending.delete(a.id);
    schedule("alerts");
  }
}

async function loadDevices() {
  try {
    const res = await apiFetch(session, "/api/devices");
    const list = Array.isArray(res) ? res : (res?.devices ?? []);
    store.setDevices(list);
    devicePanel.setStatus("");
  } catch (err) {
    if (err instanceof AuthError) {
      showLogin(err.message);
      return;
    }
    devicePanel.setStatus(`Device list unavailable: ${err.message}`);
  }
}

// ---- login / logout --------------------------------------------------------------------

function showLogin(message = "") {
  socket?.stop();
  socket = null;
  session = null;
  clearSession();
  detail.close();
  store.reset();
  pending.clear();
  ackErrors.clear();
  linkStatus = { live: false, lost: false };
  renderLink();
  $("#station").hidden = true;
  $("#login").hidden = false;
  $("#login-error").textContent = message;
  $("#login-form").elements.password.value = "";
  $("#login-form").elements.username.focus();
}

function startStation(s) {
  session = s;
  $("#login").hidden = true;
  $("#station").hidden = false;
  $("#user").textContent = `${s.username} (${s.role})`;
  const engineer = ENGINEER_ROLES.has(s.role);
  $("#devices-toggle").hidden = !engineer;
  $("#devices").hidden = !engineer;
  document.body.dataset.role = s.role;
  linkStatus = { live: false, lost: false };
  renderLink();
  renderSoundControls();
  socket = new StationSocket({
    url: () => stationUrl(session.access_token, store.lastSeq),
    onMessage,
    onStatus: (st) => {
      linkStatus = st;
      renderLink();
    },
    onAuthRejected: () => showLogin("Session ended by the server; please log in again."),
  });
  socket.start();
  tick();
}

$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  sound.unlock(); // this click is the user gesture browsers need before any sound
  const form = ev.currentTarget;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  $("#login-error").textContent = "";
  try {
    const s = await login(form.elements.username.value.trim(), form.elements.password.value);
    form.elements.password.value = "";
    startStation(s);
  } catch (err) {
    $("#login-error").textContent = err.message;
  } finally {
    button.disabled = false;
  }
});

$("#logout").addEventListener("click", () => showLogin(""));
$("#sound-enable").addEventListener("click", () => sound.unlock());
$("#mute").addEventListener("click", () => {
  sound.unlock();
  if (sound.muted) sound.unmute();
  else sound.muteFor(MUTE_MS);
});
$("#history-toggle").addEventListener("change", (ev) => {
  alertList.history = ev.currentTarget.checked;
  alertList.render();
});
$("#devices-toggle").addEventListener("click", () => {
  const panel = $("#devices");
  panel.hidden = !panel.hidden;
  devicePanel.render();
  if (!panel.hidden) panel.scrollIntoView({ behavior: "smooth" });
});
sound.addEventListener("change", renderSoundControls);

setInterval(tick, 1000);

const existing = loadSession();
if (existing) startStation(existing);
else showLogin("");

// Read-only handle for debugging at the bedside console and for the browser tests.
window.iaewatch = { store, sound };
