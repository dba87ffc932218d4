// A trend plot as inline SVG: one parameter over a time span, with event markers.

import { formatClock, parseTime } from "./format.js";

const NS = "http://www.w3.org/2000/svg";
const W = 1000;
const H = 150;
const M = { left: 64, right: 12, top: 22, bottom: 22 };
const GAP_MS = 5 * 60_000; // a longer gap between samples breaks the line

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/**
 * @param {object} o
 * @param {string} o.title
 * @param {string} o.unit
 * @param {Array<[string, number]>} o.points  [iso time, value]
 * @param {number} o.from  epoch ms
 * @param {number} o.to    epoch ms
 * @param {Array<{t: string, kind: string, label: string}>} o.markers
 *        kind: "infusion" or an alert priority ("high", "medium", "low")
 * @param {number} [o.digits]
 */
export function trendSvg({ title, unit, points, from, to, markers = [], digits = 0 }) {
  const svg = s("svg", {
    class: "trend",
    viewBox: `0 0 ${W} ${H}`,
    role: "img",
    "aria-label": `${title} trend`,
  });
  const x = (t) => M.left + ((t - from) / (to - from)) * (W - M.left - M.right);
  const samples = points
    .map(([t, v]) => [parseTime(t), v])
    .filter(([t, v]) => Number.isFinite(t) && typeof v === "number" && t >= from && t <= to)
    .sort((a, b) => a[0] - b[0]);

  const last = samples.length ? samples[samples.length - 1][1] : null;
  const heading = s("text", { x: 4, y: 15, class: "t-title" }, `${title} (${unit})`);
  if (last != null) heading.append(s("tspan", { class: "t-last", dx: 12 }, `last ${last.toFixed(digits)}`));
  svg.append(heading);
  svg.append(
    s("rect", {
      x: M.left,
      y: M.top,
      width: W - M.left - M.right,
      height: H - M.top - M.bottom,
      class: "t-frame",
    }),
  );

  // Hour ticks along the bottom.
  const hour = 3_600_000;
  for (let t = Math.ceil(from / hour) * hour; t <= to; t += hour) {
    svg.append(s("line", { x1: x(t), x2: x(t), y1: M.top, y2: H - M.bottom, class: "t-grid" }));
    svg.append(
      s("text", { x: x(t), y: H - 6, class: "t-tick", "text-anchor": "middle" }, formatClock(t).slice(0, 5)),
    );
  }

  if (samples.length === 0) {
    svg.append(
      s("text", { x: W / 2, y: H / 2 + 5, class: "t-empty", "text-anchor": "middle" }, "no data"),
    );
  } else {
    let lo = Math.min(...samples.map((p) => p[1]));
    let hi = Math.max(...samples.map((p) => p[1]));
    if (hi - lo < 1e-9) {
      lo -= 1;
      hi += 1;
    }
    const pad = (hi - lo) * 0.1;
    lo -= pad;
    hi += pad;
    const y = (v) => M.top + (1 - (v - lo) / (hi - lo)) * (H - M.top - M.bottom);
    for (const v of [lo + pad, (lo + hi) / 2, hi - pad]) {
      svg.append(s("line", { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v), class: "t-grid" }));
      svg.append(
        s("text", { x: M.left - 6, y: y(v) + 5, class: "t-tick", "text-anchor": "end" }, v.toFixed(digits)),
      );
    }
    let segment = [];
    const flush = () => {
      if (segment.length === 1) {
        const [px, py] = segment[0];
        svg.append(s("circle", { cx: px, cy: py, r: 2.5, class: "t-line-dot" }));
      } else if (segment.length > 1) {
        svg.append(s("polyline", { points: segment.map((p) => p.join(",")).join(" "), class: "t-line" }));
      }
      segment = [];
    };
    let prev = null;
    for (const [t, v] of samples) {
      if (prev != null && t - prev > GAP_MS) flush();
      segment.push([x(t).toFixed(1), y(v).toFixed(1)]);
      prev = t;
    }
    flush();
  }

  for (const m of markers) {
    const t = parseTime(m.t);
    if (!Number.isFinite(t) || t < from || t > to) continue;
    const mx = x(t);
    const g = s("g", { class: `t-marker m-${m.kind}`, "data-kind": m.kind });
    g.append(s("title", {}, `${m.label} at ${formatClock(t)}`));
    g.append(s("line", { x1: mx, x2: mx, y1: M.top, y2: H - M.bottom }));
    g.append(s("path", { d: `M${mx - 6},${M.top - 8} L${mx + 6},${M.top - 8} L${mx},${M.top} Z` }));
    svg.append(g);
  }
  return svg;
}
