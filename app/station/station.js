// The ICU station page: login, then the bed grid, alert list, bed detail and (for engineers)
// the device panel, all fed by the /ws/station websocket. Plain ES modules, no build step.
//
// Station mode: the login click (a user gesture) enables sound and puts this browser in
// station mode, which a reload keeps. In station mode the page never goes quiet: when it
// cannot receive alerts (session ended, websocket down, server restarting) a full-screen
// alarm covers it and sounds; when the browser blocks audio, a full-screen warning stays up
// and the page keeps trying. Only "Log out" (a deliberate act) leaves station mode.

import { AlertList } from "./alerts.js";
import { AuthError, apiFetch, clearSession, loadSession, login, refreshSession, sessionExpired } from "./api.js";
import { StationSocket, stationUrl } from "./connection.js";
import { BedDetail } from "./detail.js";
import { DevicePanel } from "./devices.js";
import { formatClock, setTimeZone, timeZone, zoneName } from "./format.js";
import { LANGUAGES, language, missing, preferredLanguage, rememberLanguage, setLanguage, t, translateStatic } from "./i18n.js";
import { AlarmSound, MUTE_MS } from "./sound.js";
import { Store, isAcked } from "./store.js";
import { BedGrid } from "./tiles.js";

const $ = (sel) => document.querySelector(sel);
const ENGINEER_ROLES = new Set(["engineer", "admin"]);
// who enters trial data or adjudicates (app/auth.py); nurses and engineers stay on the station
const TRIAL_ROLES = new Set(["investigator", "coordinator", "admin"]);
const GAP_RECONNECT_MIN_MS = 60_000; // at most one resync per minute for a seq gap
const STATION_KEY = "iaewatch.station"; // localStorage: "on" while this browser is a station
const REFRESH_RETRY_MS = 30_000;

const store = new Store();
const sound = new AlarmSound();
let session = null;
let socket = null;
let linkStatus = { live: false, lost: false };
let gapSince = null; // lastSeq when a heartbeat first showed a gap
let lastGapReconnect = 0;
let sessionEnded = null; // why the session ended while on duty (null: it did not)
let refreshing = false;
let nextRefreshAt = 0;
let site = { name: "", timezone: null };

const pending = new Set(); // alert ids with an acknowledgement in flight
const ackErrors = new Map(); // alert id → why the last acknowledgement failed

const alertCtx = {
  bedLabel: (bed) => store.beds.get(bed)?.label || bed,
  onAck: (a) => acknowledge(a),
  escalated: (a) => store.escalated(a),
  pending,
  errors: ackErrors,
};

const grid = new BedGrid($("#beds"), store, (bed) => detail.open(bed));
const alertList = new AlertList($("#alert-list"), store, alertCtx);
const detail = new BedDetail($("#detail"), store, {
  session: () => session,
  alertCtx,
  onAuthError: (err) => endSession(err.message),
});
const devicePanel = new DevicePanel($("#devices"), store);

const stationMode = () => localStorage.getItem(STATION_KEY) === "on";

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

function renderAll() {
  translateStatic();
  grid.render();
  alertList.render();
  renderAlertCount();
  devicePanel.render();
  if (detail.isOpen) detail.render();
  renderSoundControls();
  renderLink();
  renderSite();
}

store.addEventListener("change", (ev) => schedule(ev.detail.what));

function renderAlertCount() {
  const listed = store.listAlerts();
  const unacked = listed.filter((a) => !isAcked(a)).length;
  $("#alert-count").textContent = listed.length
    ? unacked
      ? t("alerts.countUnacked", { n: listed.length, u: unacked })
      : t("alerts.count", { n: listed.length })
    : "";
}

function updateSound() {
  const unacked = store
    .listAlerts()
    .filter((a) => !isAcked(a))
    .map((a) => ({ key: store.soundKey(a), priority: a.priority }));
  sound.update(session ? unacked : []);
}

function renderSoundControls() {
  const blocked = stationMode() && !sound.audible;
  $("#audio-blocked").hidden = !blocked || !$("#outage").hidden;
  const mute = $("#mute");
  if (sound.muted) {
    const left = Math.max(0, sound.mutedUntil - Date.now());
    const m = Math.floor(left / 60_000);
    const s = String(Math.floor((left % 60_000) / 1000)).padStart(2, "0");
    mute.textContent = t("sound.muted", { left: `${m}:${s}` });
    mute.classList.add("active");
  } else {
    mute.textContent = t("sound.mute");
    mute.classList.remove("active");
  }
}

