// The bed grid: one tile per bed, built once and updated in place (so alarm flashing keeps
// its rhythm and the screen does not flicker on every numerics message).

import { h, setText } from "./dom.js";
import {
  CODE_RATE,
  CODE_VOLUME,
  DEFAULT_UNITS,
  VITALS,
  categoryLabel,
  displayUnit,
  formatClock,
  formatDuration,
  formatNumber,
  parseTime,
} from "./format.js";

const DEVICE_SYMBOL = { connected: "●", connecting: "◌", disconnected: "✕", stopped: "■" };

export class BedGrid {
  /**
   * @param {HTMLElement} root
   * @param {import("./store.js").Store} store
   * @param {(bed: string) => void} onOpen  called when a tile is clicked
   */
  constructor(root, store, onOpen) {
    this.root = root;
    this.store = store;
    this.onOpen = onOpen;
    this.tiles = new Map(); // bed id → {el, parts}
  }

  render() {
    const beds = [...this.store.beds.keys()].sort(naturalCompare);
    for (const [id, tile] of this.tiles) {
      if (!this.store.beds.has(id)) {
        tile.el.remove();
        this.tiles.delete(id);
      }
    }
    beds.forEach((id, i) => {
      let tile = this.tiles.get(id);
      if (!tile) {
        tile = this._build(id);
        this.tiles.set(id, tile);
      }
      if (this.root.children[i] !== tile.el) this.root.insertBefore(tile.el, this.root.children[i] ?? null);
      this._update(id, tile);
    });
    if (beds.length === 0 && !this.root.querySelector(".empty")) {
      this.root.append(h("p", { class: "empty" }, "No beds configured."));
    } else if (beds.length > 0) {
      this.root.querySelector(".empty")?.remove();
    }
  }

  _build(id) {
    const parts = {};
    parts.name = h("span", { class: "bed-name" });
    parts.study = h("span", { class: "study-id" });
    parts.devices = h("span", { class: "device-dots" });
    const vitals = VITALS.map((v) => {
      const value = h("span", { class: "v-value" }, "—");
      const unit = h("span", { class: "v-unit" }, DEFAULT_UNITS[v.key]);
      const src = h("span", { class: "v-src" });
      const cell = h(
        "div",
        { class: "vital stale", dataset: { vital: v.key } },
        h("span", { class: "v-label" }, v.label, src),
        h("span", { class: "v-reading" }, value, unit),
      );
      parts[v.key] = { cell, value, unit, src };
      return cell;
    });
    parts.infTitle = h("span", { class: "inf-title" });
    parts.infVolume = h("span", { class: "inf-volume" });
    parts.infRate = h("span", { class: "inf-rate" });
    parts.barFill = h("div", { class: "bar-fill" });
    parts.bar = h("div", { class: "bar", role: "progressbar", "aria-valuemin": 0 }, parts.barFill);
    parts.infTime = h("span", { class: "inf-time" });
    parts.infWindow = h("span", { class: "inf-window" });
    parts.infusion = h(
      "div",
      { class: "infusion" },
      h("div", { class: "inf-line" }, parts.infTitle, parts.infVolume, parts.infRate),
      parts.bar,
      h("div", { class: "inf-line" }, parts.infTime, parts.infWindow),
    );
    parts.alarm = h("div", { class: "tile-alarm" });
    const el = h(
      "article",
      {
        class: "tile",
        tabindex: 0,
        role: "button",
        dataset: { bed: id },
        onclick: () => this.onOpen(id),
        onkeydown: (ev) => {
          if (ev.key === "Enter" || ev.key === " ") {
            ev.preventDefault();
            this.onOpen(id);
          }
        },
      },
      h("header", { class: "tile-head" }, parts.name, parts.study, parts.devices),
      h("div", { class: "vitals" }, vitals),
      parts.infusion,
      parts.alarm,
    );
    return { el, parts };
  }

  _update(id, { el, parts }) {
    const bed = this.store.beds.get(id);
    const now = this.store.now();
    setText(parts.name, bed.label || bed.bed);
    // Study id only: the arm is never shown (the station must not unblind).
    setText(parts.study, bed.patient?.study_id ?? "no patient");
    parts.study.classList.toggle("none", !bed.patient);
    el.setAttribute("aria-label", `${bed.label || bed.bed}: open details`);

    for (const v of VITALS) {
      const p = parts[v.key];
      const fresh = this.store.freshValue(id, v.codes, now);
      p.cell.classList.toggle("stale", !fresh);
      p.cell.classList.toggle("questionable", fresh?.status === "questionable");
      if (fresh) {
        setText(p.value, formatNumber(fresh.value, v.digits));
        setText(p.unit, displayUnit(fresh.unit) || DEFAULT_UNITS[v.key]);
        setText(p.src, v.sources ? ` ${v.sources[fresh.index]}` : "");
        p.cell.title =
          `${v.label} at ${formatClock(fresh.t)}` +
          (fresh.status === "questionable" ? " (flagged questionable by the device)" : "");
      } else {
        setText(p.value, "—");
        setText(p.unit, DEFAULT_UNITS[v.key]);
        setText(p.src, "");
        p.cell.title = staleTitle(bed, v, now);
      }
    }

    this._updateInfusion(bed, parts, now);
    this._updateDevices(bed, parts);
    this._updateAlarm(id, el, parts);
  }

