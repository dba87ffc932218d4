// Bed detail view: trends of the last hours with infusion and alert markers, the bed's
// alerts, and the link to the patient's report.

import { alertRow } from "./alerts.js";
import { AuthError, apiFetch } from "./api.js";
import { h, setText } from "./dom.js";
import { CODE_RATE, CODE_VOLUME } from "./format.js";
import { trendSvg } from "./trends.js";

const HOURS = 6;
const POINTS = 300;
const REFRESH_MS = 60_000;

const GROUPS = [
  { title: "SpO₂", unit: "%", codes: ["MDC_PULS_OXIM_SAT_O2"] },
  {
    title: "Heart rate",
    unit: "/min",
    codes: ["MDC_ECG_HEART_RATE", "MDC_PULS_OXIM_PULS_RATE"],
    sources: ["ECG", "SpO₂"],
  },
  {
    title: "MAP",
    unit: "mmHg",
    codes: ["MDC_PRESS_BLD_ART_MEAN", "MDC_PRESS_BLD_NONINV_MEAN"],
    sources: ["ART", "NIBP"],
  },
  { title: "Temperature", unit: "°C", codes: ["MDC_TEMP_BLD", "MDC_TEMP"], digits: 1 },
  { title: "FiO₂", unit: "%", codes: ["MDC_VENT_CONC_AWAY_O2_INSP"] },
  { title: "PEEP", unit: "cmH2O", codes: ["MDC_PRESS_AWAY_END_EXP_POS"] },
  { title: "Infusion rate", unit: "mL/h", codes: [CODE_RATE] },
  { title: "Volume infused", unit: "mL", codes: [CODE_VOLUME] },
];

export const TREND_CODES = GROUPS.flatMap((g) => g.codes);

