// The alert list: incident cards (one event's alerts on one bed, acknowledged together), each
// alert with its values against baseline, its state and its Acknowledge button.

import { h } from "./dom.js";
import { alertText, alertValues, categoryLabel, formatClock, formatDateTime, priorityLabel } from "./format.js";
import { t } from "./i18n.js";
import { groupIncidents, isAcked, isEnded } from "./store.js";

/** The human words for where an alert stands. */
export function stateText(a) {
  const acked = isAcked(a);
  const ended = isEnded(a);
  const by = acked ? t("alert.ackedBy", { who: a.acked_by ?? "?", at: formatClock(a.acked_at) }) : "";
  if (!ended) return acked ? t("alert.activeAcked", { by }) : t("alert.activeUnacked");
  if (acked) {
    return a.ended_at ? t("alert.resolvedAtAcked", { at: formatClock(a.ended_at), by }) : t("alert.resolvedAcked", { by });
  }
  return a.ended_at ? t("alert.resolvedAtLatched", { at: formatClock(a.ended_at) }) : t("alert.resolvedLatched");
}

function ackButton(alerts, ctx, label, cls) {
  const open = alerts.filter((a) => !isAcked(a));
  if (open.length === 0) return null;
  const pending = open.some((a) => ctx.pending.has(a.id));
  return h(
    "button",
    {
      class: cls,
      type: "button",
      disabled: pending,
      onclick: (ev) => {
        ev.stopPropagation();
        for (const a of open) ctx.onAck(a);
      },
    },
    pending ? t("alert.acknowledging") : label,
  );
}

/**
 * One alert row.
 * @param {object} a the alert
 * @param {{bedLabel: (bed: string) => string, onAck: (a: object) => void,
 *          escalated: (a: object) => boolean, pending: Set<string>, errors: Map<string, string>}} ctx
 */
export function alertRow(a, ctx) {
  const acked = isAcked(a);
  const ended = isEnded(a);
  const escalated = ctx.escalated?.(a) ?? false;
  const classes = ["alert", `prio-${a.priority}`, acked ? "acked" : "unacked", ended ? "ended" : "ongoing"];
  if (escalated) classes.push("escalated");
  const values = alertValues(a);
  const text = alertText(a);
  return h(
    "li",
    {
      class: classes.join(" "),
      dataset: { alertId: a.id, bed: a.bed, priority: a.priority, state: a.state },
    },
    h(
      "div",
      { class: "a-head" },
      h("span", { class: "prio" }, priorityLabel(a.priority)),
      h("span", { class: "a-bed" }, ctx.bedLabel(a.bed)),
      h("span", { class: "a-cat" }, categoryLabel(a.category)),
      a.iae ? h("span", { class: "iae-badge", title: t("alert.iaeTitle") }, t("alert.iae")) : null,
      escalated ? h("span", { class: "esc-badge" }, t("alert.escalated")) : null,
      h("span", { class: "a-onset", title: formatDateTime(a.onset) }, formatClock(a.onset)),
    ),
    values.length ? h("div", { class: "a-values" }, values.join(" · ")) : null,
    text ? h("div", { class: "a-msg", title: a.message ?? "" }, text) : null,
    h(
      "div",
      { class: "a-foot" },
      h("span", { class: "a-state" }, stateText(a)),
      ackButton([a], ctx, t("alert.acknowledge"), "ack"),
    ),
    h("div", { class: "a-error", role: "alert" }, ctx.errors?.get(a.id) ?? ""),
  );
}

/** An incident card: its members' rows, and one button acknowledging them together. */
export function incidentCard(incident, ctx) {
  const { members, lead } = incident;
  if (members.length === 1) return alertRow(lead, ctx);
  const open = members.filter((a) => !isAcked(a)).length;
  return h(
    "li",
    {
      class: `incident prio-${lead.priority} ${open ? "unacked" : "acked"}`,
      dataset: { incident: incident.id, bed: incident.bed, members: String(members.length) },
    },
    h(
      "div",
      { class: "i-head" },
      h("span", { class: "prio" }, priorityLabel(lead.priority)),
      h("span", { class: "a-bed" }, ctx.bedLabel(incident.bed)),
      h("span", { class: "i-title" }, t("incident.title", { n: members.length })),
      h("span", { class: "a-onset" }, formatClock(members[0].onset)),
      ackButton(members, ctx, t("incident.ackAll", { n: open }), "ack-all"),
    ),
    h("ol", { class: "i-members" }, members.map((a) => alertRow(a, ctx))),
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
      this.root.replaceChildren(h("li", { class: "no-alerts" }, this.history ? t("alerts.noneYet") : t("alerts.none")));
      return;
    }
    this.root.replaceChildren(...groupIncidents(alerts).map((i) => incidentCard(i, this.ctx)));
  }
}
