// Labels, units and time formatting shared by the station's views. No DOM, no state.

export const STALE_MS = 30_000; // a value older than this is shown as "—"

export const CATEGORY_LABELS = {
  vasopressor_escalation: "Vasopressor escalation",
  arrhythmia: "Arrhythmia",
  ventilatory_escalation: "Ventilatory escalation",
  transfusion_reaction: "Transfusion reaction",
  cardiac_arrest: "Cardiac arrest",
  death: "Death",
  fever: "Fever",
  hypotension: "Hypotension",
  hypoxemia: "Hypoxaemia",
  tachycardia: "Tachycardia",
  bradycardia: "Bradycardia",
  airway_pressure_rise: "Airway pressure rise",
  infusion_problem: "Infusion problem",
  embolism_pattern: "Embolism pattern",
  technical: "Technical",
};

export const PRIORITY_RANK = { high: 3, medium: 2, low: 1 };

export function categoryLabel(category) {
  return CATEGORY_LABELS[category] ?? String(category ?? "").replaceAll("_", " ");
}

// The six tile numerics. `codes` are tried in order: the first fresh one wins.
export const VITALS = [
  { key: "spo2", label: "SpO₂", codes: ["MDC_PULS_OXIM_SAT_O2"], digits: 0 },
  {
    key: "hr",
    label: "HR",
    codes: ["MDC_ECG_HEART_RATE", "MDC_PULS_OXIM_PULS_RATE"],
    sources: ["ECG", "SpO₂"],
    digits: 0,
  },
  {
    key: "map",
    label: "MAP",
    codes: ["MDC_PRESS_BLD_ART_MEAN", "MDC_PRESS_BLD_NONINV_MEAN"],
    sources: ["ART", "NIBP"],
    digits: 0,
  },
  { key: "temp", label: "Temp", codes: ["MDC_TEMP_BLD", "MDC_TEMP"], digits: 1 },
  { key: "fio2", label: "FiO₂", codes: ["MDC_VENT_CONC_AWAY_O2_INSP"], digits: 0 },
  { key: "peep", label: "PEEP", codes: ["MDC_PRESS_AWAY_END_EXP_POS"], digits: 0 },
];

export const DEFAULT_UNITS = {
  spo2: "%",
  hr: "/min",
  map: "mmHg",
  temp: "°C",
  fio2: "%",
  peep: "cmH2O",
};

export const CODE_RATE = "MDC_FLOW_FLUID_PUMP";
export const CODE_VOLUME = "MDC_VOL_FLUID_DELIV";

const UNIT_DISPLAY = {
  "mm[Hg]": "mmHg",
  "cm[H2O]": "cmH2O",
  Cel: "°C",
  "/min": "/min",
  "%": "%",
  "mL/h": "mL/h",
  mL: "mL",
  "L/min": "L/min",
};

/** UCUM unit → what a nurse reads. */
export function displayUnit(unit) {
  if (unit == null) return "";
  return UNIT_DISPLAY[unit] ?? unit;
}

/** Number with a fixed count of decimals ("—" when there is no number). */
export function formatNumber(value, digits) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "—";
  return value.toFixed(digits);
}

/** ISO 8601 → epoch ms, or NaN. */
export function parseTime(iso) {
  if (!iso) return Number.NaN;
  return Date.parse(iso);
}

const pad = (n) => String(n).padStart(2, "0");

/** Local wall-clock time HH:MM:SS of an ISO time. */
export function formatClock(iso) {
  const ms = typeof iso === "number" ? iso : parseTime(iso);
  if (!Number.isFinite(ms)) return "—";
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Local date and time, for acknowledgements and history. */
export function formatDateTime(iso) {
  const ms = typeof iso === "number" ? iso : parseTime(iso);
  if (!Number.isFinite(ms)) return "—";
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${formatClock(ms)}`;
}

/** A duration as "3 h 05 min", "12 min", "45 s". */
export function formatDuration(ms) {
  if (!Number.isFinite(ms)) return "—";
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60)} h ${pad(m % 60)} min`;
}
