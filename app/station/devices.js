// The engineer's device panel: every device, its link state and counters.

import { h } from "./dom.js";
import { formatClock, formatDuration, parseTime } from "./format.js";
import { t } from "./i18n.js";
import { naturalCompare } from "./tiles.js";

const COLUMNS = ["bed", "device", "protocol", "state", "lastFrame", "frames", "badFrames", "reconnects", "identification"];
const NUMERIC = new Set(["frames", "badFrames", "reconnects"]);

export class DevicePanel {
  /**
   * @param {HTMLElement} root  the panel <section>
   * @param {import("./store.js").Store} store
   */
  constructor(root, store) {
    this.root = root;
    this.store = store;
    this.tbody = root.querySelector("tbody");
    this.status = root.querySelector(".dev-status");
    this.head = root.querySelector("thead");
  }

  setStatus(text) {
    this.status.textContent = text;
  }

  render() {
    if (this.root.hidden) return;
    this.head.replaceChildren(
      h("tr", {}, COLUMNS.map((c) => h("th", { scope: "col", class: NUMERIC.has(c) ? "num" : null }, t(`devcol.${c}`)))),
    );
    const now = this.store.now();
    const devices = [...this.store.devices.values()].sort(
      (a, b) => naturalCompare(a.bed, b.bed) || naturalCompare(a.device_id, b.device_id),
    );
    if (devices.length === 0) {
      this.tbody.replaceChildren(h("tr", {}, h("td", { colspan: COLUMNS.length }, t("devices.none"))));
      return;
    }
    this.tbody.replaceChildren(...devices.map((d) => row(d, now)));
  }
}

function ago(iso, now) {
  const at = parseTime(iso);
  return Number.isFinite(at) ? t("dev.ago", { age: formatDuration(now - at) }) : t("dev.never");
}

function row(d, now) {
  const ident = Object.entries(d.identification ?? {})
    .map(([k, v]) => `${k}: ${v}`)
    .join(" · ");
  return h(
    "tr",
    { class: `dev-row ${d.state}`, dataset: { bed: d.bed, device: d.device_id, state: d.state } },
    h("td", {}, d.bed),
    h("td", {}, h("div", {}, d.device_id), h("div", { class: "sub" }, d.kind ?? "")),
    h("td", {}, h("div", {}, d.protocol ?? ""), h("div", { class: "sub" }, d.address ?? "")),
    h(
      "td",
      { class: "dev-state" },
      h("div", { class: `state-chip ${d.state}` }, d.state),
      h("div", { class: "sub" }, t("dev.since", { at: formatClock(d.since), ago: ago(d.since, now) })),
      d.last_error ? h("div", { class: "sub err" }, d.last_error) : null,
    ),
    h("td", { title: d.last_frame ?? "" }, ago(d.last_frame, now)),
    h("td", { class: "num" }, d.frames ?? 0),
    h("td", { class: `num${d.bad_frames ? " warn" : ""}` }, d.bad_frames ?? 0),
    h("td", { class: `num${d.reconnects ? " warn" : ""}` }, d.reconnects ?? 0),
    h("td", { class: "ident" }, ident || "—"),
  );
}