function renderSite() {
  const zone = timeZone();
  $("#site").textContent = [site.name, `${zone} (${zoneName()})`].filter(Boolean).join(" · ");
  $("#site").dataset.timezone = zone;
}

/** The full-screen alarm: shown whenever a station cannot receive alerts. */
function renderOutage() {
  let reason = null;
  if (stationMode()) {
    if (sessionEnded != null) reason = t("outage.session", { why: sessionEnded });
    else if (session && linkStatus.lost) {
      const retry =
        linkStatus.connecting || linkStatus.retryInMs < 1000
          ? t("link.reconnecting")
          : t("link.reconnectingIn", { s: Math.ceil(linkStatus.retryInMs / 1000) });
      reason = t("outage.link", { retry, attempt: linkStatus.attempt });
    }
  }
  const outage = $("#outage");
  outage.hidden = reason == null;
  document.body.classList.toggle("outage", reason != null);
  sound.setOutage(reason != null);
  if (reason != null) {
    $("#outage-reason").textContent = reason;
    $("#outage").title = linkStatus.reason ?? "";
    const form = $("#login-form");
    const wantForm = sessionEnded != null;
    if (wantForm && form.parentElement !== $("#outage-login")) $("#outage-login").append(form);
  } else if ($("#login-form").parentElement !== $("#login-slot")) {
    $("#login-slot").append($("#login-form"));
  }
  renderSoundControls();
}

function renderLink() {
  const state = $("#link");
  if (linkStatus.lost) {
    document.body.classList.add("link-lost");
    state.textContent = t("link.offline");
    state.className = "link-state down";
  } else {
    document.body.classList.remove("link-lost");
    state.textContent = linkStatus.live ? t("link.live") : t("link.connecting");
    state.className = `link-state ${linkStatus.live ? "up" : ""}`;
  }
  renderOutage();
}

function tick() {
  if (stationMode() && !sound.audible) sound.unlock(); // keeps trying while audio is blocked
  if (session) {
    if (sessionExpired(session)) {
      endSession(t("session.expired"));
      return;
    }
    if (Date.now() >= nextRefreshAt) refresh();
    $("#clock").textContent = formatClock(store.now());
    grid.render();
    devicePanel.render();
  }
  updateSound();
  renderSoundControls();
  if (linkStatus.lost || sessionEnded != null) renderOutage();
}

// ---- server messages -------------------------------------------------------------------

function onMessage(msg) {
  switch (msg.type) {
    case "snapshot":
      gapSince = null;
      store.applySnapshot(msg);
      loadHistory();
      if (ENGINEER_ROLES.has(session?.role)) loadDevices();
      break;
    case "alert":
      store.applyAlert(msg.alert, msg.seq);
      break;
    case "numerics":
      store.applyNumerics(msg);
      break;
    case "numerics_batch":
      for (const item of msg.items ?? []) store.applyNumerics(item);
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
      break; // future message types
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
      endSession(err.message);
      return;
    }
    // REST unreachable: the websocket may still be up.
    const sent = err.status === 0 && socket?.send({ type: "ack", alert_id: a.id });
    if (!sent) ackErrors.set(a.id, t("alert.ackFailed", { why: err.message }));
  } finally {
    pending.delete(a.id);
    schedule("alerts");
  }
}

/** The current window's alerts of every bed, closed ones included (they survive a reload). */
async function loadHistory() {
  try {
    const res = await apiFetch(session, "/api/alerts/history");
    store.mergeHistory(res?.alerts ?? []);
  } catch (err) {
    if (err instanceof AuthError) endSession(err.message);
    else console.warn("alert history unavailable:", err.message);
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
      endSession(err.message);
      return;
    }
    devicePanel.setStatus(t("devices.unavailable", { why: err.message }));
  }
}

// ---- sessions --------------------------------------------------------------------------

