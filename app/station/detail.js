// Bed detail view: trend charts (zoom 30 min / 2 h / 6 h / 24 h) with the baseline band, alert
// markers and the infusion start and end; the bed's alerts, earlier windows on request, and
// the link to the patient's report.

import { alertRow } from "./alerts.js";
import { AuthError, apiFetch } from "./api.js";
import { trendChart, toMs } from "./charts.js";
import { h, setText } from "./dom.js";
import {
  CODE_RATE,
  CODE_VOLUME,
  VITALS,
  categoryLabel,
  formatDateTime,
  parseTime,
  priorityLabel,
} from "./format.js";
import { language, t } from "./i18n.js";

const FETCH_HOURS = 24;
const POINTS = 1000;
const REFRESH_MS = 60_000;
export const ZOOMS = [
  { key: "30m", ms: 30 * 60_000 },
  { key: "2h", ms: 2 * 3_600_000 },
  { key: "6h", ms: 6 * 3_600_000 },
  { key: "24h", ms: 24 * 3_600_000 },
];
const UNITS = { hr: "/min", spo2: "%", map: "mmHg", temp: "°C", fio2: "%", peep: "cmH₂O" };
const GROUPS = [
  ...VITALS.map((v) => ({ key: v.key, codes: v.codes, sources: v.sources, unit: UNITS[v.key], digits: v.digits })),
  { key: "rate", codes: [CODE_RATE], unit: "mL/h", digits: 0 },
  { key: "volume", codes: [CODE_VOLUME], unit: "mL", digits: 0 },
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
    this.zoom = "6h";
    this.windowsLoaded = 0;
    this.title = root.querySelector(".d-title");
    this.study = root.querySelector(".d-study");
    this.report = root.querySelector(".d-report");
    this.charts = root.querySelector(".d-charts");
    this.status = root.querySelector(".d-status");
    this.alerts = root.querySelector(".d-alerts");
    this.zoomBar = root.querySelector(".d-zoom");
    this.earlier = root.querySelector(".d-earlier");
    root.querySelector(".d-close").addEventListener("click", () => this.close());
    root.addEventListener("click", (ev) => {
      if (ev.target === root) this.close(); // a click on the backdrop
    });
    this.report.addEventListener("click", (ev) => this._openReport(ev));
    this.earlier.addEventListener("click", () => this._loadEarlier());
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
    this.windowsLoaded = 0;
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

  setZoom(key) {
    this.zoom = key;
    this.render();
  }

  /** Header and alerts; the charts are redrawn only when their markers may have moved. */
  render({ charts = true } = {}) {
    if (!this.bed) return;
    const bed = this.store.beds.get(this.bed);
    setText(this.title, bed ? bed.label || bed.bed : this.bed);
    const studyId = bed?.patient?.study_id;
    setText(this.study, studyId ?? t("tile.noPatient"));
    this.report.hidden = !studyId;
    if (studyId) {
      // in the page's language; the server gives local times in the site's zone
      this.report.href = `/api/patients/${encodeURIComponent(studyId)}/report?format=html&lang=${language()}`;
    } else {
      this.report.removeAttribute("href");
    }
    this.zoomBar.replaceChildren(
      ...ZOOMS.map((z) =>
        h(
          "button",
          { type: "button", class: z.key === this.zoom ? "active" : null, dataset: { zoom: z.key }, onclick: () => this.setZoom(z.key) },
          t(`zoom.${z.key}`),
        ),
      ),
    );
    const alerts = this.store.listAlerts({ history: true, bed: this.bed });
    this.alerts.replaceChildren(
      ...(alerts.length ? alerts.map((a) => alertRow(a, this.alertCtx)) : [h("li", { class: "no-alerts" }, t("detail.noAlerts"))]),
    );
    if (charts) this._drawCharts();
  }

  async _load() {
    const bedId = this.bed;
    const q = new URLSearchParams({ codes: TREND_CODES.join(","), hours: String(FETCH_HOURS), points: String(POINTS) });
    setText(this.status, t("detail.loading"));
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
      if (this.bed === bedId) setText(this.status, t("detail.trendsUnavailable", { why: err.message }));
    }
  }

  /** The alerts of the window before the ones loaded so far (24 h each), from the server. */
  async _loadEarlier() {
    const bedId = this.bed;
    const q = new URLSearchParams({ bed: bedId, window: String(this.windowsLoaded + 1) });
    try {
      const res = await apiFetch(this.session(), `/api/alerts/history?${q}`);
      if (this.bed !== bedId) return;
      this.windowsLoaded += 1;
      this.store.mergeHistory(res?.alerts ?? []);
      const from = formatDateTime(res?.window?.from); // in the site's zone, as every time on the page
      setText(this.status, t("detail.windowLoaded", { n: (res?.alerts ?? []).length, from }));
    } catch (err) {
      if (err instanceof AuthError) this.onAuthError(err);
      else setText(this.status, t("detail.historyUnavailable", { why: err.message }));
    }
  }

  _drawCharts() {
    if (!this.bed || !this.trends) return;
    const bed = this.store.beds.get(this.bed);
    const to = this.store.now();
    const from = to - ZOOMS.find((z) => z.key === this.zoom).ms;
    const markers = [];
    const start = parseTime(bed?.infusion?.started_at);
    const end = parseTime(bed?.infusion?.ended_at);
    if (Number.isFinite(start)) markers.push({ ts: start, kind: "infusion", label: t("chart.infusionStart") });
    if (Number.isFinite(end)) markers.push({ ts: end, kind: "infusion", label: t("chart.infusionEnd") });
    for (const a of this.store.listAlerts({ history: true, bed: this.bed })) {
      const ts = parseTime(a.onset);
      if (Number.isFinite(ts)) markers.push({ ts, kind: a.priority, label: `${priorityLabel(a.priority)} ${categoryLabel(a.category)}` });
    }
    this.charts.replaceChildren();
    const width = Math.max(300, this.charts.clientWidth - 8);
    for (const g of GROUPS) {
      const i = g.codes.findIndex((c) => (this.trends[c] ?? []).length > 0);
      const code = g.codes[Math.max(0, i)];
      const name = t(`chart.${g.key}`);
      const title = g.sources && i >= 0 ? `${name} ${g.sources[i]}` : name;
      const holder = h("div", { class: "chart-holder", dataset: { code } });
      this.charts.append(holder);
      trendChart(holder, {
        title,
        unit: g.unit,
        points: toMs(this.trends[code]),
        from,
        to,
        markers,
        infusionStart: start,
        digits: g.digits ?? 0,
        width,
      });
    }
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
      const msg = t("detail.reportUnavailable", { why: err.message });
      if (win) win.document.body.textContent = msg;
      setText(this.status, msg);
    }
  }
}

/**
 * `{code: [[t, v], ...]}`; also accepts `{series: {code: {unit, points: [[t, v], ...]}}}`
 * (the shape the server's OpenAPI schema names TrendsOut).
 */
export function normaliseTrends(data) {
  const src = data && typeof data === "object" && data.series && typeof data.series === "object" ? data.series : (data ?? {});
  const out = {};
  for (const [code, v] of Object.entries(src)) {
    if (Array.isArray(v)) out[code] = v;
    else if (v && Array.isArray(v.points)) out[code] = v.points;
  }
  return out;
}
