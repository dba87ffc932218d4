// The alert list (and the same rows in the bed detail view), with the Acknowledge button.

import { h } from "./dom.js";
import { categoryLabel, formatClock, formatDateTime } from "./format.js";
import { isAcked, isEnded } from "./store.js";

/** The human words for where an alert stands. */
export function stateText(a) {
  const acked = isAcked(a);
  const ended = isEnded(a);
  const by = acked ? `acknowledged by ${a.acked_by ?? "?"} at ${formatClock(a.acked_at)}` : "";
  if (!ended) return acked ? `Active — ${by}` : "Active — not acknowledged";
  const at = a.ended_at ? ` at ${formatClock(a.ended_at)}` : "";
  return acked ? `Resolved${at} — ${by}` : `Resolved${at} — not acknowledged (latched)`;
}

/**
 * One alert row.
 * @param {object} a the alert
 * @param {{bedLabel: (bed: string) => string, onAck: (a: object, row: HTMLElement) => void,
 *          pending: Set<string>, errors: Map<string, string>}} ctx
 */
export function alertRow(a, ctx) {
  const acked = isAcked(a);
  const ended = isEnded(a);
  const classes = [
    "alert",
    `prio-${a.priority}`,
    acked ? "acked" : "unacked",
    ended ? "ended" : "ongoing",
  ];
  const pending = ctx.pending.has(a.id);
  return h(
    "li",
    {
      class: classes.join(" "),
      dataset: { alertId: a.id, bed: a.bed, priority: a.priority, state: a.state },
    },
    h(
      "div",
      { class: "a-head" },
      h("span", { class: "prio" }, String(a.priority ?? "?").toUpperCase()),
      h("span", { class: "a-bed" }, ctx.bedLabel(a.bed)),
      h("span", { class: "a-cat" }, categoryLabel(a.category)),
      a.iae ? h("span", { class: "iae-badge", title: "Protocol infusion-associated event" }, "IAE") : null,
      h("span", { class: "a-onset", title: formatDateTime(a.onset) }, formatClock(a.onset)),
    ),
    a.message ? h("div", { class: "a-msg" }, a.message) : null,
    h(
      "div",
      { class: "a-foot" },
      h("span", { class: "a-state" }, stateText(a)),
      acked
        ? null
        : h(
            "button",
            {
              class: "ack",
              type: "button",
              disabled: pending,
              onclick: (ev) => {
                ev.stopPropagation();
                ctx.onAck(a, ev.currentTarget.closest("li"));
              },
            },
            pending ? "Acknowledging…" : "Acknowledge",
          ),
    ),
    h("div", { class: "a-error", role: "alert" }, ctx.errors?.get(a.id) ?? ""),
  );
}

export class AlertList {
  /**
   * @param {HTMLElement} root  the <ol>
   * @param {import("./store.js").Store} store
   * @param {object} ctx  see alertRow
   */
  constructor(root, store, ctx) {
    this.root = root;
    this.store = store;
    this.ctx = ctx;
    this.history = false;
  }

  render() {
    const alerts = this.store.listAlerts({ history: this.history });
    if (alerts.length === 0) {
      this.root.replaceChildren(
        h("li", { class: "no-alerts" }, this.history ? "No alerts yet." : "No active alerts."),
      );
      return;
    }
    this.root.replaceChildren(...alerts.map((a) => alertRow(a, this.ctx)));
  }
}
