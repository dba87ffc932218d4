// Labels, units, alert values and time formatting shared by the station's views. No DOM.

import { t, tOr } from "./i18n.js";

export const STALE_MS = 30_000; // a value older than this is shown as "—"

export const PRIORITY_RANK = { high: 3, medium: 2, low: 1 };

export function categoryLabel(category) {
  return tOr(`category.${category}`, String(category ?? "").replaceAll("_", " "));
}

/** What the device or clinician said in an alert's evidence (the engine's detail fields). */
const SAID_FIELDS = ["kind", "rhythm", "sign"];

/**
 * An alert's text in the page's language: its rule's catalogue text, with what the device or
 * clinician said (pump alarm kind, rhythm, sign) and the device it is about; the server's
 * (English) `message` only for a rule the catalogue does not know.
 */
export function alertText(alert) {
  const title = tOr(`rule.${alert?.rule}`, null);
  if (title === null) return alert?.message ?? "";
  const ev = alert.evidence ?? {};
  const fields = ev.fields ?? {};
  const said = SAID_FIELDS.filter((f) => fields[f]).map((f) => {
    const v = String(fields[f]);
    return f === "kind" ? tOr(`pump.${v}`, v) : tOr(`said.${v}`, v);
  });
  const device = fields.device ?? ev.device;
  if (device && alert.category === "technical") said.push(t("alert.device", { device: String(device) }));
  return said.length ? `${title}: ${said.join(", ")}` : title;
}

export function priorityLabel(priority) {
  return tOr(`priority.${priority}`, String(priority ?? "?").toUpperCase());
}

// The tile numerics the rules use. `codes` are tried in order: the first fresh one wins.
export const VITALS = [
  { key: "hr", codes: ["MDC_ECG_HEART_RATE", "MDC_PULS_OXIM_PULS_RATE"], sources: ["ECG", "SpO₂"], digits: 0 },
  { key: "spo2", codes: ["MDC_PULS_OXIM_SAT_O2"], digits: 0 },
  {
    key: "map",
    codes: ["MDC_PRESS_BLD_ART_MEAN", "MDC_PRESS_BLD_NONINV_MEAN"],
    sources: ["ART", "NIBP"],
    digits: 0,
  },
  { key: "temp", codes: ["MDC_TEMP_BLD", "MDC_TEMP"], digits: 1 },
  { key: "fio2", codes: ["MDC_VENT_CONC_AWAY_O2_INSP"], digits: 0 },
  { key: "peep", codes: ["MDC_PRESS_AWAY_END_EXP_POS"], digits: 0 },
];

export const DEFAULT_UNITS = {
  spo2: "%",
  hr: "/min",
  map: "mmHg",
  temp: "°C",
  fio2: "%",
  peep: "cmH₂O",
};

/** Vasopressor dose codes (DESIGN.md), shown on the tile when the bed has one running. */
export const DOSE_CODES = [
  "IAEW_DOSE_NOREPINEPHRINE",
  "IAEW_DOSE_EPINEPHRINE",
  "IAEW_DOSE_PHENYLEPHRINE",
  "IAEW_DOSE_DOPAMINE",
  "IAEW_DOSE_VASOPRESSIN",
];

export const CODE_RATE = "MDC_FLOW_FLUID_PUMP";
export const CODE_VOLUME = "MDC_VOL_FLUID_DELIV";

const UNIT_DISPLAY = {
  "mm[Hg]": "mmHg",
  "cm[H2O]": "cmH₂O",
  Cel: "°C",
  "ug/min": "µg/min",
  "ug/kg/min": "µg/kg/min",
  "U/min": "U/min",
};

/** UCUM unit → what a nurse reads. */
export function displayUnit(unit) {
  if (unit == null) return "";
  return UNIT_DISPLAY[unit] ?? unit;
}

/** The short name of a parameter code ("HR", "SpO₂"), in the current language. */
export function codeLabel(code) {
  return tOr(`code.${code}`, String(code).replace(/^(MDC_|IAEW_)/, "").replaceAll("_", " "));
}

