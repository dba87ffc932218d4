// The station's state: beds, alerts, devices, the last sequence number seen. No DOM.
//
// Every server message goes through one `apply*` method; views listen for "change" events
// whose `detail.what` is "beds", "numerics", "alerts" or "devices".

import { PRIORITY_RANK, STALE_MS, parseTime } from "./format.js";

const HISTORY_LIMIT = 2000; // finished alerts kept for the history view
export const SPARK_MS = 30 * 60_000; // live values kept per bed and code for the sparklines

/** An alert counts as acknowledged whichever way the server spells it. */
export function isAcked(alert) {
  return alert.acked_by != null || alert.acked_at != null || alert.state === "acknowledged";
}

/** The condition is over (the alert may still latch until acknowledged). */
export function isEnded(alert) {
  return alert.state === "resolved" || alert.ended_at != null;
}

/** On the active list: everything except resolved-and-acknowledged. Unacknowledged latch. */
export function isListed(alert) {
  return !(isAcked(alert) && isEnded(alert));
}

/** Unacknowledged first, then higher priority, then newest onset. */
export function compareAlerts(a, b) {
  const ua = isAcked(a) ? 1 : 0;
  const ub = isAcked(b) ? 1 : 0;
  if (ua !== ub) return ua - ub;
  const pr = (PRIORITY_RANK[b.priority] ?? 0) - (PRIORITY_RANK[a.priority] ?? 0);
  if (pr !== 0) return pr;
  return (parseTime(b.onset) || 0) - (parseTime(a.onset) || 0);
}

// Alerts on one bed whose onsets follow each other within this gap are one incident (one
// event's cascade: VT → tachycardia → hypotension). Device and process alerts (technical,
// infusion problems) are not part of a patient's cascade: they stand alone.
export const INCIDENT_GAP_MS = 5 * 60_000;
const STANDS_ALONE = new Set(["technical", "infusion_problem"]);

/**
 * Group alerts (already filtered) into incidents: {id, bed, members (by onset), lead}. The
 * lead is the member that sorts first; incidents are ordered by their leads.
 */
export function groupIncidents(alerts) {
  const byBed = new Map();
  for (const a of alerts) {
    const key = STANDS_ALONE.has(a.category) ? `${a.bed}\u0000${a.id}` : a.bed;
    if (!byBed.has(key)) byBed.set(key, []);
    byBed.get(key).push(a);
  }
  const incidents = [];
  for (const list of byBed.values()) {
    list.sort((a, b) => (parseTime(a.onset) || 0) - (parseTime(b.onset) || 0));
    let group = [];
    let last = null;
    for (const a of list) {
      const t = parseTime(a.onset) || 0;
      if (group.length && t - last > INCIDENT_GAP_MS) {
        incidents.push(group);
        group = [];
      }
      group.push(a);
      last = t;
    }
    if (group.length) incidents.push(group);
  }
  return incidents
    .map((members) => {
      const lead = [...members].sort(compareAlerts)[0];
      return { id: members[0].id, bed: lead.bed, members, lead };
    })
    .sort((x, y) => compareAlerts(x.lead, y.lead));
}

export function deviceKey(device) {
  return `${device.bed}/${device.device_id}`;
}

export class Store extends EventTarget {
  constructor() {
    super();
    this.beds = new Map(); // bed id → bed object of the contract
    this.alerts = new Map(); // alert id → its latest transition
    this.devices = new Map(); // "bed/device_id" → device
    this.lastSeq = 0; // highest alert seq seen; sent on reconnect
    this.clockOffsetMs = 0; // server clock − this machine's clock, from heartbeats
    this.snapshotCount = 0;
    this.escalations = new Map(); // alert id → escalations seen (each one sounds again)
    this.recent = new Map(); // "bed code" → [[ms, value]] of the last SPARK_MS, for sparklines
  }

  /** The live values of one bed's code seen in the last SPARK_MS. */
  recentValues(bed, code) {
    return this.recent.get(`${bed} ${code}`) ?? [];
  }

  _remember(bed, code, v) {
    const ts = parseTime(v.t);
    if (typeof v.value !== "number" || !Number.isFinite(ts)) return;
    const key = `${bed} ${code}`;
    const list = this.recent.get(key) ?? [];
    if (list.length && list[list.length - 1][0] >= ts) return;
    list.push([ts, v.value]);
    while (list.length && list[0][0] < ts - SPARK_MS) list.shift();
    this.recent.set(key, list);
  }

  /** A key that changes when the alert escalates (the sound announces each key once). */
  soundKey(alert) {
    return `${alert.id}#${this.escalations.get(alert.id) ?? 0}`;
  }

  escalated(alert) {
    return (this.escalations.get(alert.id) ?? 0) > 0;
  }

  /** The server's "now" in epoch ms, corrected for this machine's clock error. */
  now() {
    return Date.now() + this.clockOffsetMs;
  }

  observeServerTime(iso) {
    const t = parseTime(iso);
    if (Number.isFinite(t)) this.clockOffsetMs = t - Date.now();
  }

  _emit(what, extra = {}) {
    this.dispatchEvent(new CustomEvent("change", { detail: { what, ...extra } }));
  }

  reset() {
    this.beds.clear();
    this.alerts.clear();
    this.devices.clear();
    this.lastSeq = 0;
    this.snapshotCount = 0;
    this.escalations.clear();
    for (const what of ["beds", "alerts", "devices"]) this._emit(what);
  }