/** Half-way through a token's life, swap it for a new one (no login needed while on duty). */
function planRefresh(s) {
  const end = Date.parse(s.expires_at ?? "");
  const issued = Date.parse(s.issued_at ?? "") || Date.now();
  nextRefreshAt = Number.isFinite(end) ? issued + (end - issued) / 2 : Number.POSITIVE_INFINITY;
}

async function refresh() {
  if (refreshing || !session) return;
  refreshing = true;
  nextRefreshAt = Date.now() + REFRESH_RETRY_MS;
  try {
    session = await refreshSession(session);
    planRefresh(session);
  } catch (err) {
    if (err instanceof AuthError) endSession(err.message);
    // otherwise the server is unreachable: the link alarm says so; retry later
  } finally {
    refreshing = false;
  }
}

/** The session is gone while on duty: in station mode a loud alarm, never a quiet form. */
function endSession(why) {
  if (!stationMode()) {
    showLogin(why);
    return;
  }
  socket?.stop();
  socket = null;
  session = null;
  clearSession();
  sessionEnded = why || t("session.ended");
  linkStatus = { live: false, lost: false };
  $("#login-error").textContent = "";
  renderLink();
  updateSound();
}

function showLogin(message = "") {
  socket?.stop();
  socket = null;
  session = null;
  sessionEnded = null;
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
  sessionEnded = null;
  planRefresh(s);
  $("#login").hidden = true;
  $("#station").hidden = false;
  $("#user").textContent = `${s.username} (${t(`role.${s.role}`)})`;
  const engineer = ENGINEER_ROLES.has(s.role);
  $("#devices-toggle").hidden = !engineer;
  $("#devices").hidden = !engineer;
  $("#trial-link").hidden = !TRIAL_ROLES.has(s.role);
  document.body.dataset.role = s.role;
  linkStatus = { live: false, lost: false };
  renderLink();
  renderSoundControls();
  socket?.stop();
  socket = new StationSocket({
    url: () => stationUrl(session.access_token, store.lastSeq),
    onMessage,
    onStatus: (st) => {
      linkStatus = st;
      renderLink();
    },
    onAuthRejected: () => endSession(t("session.rejected")),
  });
  socket.start();
  tick();
}

async function chooseLanguage(lang, username) {
  rememberLanguage(lang, username);
  await setLanguage(lang);
  $("#lang").value = language();
  if (session) $("#user").textContent = `${session.username} (${t(`role.${session.role}`)})`;
  renderAll();
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
    localStorage.setItem(STATION_KEY, "on");
    const lang = preferredLanguage(s.username);
    if (lang !== language()) await chooseLanguage(lang, s.username);
    startStation(s);
  } catch (err) {
    $("#login-error").textContent = err.message;
  } finally {
    button.disabled = false;
  }
});

$("#logout").addEventListener("click", () => {
  localStorage.removeItem(STATION_KEY);
  showLogin("");
});
$("#audio-blocked").addEventListener("click", () => sound.unlock());
for (const kind of ["pointerdown", "keydown"]) {
  document.addEventListener(kind, () => stationMode() && !sound.audible && sound.unlock(), true);
}
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
$("#lang").addEventListener("change", (ev) => chooseLanguage(ev.currentTarget.value, session?.username));
sound.addEventListener("change", renderSoundControls);

async function loadSite() {
  try {
    const resp = await fetch("/api/site");
    if (resp.ok) site = await resp.json();
  } catch {
    // the page still works in this machine's zone; the link alarm covers an absent server
  }
  setTimeZone(site.timezone);
}

// ---- start -----------------------------------------------------------------------------

const existing = loadSession();
await Promise.all([setLanguage(preferredLanguage(existing?.username)), loadSite()]);
$("#lang").replaceChildren(...LANGUAGES.map((l) => new Option(t(`lang.${l}`), l)));
$("#lang").value = language();
translateStatic();
renderSite();
setInterval(tick, 1000);
if (existing) startStation(existing);
else if (stationMode()) {
  $("#login").hidden = true;
  $("#station").hidden = false;
  endSession(t("session.ended"));
} else showLogin("");
if (stationMode()) sound.unlock();
renderSoundControls();

// Read-only handle for debugging at the bedside console and for the browser tests.
window.iaewatch = { store, sound, missing, language };
