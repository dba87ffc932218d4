// Bed-detail trend charts with uPlot (vendored: ./vendor/uPlot.esm.js): a time axis in the
// site's zone, a legend, the pre-infusion baseline band, alert markers and the infusion's
// start and end. Sparklines for the tiles are plain SVG polylines.

import { formatClock, parseTime, timeZone } from "./format.js";
import { t } from "./i18n.js";
import uPlot from "./vendor/uPlot.esm.js";

const BASELINE_MS = 30 * 60_000; // the pre-infusion period the baseline comes from
const COLORS = { high: "#ff2d2d", medium: "#ffd21f", low: "#1fd6f0", infusion: "#37d67a" };
const GAP_MS = 5 * 60_000; // a longer gap between samples breaks the line

function quantile(sorted, q) {
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  return sorted[lo] + (sorted[Math.ceil(i)] - sorted[lo]) * (i - lo);
}

/** The baseline of a series: median and interquartile band of the 30 min before `start`. */
export function baselineBand(points, start) {
  if (!Number.isFinite(start)) return null;
  const vals = points
    .filter(([ts, v]) => typeof v === "number" && ts >= start - BASELINE_MS && ts < start)
    .map(([, v]) => v)
    .sort((a, b) => a - b);
  if (vals.length < 2) return null;
  return { lo: quantile(vals, 0.25), median: quantile(vals, 0.5), hi: quantile(vals, 0.75) };
}

/** Samples as uPlot columns, with a null wherever a gap longer than GAP_MS breaks the line. */
function columns(points) {
  const xs = [];
  const ys = [];
  let prev = null;
  for (const [ts, v] of points) {
    if (prev != null && ts - prev > GAP_MS) {
      xs.push((prev + 1) / 1000);
      ys.push(null);
    }
    xs.push(ts / 1000);
    ys.push(v);
    prev = ts;
  }
  return [xs, ys];
}

/** Marker and band drawing, after uPlot has drawn the series. */
function decorations(band, markers) {
  return (u) => {
    const { ctx, bbox } = u;
    ctx.save();
    if (band) {
      const top = u.valToPos(band.hi, "y", true);
      const bottom = u.valToPos(band.lo, "y", true);
      ctx.fillStyle = "rgba(135, 150, 168, 0.22)";
      ctx.fillRect(bbox.left, top, bbox.width, Math.max(1, bottom - top));
      ctx.strokeStyle = "rgba(135, 150, 168, 0.8)";
      ctx.setLineDash([6, 4]);
      const y = u.valToPos(band.median, "y", true);
      ctx.beginPath();
      ctx.moveTo(bbox.left, y);
      ctx.lineTo(bbox.left + bbox.width, y);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    for (const m of markers) {
      const x = u.valToPos(m.ts / 1000, "x", true);
      if (x < bbox.left || x > bbox.left + bbox.width) continue;
      ctx.strokeStyle = COLORS[m.kind] ?? "#fff";
      ctx.lineWidth = m.kind === "infusion" ? 2 : 1.5;
      ctx.beginPath();
      ctx.moveTo(x, bbox.top);
      ctx.lineTo(x, bbox.top + bbox.height);
      ctx.stroke();
      ctx.fillStyle = ctx.strokeStyle;
      ctx.beginPath();
      ctx.moveTo(x - 6, bbox.top);
      ctx.lineTo(x + 6, bbox.top);
      ctx.lineTo(x, bbox.top + 8);
      ctx.fill();
    }
    ctx.restore();
  };
}

/**
 * One chart in `el`.
 * @param {HTMLElement} el
 * @param {object} o {title, unit, points: [[ms, v]], from, to, markers: [{ts, kind, label}],
 *        infusionStart (ms or NaN), digits, width}
 */
export function trendChart(el, { title, unit, points, from, to, markers, infusionStart, digits = 0, width }) {
  const band = baselineBand(points, infusionStart);
  const shown = points.filter(([ts]) => ts >= from && ts <= to);
  const zone = timeZone();
  const chart = document.createElement("div");
  chart.className = "chart";
  const head = document.createElement("div");
  head.className = "chart-title";
  head.textContent = `${title} (${unit})` + (band ? ` · ${t("chart.baseline", { lo: band.lo.toFixed(digits), hi: band.hi.toFixed(digits) })}` : "");
  const list = document.createElement("ul");
  list.className = "chart-markers";
  for (const m of markers.filter((mk) => mk.ts >= from && mk.ts <= to)) {
    const li = document.createElement("li");
    li.dataset.kind = m.kind;
    li.style.color = COLORS[m.kind] ?? "";
    li.textContent = `▼ ${formatClock(m.ts)} ${m.label}`;
    list.append(li);
  }
  chart.append(head);
  el.append(chart);
  const opts = {
    width,
    height: 150,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), zone),
    scales: { x: { time: true, range: () => [from / 1000, to / 1000] } },
    series: [
      { label: t("chart.time"), value: (u, v) => (v == null ? "—" : formatClock(v * 1000)) },
      {
        label: title,
        stroke: "#e8eef5",
        width: 1.5,
        spanGaps: false,
        value: (u, v) => (v == null ? "—" : `${v.toFixed(digits)} ${unit}`),
      },
    ],
    axes: [
      { stroke: "#8796a8", grid: { stroke: "#2a3644" }, ticks: { stroke: "#2a3644" } },
      { stroke: "#8796a8", grid: { stroke: "#2a3644" }, ticks: { stroke: "#2a3644" }, size: 56 },
    ],
    hooks: { draw: [decorations(band, markers)] },
  };
  if (band) {
    opts.scales.y = {
      range: (u, lo, hi) => {
        const a = Math.min(lo ?? band.lo, band.lo);
        const b = Math.max(hi ?? band.hi, band.hi);
        const pad = Math.max((b - a) * 0.1, 1);
        return [a - pad, b + pad];
      },
    };
  }
  const plot = new uPlot(opts, columns(shown), chart);
  chart.append(list);
  chart.dataset.points = String(shown.length);
  return plot;
}

/** A small SVG sparkline of [[ms, v]] over the last `spanMs`. */
export function sparkline(points, now, spanMs) {
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 100 18");
  svg.setAttribute("preserveAspectRatio", "none");
  // the last spanMs, or from the first value seen when the page has seen less than that
  const from = Math.max(now - spanMs, points.length ? points[0][0] : now);
  const span = Math.max(now - from, 60_000);
  const pts = points.filter(([ts]) => ts >= from);
  if (pts.length >= 2) {
    const vals = pts.map(([, v]) => v);
    let lo = Math.min(...vals);
    let hi = Math.max(...vals);
    if (hi - lo < 1e-9) {
      lo -= 1;
      hi += 1;
    }
    const line = document.createElementNS(NS, "polyline");
    line.setAttribute(
      "points",
      pts.map(([ts, v]) => `${(((ts - from) / span) * 100).toFixed(1)},${(17 - ((v - lo) / (hi - lo)) * 16).toFixed(1)}`).join(" "),
    );
    svg.append(line);
  }
  return svg;
}

/** `[[iso, v]]` → `[[ms, v]]`, sorted, numbers only. */
export function toMs(points) {
  return (points ?? [])
    .map(([iso, v]) => [parseTime(iso), v])
    .filter(([ts, v]) => Number.isFinite(ts) && typeof v === "number")
    .sort((a, b) => a[0] - b[0]);
}