  _updateInfusion(bed, parts, now) {
    const inf = bed.infusion;
    parts.infusion.classList.toggle("idle", !inf);
    if (!bed.patient || !inf) {
      setText(parts.infTitle, bed.patient ? "Infusion not started" : "No patient");
      for (const p of [parts.infVolume, parts.infRate, parts.infTime, parts.infWindow]) setText(p, "");
      parts.barFill.style.width = "0%";
      return;
    }
    const started = parseTime(inf.started_at);
    const ended = parseTime(inf.ended_at);
    const running = !Number.isFinite(ended);
    const total = inf.volume_ml ?? 100;
    let infused = inf.volume_infused_ml;
    const live = bed.latest[CODE_VOLUME];
    // While running, the pump's own counter is more current than the bed message.
    if (running && live && typeof live.value === "number" && parseTime(live.t) >= started) {
      infused = live.value;
    }
    // Without the pump's figures the server may still give progress by elapsed time.
    const byTime = typeof infused !== "number" && typeof inf.progress === "number";
    let frac = 0;
    if (typeof infused === "number" && total > 0) frac = Math.min(1, infused / total);
    else if (byTime) frac = Math.min(1, Math.max(0, inf.progress));
    parts.bar.classList.toggle("by-time", byTime);
    parts.bar.title = byTime ? "No volume from the pump: progress estimated from elapsed time" : "";
    setText(parts.infTitle, running ? "Infusing" : "Infusion done");
    setText(
      parts.infVolume,
      `${typeof infused === "number" ? infused.toFixed(0) : "—"} / ${total} mL`,
    );
    parts.barFill.style.width = `${(frac * 100).toFixed(1)}%`;
    parts.bar.setAttribute("aria-valuemax", String(total));
    parts.bar.setAttribute("aria-valuenow", String(infused ?? 0));
    // Only a fresh pump rate is shown: a stale one could hide a stopped pump.
    const rate = running ? this.store.freshValue(bed.bed, [CODE_RATE], now) : null;
    setText(parts.infRate, running ? `${rate ? rate.value.toFixed(0) : "—"} mL/h` : "");
    parts.infRate.classList.toggle("stale", running && !rate);

    const elapsedMs = (running ? now : ended) - started;
    const elapsedMin = Math.max(0, Math.floor(elapsedMs / 60_000));
    const planned = inf.planned_min != null ? ` of ${inf.planned_min} min` : " min";
    setText(
      parts.infTime,
      Number.isFinite(started) ? `${running ? "" : "took "}${elapsedMin}${planned}` : "",
    );
    parts.infTime.classList.toggle(
      "over",
      running && inf.planned_min != null && elapsedMin > inf.planned_min,
    );
    const windowEnd = parseTime(inf.window_end);
    if (Number.isFinite(windowEnd)) {
      const left = windowEnd - now;
      setText(parts.infWindow, left > 0 ? `IAE window ${formatDuration(left)} left` : "IAE window closed");
    } else {
      setText(parts.infWindow, "");
    }
  }

  _updateDevices(bed, parts) {
    const devices = [...bed.devices].sort((a, b) => String(a.kind).localeCompare(String(b.kind)));
    const key = devices.map((d) => `${d.device_id}:${d.state}`).join("|");
    if (parts.devices.dataset.key === key) return;
    parts.devices.dataset.key = key;
    parts.devices.replaceChildren(
      ...devices.map((d) =>
        h(
          "span",
          {
            class: `dev ${d.state}`,
            dataset: { device: d.device_id, state: d.state },
            title: `${d.device_id} (${d.protocol}): ${d.state} since ${formatClock(d.since)}`,
          },
          `${DEVICE_SYMBOL[d.state] ?? "?"} ${d.kind ?? d.device_id}`,
        ),
      ),
    );
  }

  _updateAlarm(id, el, parts) {
    const alarm = this.store.bedAlarm(id);
    for (const level of ["high", "medium", "low"]) {
      el.classList.toggle(`alarm-${level}`, alarm.level === level);
    }
    el.classList.toggle("flashing", alarm.flashing);
    el.dataset.alarm = alarm.level ?? "none";
    if (!alarm.top) {
      setText(parts.alarm, "");
      parts.alarm.hidden = true;
      return;
    }
    parts.alarm.hidden = false;
    const more = this.store.listAlerts({ bed: id }).length - 1;
    const a = alarm.top;
    const text =
      `${String(a.priority ?? "").toUpperCase()} · ${categoryLabel(a.category)}` +
      (a.message ? ` · ${a.message}` : "") +
      (more > 0 ? ` (+${more} more)` : "");
    setText(parts.alarm, text);
  }
}

function staleTitle(bed, v, now) {
  for (const code of v.codes) {
    const last = bed.latest[code];
    if (last && typeof last.value === "number") {
      return `${v.label}: no fresh value (last ${last.value} ${displayUnit(last.unit)} ${formatDuration(now - parseTime(last.t))} ago)`;
    }
  }
  return `${v.label}: no value`;
}

/** "ICU-2" before "ICU-10". */
export function naturalCompare(a, b) {
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}