  applySnapshot(msg) {
    this.beds.clear();
    this.devices.clear();
    for (const bed of msg.beds ?? []) {
      this.beds.set(bed.bed, normaliseBed(bed));
      for (const d of bed.devices ?? []) this.devices.set(deviceKey(d), d);
    }
    // The snapshot replaces the active alerts; finished ones we knew stay for the history.
    const kept = [...this.alerts.values()].filter((a) => !isListed(a));
    this.alerts.clear();
    for (const a of kept) this.alerts.set(a.id, a);
    for (const a of msg.alerts ?? []) this._putAlert(a);
    if (Number.isInteger(msg.seq)) this.lastSeq = msg.seq;
    this.snapshotCount += 1;
    for (const what of ["beds", "alerts", "devices"]) this._emit(what);
  }

  /** One alert transition. Returns true when it changed something. */
  applyAlert(alert, seq) {
    const s = Number.isInteger(seq) ? seq : alert.seq;
    if (Number.isInteger(s) && s > this.lastSeq) this.lastSeq = s;
    const changed = this._putAlert(alert);
    if (changed) this._emit("alerts", { alert });
    return changed;
  }

  /** An alert returned by a REST call: newer transitions win, the resume point is untouched. */
  mergeAlert(alert) {
    if (alert && alert.id && this._putAlert(alert)) this._emit("alerts", { alert });
  }

  _putAlert(alert) {
    if (!alert || !alert.id) return false;
    const old = this.alerts.get(alert.id);
    if (old && Number.isInteger(old.seq) && Number.isInteger(alert.seq) && alert.seq <= old.seq) {
      return false; // a duplicate or an older transition (resume overlap)
    }
    if (alert.phase === "escalate") this.escalations.set(alert.id, (this.escalations.get(alert.id) ?? 0) + 1);
    this.alerts.set(alert.id, alert);
    this._trimHistory();
    return true;
  }

  _trimHistory() {
    if (this.alerts.size <= HISTORY_LIMIT) return;
    const finished = [...this.alerts.values()]
      .filter((a) => !isListed(a))
      .sort((a, b) => (parseTime(a.t) || 0) - (parseTime(b.t) || 0));
    for (const a of finished.slice(0, this.alerts.size - HISTORY_LIMIT)) this.alerts.delete(a.id);
  }

  applyNumerics(msg) {
    const bed = this.beds.get(msg.bed);
    if (!bed) return;
    for (const [code, v] of Object.entries(msg.values ?? {})) {
      bed.latest[code] = { value: v.value, unit: v.unit, t: v.t ?? msg.t, status: v.status };
      this._remember(msg.bed, code, bed.latest[code]);
    }
    this._emit("numerics", { bed: msg.bed });
  }

  applyBed(bed) {
    if (!bed || !bed.bed) return;
    this.beds.set(bed.bed, normaliseBed(bed));
    for (const d of bed.devices ?? []) this.devices.set(deviceKey(d), d);
    this._emit("beds", { bed: bed.bed });
    this._emit("devices");
  }

  applyDevice(device) {
    if (!device || !device.device_id) return;
    this.devices.set(deviceKey(device), device);
    const bed = this.beds.get(device.bed);
    if (bed) {
      const i = bed.devices.findIndex((d) => d.device_id === device.device_id);
      if (i >= 0) bed.devices[i] = device;
      else bed.devices.push(device);
      this._emit("beds", { bed: device.bed });
    }
    this._emit("devices");
  }

  setDevices(list) {
    for (const d of list) this.devices.set(deviceKey(d), d);
    this._emit("devices");
  }

  /** Merge alerts read from the history API (older ones than the snapshot's included). */
  mergeHistory(list) {
    let changed = false;
    for (const a of list ?? []) changed = this._putAlert(a) || changed;
    if (changed) this._emit("alerts");
  }

  /** Alerts on the active list, in display order; with `history`, every alert known. */
  listAlerts({ history = false, bed = null } = {}) {
    return [...this.alerts.values()]
      .filter((a) => (history || isListed(a)) && (bed == null || a.bed === bed))
      .sort(compareAlerts);
  }

  /**
   * The bed's alarm indicator: the highest priority on its active list, flashing while an
   * alert of that priority is unacknowledged (IEC 60601-1-8: low priority never flashes).
   */
  bedAlarm(bedId) {
    let level = null;
    let rank = 0;
    let unacked = 0;
    for (const a of this.alerts.values()) {
      if (a.bed !== bedId || !isListed(a)) continue;
      if (!isAcked(a)) unacked += 1;
      const r = PRIORITY_RANK[a.priority] ?? 0;
      if (r > rank) {
        rank = r;
        level = a.priority;
      }
    }
    if (level == null) return { level: null, flashing: false, unacked: 0, top: null };
    const atLevel = this.listAlerts({ bed: bedId }).filter((a) => a.priority === level);
    const flashing = level !== "low" && atLevel.some((a) => !isAcked(a));
    return { level, flashing, unacked, top: atLevel[0] ?? null };
  }

  /** The first fresh value among `codes`, else null; with its code and index. */
  freshValue(bedId, codes, now = this.now()) {
    const bed = this.beds.get(bedId);
    if (!bed) return null;
    for (let i = 0; i < codes.length; i += 1) {
      const v = bed.latest[codes[i]];
      if (!v || typeof v.value !== "number" || v.status === "unavailable") continue;
      const age = now - parseTime(v.t);
      if (Number.isFinite(age) && age <= STALE_MS) return { ...v, code: codes[i], index: i, age };
    }
    return null;
  }
}

function normaliseBed(bed) {
  return { ...bed, latest: { ...(bed.latest ?? {}) }, devices: [...(bed.devices ?? [])] };
}