export class BedDetail {
  /**
   * @param {HTMLElement} root  the detail <section>
   * @param {import("./store.js").Store} store
   * @param {object} o
   * @param {() => object} o.session
   * @param {object} o.alertCtx  see alerts.js alertRow
   * @param {(err: Error) => void} o.onAuthError
   */
  constructor(root, store, { session, alertCtx, onAuthError }) {
    this.root = root;
    this.store = store;
    this.session = session;
    this.alertCtx = alertCtx;
    this.onAuthError = onAuthError;
    this.bed = null;
    this.trends = null;
    this.timer = null;
    this.title = root.querySelector(".d-title");
    this.study = root.querySelector(".d-study");
    this.report = root.querySelector(".d-report");
    this.charts = root.querySelector(".d-charts");
    this.status = root.querySelector(".d-status");
    this.alerts = root.querySelector(".d-alerts");
    root.querySelector(".d-close").addEventListener("click", () => this.close());
    root.addEventListener("click", (ev) => {
      if (ev.target === root) this.close(); // a click on the backdrop
    });
    this.report.addEventListener("click", (ev) => this._openReport(ev));
    document.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && this.bed) this.close();
    });
  }

  get isOpen() {
    return this.bed != null;
  }

  open(bedId) {
    this.bed = bedId;
    this.trends = null;
    this.root.hidden = false;
    this.root.dataset.bed = bedId;
    this.charts.replaceChildren();
    this.render();
    this._load();
    clearInterval(this.timer);
    this.timer = setInterval(() => this._load(), REFRESH_MS);
    this.root.querySelector(".d-close").focus();
  }

  close() {
    clearInterval(this.timer);
    this.bed = null;
    this.root.hidden = true;
    delete this.root.dataset.bed;
  }

  /** Header and alerts; the charts are redrawn only when their markers may have moved. */
  render({ charts = true } = {}) {
    if (!this.bed) return;
    const bed = this.store.beds.get(this.bed);
    setText(this.title, bed ? bed.label || bed.bed : this.bed);
    const studyId = bed?.patient?.study_id;
    setText(this.study, studyId ?? "no patient");
    this.report.hidden = !studyId;
    if (studyId) {
      this.report.href = `/api/patients/${encodeURIComponent(studyId)}/report?format=html`;
    } else {
      this.report.removeAttribute("href");
    }
    const alerts = this.store.listAlerts({ history: true, bed: this.bed });
    this.alerts.replaceChildren(
      ...(alerts.length
        ? alerts.map((a) => alertRow(a, this.alertCtx))
        : [h("li", { class: "no-alerts" }, "No alerts for this bed.")]),
    );
    if (charts) this._drawCharts();
  }

  async _load() {
    const bedId = this.bed;
    const q = new URLSearchParams({ codes: TREND_CODES.join(","), hours: String(HOURS), points: String(POINTS) });
    setText(this.status, "Loading trends…");
    try {
      const data = await apiFetch(this.session(), `/api/beds/${encodeURIComponent(bedId)}/trends?${q}`);
      if (this.bed !== bedId) return;
      this.trends = normaliseTrends(data);
      setText(this.status, "");
      this._drawCharts();
    } catch (err) {
      if (err instanceof AuthError) {
        this.onAuthError(err);
        return;
      }
      if (this.bed === bedId) setText(this.status, `Trends unavailable: ${err.message}`);
    }
  }

  _drawCharts() {
    if (!this.bed || !this.trends) return;
    const bed = this.store.beds.get(this.bed);
    const to = this.store.now();
    const from = to - HOURS * 3_600_000;
    const markers = [];
    if (bed?.infusion?.started_at) {
      markers.push({ t: bed.infusion.started_at, kind: "infusion", label: "Infusion start" });
    }
    if (bed?.infusion?.ended_at) {
      markers.push({ t: bed.infusion.ended_at, kind: "infusion", label: "Infusion end" });
    }
    for (const a of this.store.listAlerts({ history: true, bed: this.bed })) {
      markers.push({ t: a.onset, kind: a.priority, label: `${a.priority} alert: ${a.message || a.category}` });
    }
    const svgs = GROUPS.map((g) => {
      const i = g.codes.findIndex((c) => (this.trends[c] ?? []).length > 0);
      const code = g.codes[Math.max(0, i)];
      const title = g.sources && i >= 0 ? `${g.title} ${g.sources[i]}` : g.title;
      const svg = trendSvg({
        title,
        unit: g.unit,
        points: this.trends[code] ?? [],
        from,
        to,
        markers,
        digits: g.digits ?? 0,
      });
      svg.dataset.code = code;
      return svg;
    });
    this.charts.replaceChildren(...svgs);
  }

  async _openReport(ev) {
    // The report needs the bearer token, which a plain link cannot carry.
    ev.preventDefault();
    const href = this.report.getAttribute("href");
    if (!href) return;
    const win = window.open("", "_blank");
    try {
      const html = await apiFetch(this.session(), href, { accept: "text/html" });
      const body = typeof html === "string" ? html : JSON.stringify(html, null, 2);
      const type = typeof html === "string" ? "text/html" : "application/json";
      const url = URL.createObjectURL(new Blob([body], { type }));
      if (win) win.location.href = url;
      else window.location.href = url;
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (err) {
      if (err instanceof AuthError) {
        win?.close();
        this.onAuthError(err);
        return;
      }
      if (win) win.document.body.textContent = `Report unavailable: ${err.message}`;
      setText(this.status, `Report unavailable: ${err.message}`);
    }
  }
}

/**
 * `{code: [[t, v], ...]}`; also accepts `{series: {code: {unit, points: [[t, v], ...]}}}`
 * (the shape the server's OpenAPI schema names TrendsOut).
 */
export function normaliseTrends(data) {
  const src = data && typeof data === "object" && data.series && typeof data.series === "object"
    ? data.series
    : (data ?? {});
  const out = {};
  for (const [code, v] of Object.entries(src)) {
    if (Array.isArray(v)) out[code] = v;
    else if (v && Array.isArray(v.points)) out[code] = v.points;
  }
  return out;
}
