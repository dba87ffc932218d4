// The bed grid: one tile per bed, built once and updated in place (so alarm flashing keeps
// its rhythm and the screen does not flicker on every numerics message).

import { sparkline } from "./charts.js";
import { h, setText } from "./dom.js";
import {
  CODE_RATE,
  CODE_VOLUME,
  DEFAULT_UNITS,
  DOSE_CODES,
  VITALS,
  alertText,
  alertValues,
  categoryLabel,
  codeLabel,
  displayUnit,
  formatClock,
  formatDuration,
  formatNumber,
  parseTime,
  priorityLabel,
} from "./format.js";
import { SPARK_MS, isEnded } from "./store.js";
import { t, tOr } from "./i18n.js";

const DEVICE_SYMBOL = { connected: "●", connecting: "◌", offline: "✕", stale: "◐" };

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
      this.root.append(h("p", { class: "empty" }, t("tile.noBeds")));
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
      const spark = h("span", { class: "v-spark" });
      const cell = h(
        "div",
        { class: "vital stale", dataset: { vital: v.key } },
        h("span", { class: "v-label" }, h("span", { class: "v-name" }, t(`vital.${v.key}`)), src),
        h("span", { class: "v-reading" }, value, unit),
        spark,
      );
      parts[v.key] = { cell, value, unit, src, spark };
      return cell;
    });
    parts.doses = h("div", { class: "doses" });
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
      parts.doses,
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
    setText(parts.study, bed.patient?.study_id ?? t("tile.noPatient"));
    parts.study.classList.toggle("none", !bed.patient);
    el.setAttribute("aria-label", t("tile.open", { bed: bed.label || bed.bed }));

    for (const v of VITALS) {
      const p = parts[v.key];
      const fresh = this.store.freshValue(id, v.codes, now);
      p.cell.classList.toggle("stale", !fresh);
      p.cell.classList.toggle("questionable", fresh?.status === "questionable");
      const label = t(`vital.${v.key}`);
      const series = this.store.recentValues(id, fresh?.code ?? v.codes[0]);
      const sparkKey = `${series.length}:${series.at(-1)?.[0] ?? ""}:${Math.floor(now / 10_000)}`;
      if (p.spark.dataset.key !== sparkKey) {
        p.spark.dataset.key = sparkKey;
        p.spark.replaceChildren(sparkline(series, now, SPARK_MS));
      }
      setText(p.cell.querySelector(".v-name"), label);
      if (fresh) {
        setText(p.value, formatNumber(fresh.value, v.digits));
        setText(p.unit, displayUnit(fresh.unit) || DEFAULT_UNITS[v.key]);
        setText(p.src, v.sources ? ` ${v.sources[fresh.index]}` : "");
        p.cell.title =
          t("tile.valueAt", { label, at: formatClock(fresh.t) }) +
          (fresh.status === "questionable" ? ` ${t("tile.questionable")}` : "");
      } else {
        setText(p.value, "—");
        setText(p.unit, DEFAULT_UNITS[v.key]);
        setText(p.src, "");
        p.cell.title = staleTitle(bed, v, label, now);
      }
    }
    this._updateDoses(id, parts, now);

    this._updateInfusion(bed, parts, now);
    this._updateDevices(bed, parts);
    this._updateAlarm(id, el, parts);
  }

  _updateInfusion(bed, parts, now) {
    const inf = bed.infusion;
    parts.infusion.classList.toggle("idle", !inf);
    if (!bed.patient || !inf) {
      setText(parts.infTitle, bed.patient ? t("inf.notStarted") : t("tile.noPatient"));
      parts.infusion.dataset.state = "none";
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
    parts.bar.title = byTime ? t("inf.byTime") : "";
    const rate = running ? this.store.freshValue(bed.bed, [CODE_RATE], now) : null;
    const state = infusionState(running, this.store.listAlerts({ bed: bed.bed }), rate);
    parts.infusion.dataset.state = state.key;
    setText(parts.infTitle, state.text);
    setText(
      parts.infVolume,
      `${typeof infused === "number" ? infused.toFixed(0) : "—"} / ${total} mL`,
    );
    parts.barFill.style.width = `${(frac * 100).toFixed(1)}%`;
    parts.bar.setAttribute("aria-valuemax", String(total));
    parts.bar.setAttribute("aria-valuenow", String(infused ?? 0));
    // Only a fresh pump rate is shown: a stale one could hide a stopped pump.
    setText(parts.infRate, running ? `${rate ? rate.value.toFixed(0) : "—"} mL/h` : "");
    parts.infRate.classList.toggle("stale", running && !rate);

    const elapsedMs = (running ? now : ended) - started;
    const elapsedMin = Math.max(0, Math.floor(elapsedMs / 60_000));
    const timeKey = `inf.${running ? "elapsed" : "took"}${inf.planned_min != null ? "Of" : ""}`;
    setText(
      parts.infTime,
      Number.isFinite(started) ? t(timeKey, { m: elapsedMin, planned: Math.round(inf.planned_min) }) : "",
    );
    parts.infTime.classList.toggle(
      "over",
      running && inf.planned_min != null && elapsedMin > inf.planned_min,
    );
    setText(parts.infWindow, windowText(inf, started, now));
  }

  _updateDoses(id, parts, now) {
    const doses = DOSE_CODES.map((c) => this.store.freshValue(id, [c], now)).filter(Boolean);
    const text = doses
      .map((d) => `${codeLabel(d.code)} ${formatNumber(d.value, d.value < 1 ? 2 : 1)} ${displayUnit(d.unit)}`)
      .join(" · ");
    setText(parts.doses, text);
    parts.doses.hidden = doses.length === 0;
  }

  _updateDevices(bed, parts) {
    const devices = [...bed.devices].sort((a, b) => String(a.kind).localeCompare(String(b.kind)));
    const now = this.store.now();
    const shown = devices.map((d) => ({ d, state: deviceState(d), age: deviceAge(d, now) }));
    const key = shown.map((x) => `${x.d.device_id}:${x.state}:${x.age}`).join("|");
    if (parts.devices.dataset.key === key) return;
    parts.devices.dataset.key = key;
    parts.devices.replaceChildren(
      ...shown.map(({ d, state, age }) =>
        h(
          "span",
          {
            class: `dev ${state}`,
            dataset: { device: d.device_id, state },
            title: t("dev.title", { id: d.device_id, protocol: d.protocol ?? "", state: t(`dev.${state}`), age }),
          },
          `${DEVICE_SYMBOL[state] ?? "?"} ${tOr(`kind.${d.kind}`, d.kind ?? d.device_id)}`,
          state === "connected" ? null : h("span", { class: "dev-age" }, ` ${t(`dev.${state}`)} ${age}`),
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
    const values = alertValues(a);
    const said = alertText(a);
    const text =
      `${priorityLabel(a.priority)} · ${categoryLabel(a.category)}` +
      (values.length ? ` · ${values[0]}` : said ? ` · ${said}` : "") +
      (more > 0 ? ` ${t("tile.more", { n: more })}` : "");
    setText(parts.alarm, text);
  }
}

function staleTitle(bed, v, label, now) {
  for (const code of v.codes) {
    const last = bed.latest[code];
    if (last && typeof last.value === "number") {
      return t("tile.staleValue", {
        label,
        value: `${last.value} ${displayUnit(last.unit)}`,
        ago: formatDuration(now - parseTime(last.t)),
      });
    }
  }
  return t("tile.noValue", { label });
}

/**
 * connected / stale (connected, but its data stopped) / offline / connecting: the server's
 * `presence` (app.live.views.presence), else read from the connection state.
 */
export function deviceState(d) {
  if (DEVICE_SYMBOL[d.presence]) return d.presence;
  if (d.state === "connected") return d.stale ? "stale" : "connected";
  if (d.state === "disconnected" || d.state === "stopped") return "offline";
  return d.state ?? "connecting";
}

/** How long the dot has shown what it shows: since `presence_since` (a stale or offline
 * device: its last data), else since its state changed. */
export function deviceAge(d, now) {
  const since = parseTime(d.presence_since ?? d.since);
  return Number.isFinite(since) ? formatDuration(now - since) : t("dev.never");
}

/**
 * What the infusion is doing, from the live alerts and rate (the bed payload's `state` is only
 * as fresh as its last push): complete once ended; stopped while a pump alarm of the bed is
 * open; paused at a fresh rate of 0; else running (app.live.views.infusion_state, live).
 */
export function infusionState(running, alerts, rate) {
  let key = "running";
  let reason = null;
  const alarm = alerts.find((a) => a.evidence?.event === "pump_alarm" && !isEnded(a));
  if (!running) key = "complete";
  else if (alarm) {
    key = "stopped";
    reason = alarm.evidence?.fields?.kind ?? null;
  } else if (rate && rate.value <= 0) key = "paused";
  return stateText(key, reason);
}

function stateText(key, reason) {
  if (key === "stopped") {
    const why = reason ? tOr(`pump.${reason}`, reason) : "";
    return { key, text: why ? t("inf.stoppedReason", { reason: why }) : t("inf.stopped") };
  }
  return { key, text: t(`inf.${key}`) };
}

/** "6 h window 3 h 05 min left · 24 h window 21 h 05 min left". */
function windowText(inf, started, now) {
  if (!Number.isFinite(started)) return "";
  return [6, 24]
    .map((hrs) => {
      const left = started + hrs * 3_600_000 - now;
      return left > 0 ? t("inf.windowLeft", { h: hrs, left: formatDuration(left) }) : t("inf.windowClosed", { h: hrs });
    })
    .join(" · ");
}

/** "ICU-2" before "ICU-10". */
export function naturalCompare(a, b) {
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}