const CODE_UNITS = {
  MDC_ECG_HEART_RATE: "/min",
  MDC_PULS_OXIM_PULS_RATE: "/min",
  MDC_PULS_OXIM_SAT_O2: "%",
  MDC_PRESS_BLD_ART_MEAN: "mmHg",
  MDC_PRESS_BLD_NONINV_MEAN: "mmHg",
  MDC_PRESS_BLD_ART_SYS: "mmHg",
  MDC_PRESS_BLD_NONINV_SYS: "mmHg",
  MDC_TEMP_BLD: "°C",
  MDC_TEMP: "°C",
  MDC_VENT_CONC_AWAY_O2_INSP: "%",
  MDC_PRESS_AWAY_END_EXP_POS: "cmH₂O",
  MDC_PRESS_AWAY_INSP_PEAK: "cmH₂O",
  MDC_AWAY_CO2_ET: "mmHg",
  IAEW_PF_RATIO: "mmHg",
  IAEW_DOSE_NOREPINEPHRINE: "µg/min",
  IAEW_DOSE_PHENYLEPHRINE: "µg/min",
  IAEW_DOSE_EPINEPHRINE: "µg/kg/min",
  IAEW_DOSE_DOPAMINE: "µg/kg/min",
  IAEW_DOSE_VASOPRESSIN: "U/min",
};

/** Number with a fixed count of decimals ("—" when there is no number). */
export function formatNumber(value, digits) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "—";
  return value.toFixed(digits);
}

/** A value with as many decimals as it needs (at most 2): 186, 37.9, 0.05. */
function plain(v) {
  return String(Math.round(v * 100) / 100);
}

/**
 * What crossed, against what: "HR 186 /min (baseline 98, +88)" for each value in the alert's
 * evidence (the rule's own values, then its context values).
 */
export function alertValues(alert) {
  const ev = alert?.evidence ?? {};
  const out = [];
  const add = (values, baselines) => {
    for (const [code, v] of Object.entries(values ?? {})) {
      if (typeof v !== "number") continue;
      const unit = CODE_UNITS[code] ?? "";
      const b = baselines?.[code];
      const params = { label: codeLabel(code), value: plain(v), unit };
      if (typeof b === "number") {
        const diff = v - b;
        const sign = diff > 0 ? "+" : diff < 0 ? "−" : "±";
        out.push(t("value.withBaseline", { ...params, baseline: plain(b), change: sign + plain(Math.abs(diff)) }));
      } else {
        out.push(t("value.plain", params));
      }
    }
  };
  add(ev.values, ev.baseline);
  add(ev.context, ev.context_baseline);
  return out;
}

/** ISO 8601 → epoch ms, or NaN. */
export function parseTime(iso) {
  if (!iso) return Number.NaN;
  return Date.parse(iso);
}

// ---- time in the site's zone ------------------------------------------------------------

let siteZone = undefined; // IANA name; undefined = this machine's zone until the site is known
let clockFmt = null;
let dateFmt = null;
let zoneFmt = null;

/** Show every time in `zone` (the site's IANA time zone, from /api/site). */
export function setTimeZone(zone) {
  siteZone = zone || undefined;
  clockFmt = dateFmt = zoneFmt = null;
}

export function timeZone() {
  return siteZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
}

function parts(fmt, ms) {
  const p = {};
  for (const { type, value } of fmt.formatToParts(new Date(ms))) p[type] = value;
  return p;
}

/** HH:MM:SS of a time, in the site's zone. */
export function formatClock(iso) {
  const ms = typeof iso === "number" ? iso : parseTime(iso);
  if (!Number.isFinite(ms)) return "—";
  clockFmt ??= new Intl.DateTimeFormat("en-GB", {
    timeZone: siteZone,
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  });
  const p = parts(clockFmt, ms);
  return `${p.hour}:${p.minute}:${p.second}`;
}

/** YYYY-MM-DD HH:MM:SS in the site's zone. */
export function formatDateTime(iso) {
  const ms = typeof iso === "number" ? iso : parseTime(iso);
  if (!Number.isFinite(ms)) return "—";
  dateFmt ??= new Intl.DateTimeFormat("en-CA", { timeZone: siteZone, year: "numeric", month: "2-digit", day: "2-digit" });
  const p = parts(dateFmt, ms);
  return `${p.year}-${p.month}-${p.day} ${formatClock(ms)}`;
}

/** The zone's short name at that time ("GMT+8", "UTC"). */
export function zoneName(ms = Date.now()) {
  zoneFmt ??= new Intl.DateTimeFormat("en-GB", { timeZone: siteZone, timeZoneName: "short" });
  return parts(zoneFmt, ms).timeZoneName ?? "";
}

/** A duration as "3 h 05 min", "12 min", "45 s". */
export function formatDuration(ms) {
  if (!Number.isFinite(ms)) return "—";
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return t("duration.s", { s });
  const m = Math.floor(s / 60);
  if (m < 60) return t("duration.min", { m });
  return t("duration.h", { h: Math.floor(m / 60), m: String(m % 60).padStart(2, "0") });
}
