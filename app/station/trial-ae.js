// The trial page's safety side: the patient's alerts with an "adjudicate" action (confirmed IAE
// or not, with a reason) signed with the re-entered password and the signature's meaning;
// grouping alerts into one adverse event; the AE list with its CRF fields, seriousness, SUSAR
// flag, the reports due to the sponsor (overdue shown) and the investigator's signature.

import { apiFetch } from "./api.js";
import { h } from "./dom.js";
import { categoryLabel, formatDateTime, parseTime } from "./format.js";
import { t, tOr } from "./i18n.js";
import { strip } from "./trial-enrol.js";
import { act, fields, num, opt, siteTime } from "./trial-forms.js";

const $ = (sel) => document.querySelector(sel);

// The CRF's closed lists (app/api/adverse_events.py); labels come from the catalogue.
const CHOICES = {
  seriousness: ["death", "life_threatening", "hospitalisation_prolonged", "disability", "congenital_anomaly", "important_medical_event"],
  causality: ["certain", "probable", "possible", "unlikely", "conditional", "unassessable"],
  action: ["none", "interrupted", "rate_reduced", "stopped"],
  outcome: ["recovered", "recovering", "not_recovered", "recovered_with_sequelae", "fatal", "unknown"],
};

const choice = (value) => tOr(`trial.choice.${value}`, String(value).replaceAll("_", " "));

/** The newest row of each alert (the API lists transitions, newest first). */
function latestAlerts(rows) {
  const seen = new Map();
  for (const a of rows) if (!seen.has(a.id)) seen.set(a.id, a);
  return [...seen.values()].sort((a, b) => parseTime(a.onset) - parseTime(b.onset));
}

function signatureText(s) {
  return t("trial.signature", { signer: s.signer, role: s.role, meaning: s.meaning, t: formatDateTime(s.t) });
}

function adjudicationText(adj) {
  if (!adj) return t("trial.adj.none");
  const verdict = adj.verdict === "iae" ? t("trial.adj.iae") : `${t("trial.adj.notIae")} (${choice(adj.reason)}${adj.reason_text ? `: ${adj.reason_text}` : ""})`;
  const ae = adj.ae_id != null ? ` · ${t("trial.ae.label", { id: adj.ae_id })}` : "";
  return `${verdict}${ae} · ${signatureText(adj.signature)}`;
}

export class SafetyView {
  constructor(page) {
    this.page = page;
    this.alerts = [];
    this.events = [];
    this.adjudications = {};
    this.wire();
  }

  /** The CRF form's closed lists, in the current language (after each catalogue load). */
  fillChoices() {
    for (const sel of document.querySelectorAll("#ae-form select[data-choices]")) {
      sel.replaceChildren(...CHOICES[sel.dataset.choices].map((v) => h("option", { value: v }, choice(v))));
    }
    $("#ae-form .t-serious").replaceChildren(
      h("legend", { "data-i18n": "trial.ae.seriousness" }, t("trial.ae.seriousness")),
      ...CHOICES.seriousness.map((v) => h("label", { class: "t-check" }, h("input", { type: "checkbox", name: `serious.${v}` }), ` ${choice(v)}`)),
    );
  }

  /** Load the bed's alerts and their adjudications; `events` are the view's AEs. */
  async load(view) {
    this.events = view.adverse_events ?? [];
    const bed = view.patient.bed;
    const rows = bed ? await apiFetch(this.page.session(), `/api/alerts?bed=${encodeURIComponent(bed)}&limit=500`) : [];
    this.alerts = latestAlerts(rows);
    const ids = this.alerts.map((a) => `alert_id=${encodeURIComponent(a.id)}`).join("&");
    this.adjudications = ids ? await apiFetch(this.page.session(), `/api/adjudications?${ids}`) : {};
    this.render();
  }

  selected() {
    return [...document.querySelectorAll("#alert-rows input[type=checkbox]:checked")].map((c) => c.value);
  }

  render() {
    const checked = new Set(this.selected());
    $("#alert-rows").replaceChildren(
      ...this.alerts.map((a) =>
        h(
          "tr",
          { dataset: { alertId: a.id, category: a.category }, class: `prio-${a.priority}` },
          h("td", {}, h("input", { type: "checkbox", value: a.id, checked: checked.has(a.id), "aria-label": t("trial.alert.select") })),
          h("td", {}, formatDateTime(a.onset)),
          h("td", {}, categoryLabel(a.category), a.iae ? h("span", { class: "t-badge" }, "IAE") : null),
          h("td", {}, a.message),
          h("td", { class: "t-adj" }, adjudicationText(this.adjudications[a.id])),
          h("td", {}, h("button", { type: "button", class: "t-adjudicate", onclick: () => this.openAdjudication(a.id) }, t("trial.adjudicate"))),
        ),
      ),
    );
    const aeSelect = $("#adjudicate-form select[name=ae_id]");
    const keep = aeSelect.value;
    aeSelect.replaceChildren(
      h("option", { value: "" }, t("trial.adj.noAe")),
      ...this.events.map((e) => h("option", { value: String(e.id) }, `${t("trial.ae.label", { id: e.id })}: ${e.term}`)),
    );
    aeSelect.value = [...aeSelect.options].some((o) => o.value === keep) ? keep : "";
    $("#ae-list").replaceChildren(...this.events.map((e) => this.aeItem(e)));
    this.renderSelection();
  }

  renderSelection() {
    const n = this.selected().length;
    $("#adjudicate-form .t-selected").textContent = t("trial.adj.selected", { n });
  }

  openAdjudication(alertId) {
    const box = document.querySelector(`#alert-rows input[value="${CSS.escape(alertId)}"]`);
    if (box) box.checked = true;
    const form = $("#adjudicate-form");
    form.hidden = false;
    if (!form.elements.meaning.value) form.elements.meaning.value = t("trial.sign.defaultMeaning");
    this.renderSelection();
    form.elements.verdict.focus();
  }

  aeItem(e) {
    const crf = [
      ["trial.ae.meddra", e.meddra_code ?? "—"],
      ["trial.ae.onset", formatDateTime(e.onset)],
      ["trial.ae.resolved", e.resolved_at ? formatDateTime(e.resolved_at) : "—"],
      ["trial.ae.grade", String(e.ctcae_grade)],
      ["trial.ae.seriousness", e.seriousness.length ? e.seriousness.map(choice).join(", ") : t("trial.ae.notSerious")],
      ["trial.ae.causalityProduct", choice(e.causality_product)],
      ["trial.ae.causalityProcedure", choice(e.causality_procedure)],
      ["trial.ae.expected", e.expected ? t("trial.yes") : t("trial.no")],
      ["trial.ae.action", choice(e.action_taken)],
      ["trial.ae.treatment", e.treatment ?? "—"],
      ["trial.ae.outcome", choice(e.outcome)],
      ["trial.ae.reporter", e.reporter],
      ["trial.ae.aware", formatDateTime(e.aware_at)],
      ["trial.ae.alerts", String(e.alert_ids.length)],
    ];
    const reports = e.reports_due.map((d) =>
      h(
        "li",
        { class: `t-due ${d.overdue ? "overdue" : d.done_at ? "done" : ""}`, dataset: { report: d.report } },
        t(d.report === "susar" ? "trial.due.susar" : "trial.due.sae", { due: formatDateTime(d.due) }),
        " ",
        d.done_at
          ? h("span", { class: "t-sub" }, t("trial.due.done", { t: formatDateTime(d.done_at) }))
          : d.overdue
            ? h("strong", { class: "t-overdue" }, t("trial.due.overdue"))
            : null,
        d.done_at ? null : h("button", { type: "button", class: "t-reported", onclick: (ev) => this.reported(ev, e, d) }, t("trial.due.sent")),
        h("span", { class: "t-out" }),
      ),
    );
    const signatures = e.signatures.map((s) =>
      h("li", { class: s.valid ? "t-sig" : "t-sig invalid" }, signatureText(s), s.valid ? null : ` — ${t("trial.sig.changed")}`),
    );
    const signForm = h(
      "form",
      { class: "t-form t-sign t-ae-sign", onsubmit: (ev) => this.sign(ev, e) },
      h("label", {}, h("span", {}, t("trial.sign.meaning")), h("input", { name: "meaning", required: true, minlength: 3, value: t("trial.sign.defaultMeaning") })),
      h("label", {}, h("span", {}, t("trial.sign.password")), h("input", { name: "password", type: "password", required: true, autocomplete: "current-password" })),
      h("button", { type: "submit" }, t("trial.ae.sign")),
      h("p", { class: "t-out", role: "status" }),
    );
    const select = (name, list, value) =>
      h("select", { name }, list.map((v) => h("option", { value: v, selected: v === value }, choice(v))));
    const updateForm = h(
      "form",
      { class: "t-form t-ae-update", onsubmit: (ev) => this.update(ev, e) },
      h("label", {}, h("span", {}, t("trial.ae.resolved")), h("input", { name: "resolved_at", type: "datetime-local" })),
      h("label", {}, h("span", {}, t("trial.ae.grade")), h("input", { name: "ctcae_grade", type: "number", min: 1, max: 5, value: e.ctcae_grade })),
      h("label", {}, h("span", {}, t("trial.ae.outcome")), select("outcome", CHOICES.outcome, e.outcome)),
      h("label", {}, h("span", {}, t("trial.ae.action")), select("action_taken", CHOICES.action, e.action_taken)),
      h("button", { type: "submit" }, t("trial.ae.update")),
      h("p", { class: "t-out", role: "status" }),
    );
    return h(
      "li",
      { class: "t-ae", dataset: { aeId: String(e.id) } },
      h(
        "h3",
        {},
        `${t("trial.ae.label", { id: e.id })}: ${e.term}`,
        e.serious ? h("span", { class: "t-badge serious" }, t("trial.ae.serious")) : null,
        e.susar ? h("span", { class: "t-badge susar" }, "SUSAR") : null,
      ),
      h("dl", { class: "t-crf" }, crf.flatMap(([k, v]) => [h("dt", {}, t(k)), h("dd", {}, v)])),
      reports.length ? h("ul", { class: "t-reports" }, reports) : h("p", { class: "t-sub" }, t("trial.due.none")),
      signatures.length ? h("ul", { class: "t-sigs" }, signatures) : h("p", { class: "t-sub" }, t("trial.sig.none")),
      updateForm,
      signForm,
    );
  }

  async update(ev, e) {
    ev.preventDefault();
    const f = fields(ev.target);
    const body = strip({
      resolved_at: siteTime(f.resolved_at),
      ctcae_grade: num(f.ctcae_grade),
      outcome: f.outcome,
      action_taken: f.action_taken,
    });
    await act(ev.target, this.page, async () => {
      await apiFetch(this.page.session(), `/api/adverse-events/${e.id}`, { method: "PATCH", body });
      await this.page.reload();
    });
  }

  async sign(ev, e) {
    ev.preventDefault();
    const f = fields(ev.target);
    await act(ev.target, this.page, async () => {
      await apiFetch(this.page.session(), `/api/adverse-events/${e.id}/sign`, { method: "POST", body: { password: f.password, meaning: f.meaning } });
      await this.page.reload();
    });
  }

  async reported(ev, e, due) {
    const li = ev.target.closest("li");
    await act(li, this.page, async () => {
      await apiFetch(this.page.session(), `/api/adverse-events/${e.id}/reported`, { method: "POST", body: { report: due.report } });
      await this.page.reload();
    });
  }

  wire() {
    $("#alert-rows").addEventListener("change", () => this.renderSelection());
    const adj = $("#adjudicate-form");
    adj.querySelector(".t-cancel").addEventListener("click", () => {
      adj.hidden = true;
    });
    adj.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = fields(adj);
      const body = strip({
        alert_ids: this.selected(),
        verdict: f.verdict,
        reason: f.verdict === "not_iae" ? opt(f.reason) : undefined,
        reason_text: f.verdict === "not_iae" ? opt(f.reason_text) : undefined,
        ae_id: f.verdict === "iae" ? num(f.ae_id) : undefined,
        meaning: f.meaning,
        password: f.password,
      });
      const done = await act(adj, this.page, async () => {
        const rows = await apiFetch(this.page.session(), "/api/adjudications", { method: "POST", body });
        await this.page.reload();
        return rows;
      });
      adj.elements.password.value = ""; // a signature needs the password each time
      if (done) adj.querySelector(".t-out").textContent = t("trial.adj.done", { n: done.length });
    });

    $("#ae-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const form = ev.target;
      const f = fields(form);
      const body = strip({
        term: f.term,
        meddra_code: opt(f.meddra_code),
        onset: siteTime(f.onset),
        resolved_at: siteTime(f.resolved_at),
        ctcae_grade: num(f.ctcae_grade),
        seriousness: CHOICES.seriousness.filter((v) => f[`serious.${v}`]),
        causality_product: f.causality_product,
        causality_procedure: f.causality_procedure,
        expected: f.expected,
        action_taken: f.action_taken,
        treatment: opt(f.treatment),
        outcome: f.outcome,
        alert_ids: f.group ? this.selected() : [],
      });
      const path = `/api/patients/${encodeURIComponent(this.page.patient())}/adverse-events`;
      await act(
        form,
        this.page,
        async () => {
          const ae = await apiFetch(this.page.session(), path, { method: "POST", body });
          await this.page.reload();
          return ae;
        },
        (ae) => t("trial.ae.recorded", { id: ae.id }),
      );
    });
  }
}
