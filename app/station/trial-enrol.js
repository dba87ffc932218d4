// The trial page's enrolment side: the eligibility checklist, blood gases entered with their
// unit (mmHg or kPa, converted by the server), consent / imaging / airway entries, and the
// guarded infusion start, which shows what blocks it.

import { apiFetch } from "./api.js";
import { h } from "./dom.js";
import { formatDateTime } from "./format.js";
import { t, tOr } from "./i18n.js";
import { act, fields, num, siteTime } from "./trial-forms.js";

const $ = (sel) => document.querySelector(sel);

function plain(v) {
  if (v == null) return "—";
  if (typeof v === "number") return String(Math.round(v * 10) / 10);
  if (typeof v === "object") return Object.entries(v).map(([k, x]) => `${k} ${plain(x)}`).join(", ");
  return String(v);
}

function statusCell(status) {
  return h("td", { class: `t-status ${status}` }, tOr(`trial.status.${status}`, status));
}

/** The checklist, the gases and the start section of a trial view (GET .../trial). */
export function renderEnrolment(view, page) {
  const check = view.eligibility;
  const exclusions = new Set((view.exclusions ?? []).map((e) => e.id));
  const verdict = $("#verdict");
  verdict.textContent = tOr(`trial.verdict.${check.verdict}`, check.verdict);
  verdict.className = `t-verdict ${check.verdict}`;
  $("#checklist").replaceChildren(
    ...check.items.map((i) =>
      h(
        "tr",
        { dataset: { item: i.id } },
        h("td", {}, i.label),
        statusCell(i.status),
        h("td", {}, plain(i.value)),
        h("td", { class: "t-sub" }, [i.source, i.detail].filter(Boolean).join(" · ")),
        exclusions.has(i.id) ? exclusionCell(i.id, page) : h("td"),
      ),
    ),
  );
  $("#gas-list").replaceChildren(
    ...[...view.blood_gases].reverse().map((g) =>
      h(
        "tr",
        {},
        h("td", {}, formatDateTime(g.t)),
        h("td", {}, g.entered_as ?? "—"),
        h("td", {}, plain(g.pao2_mmhg)),
        h("td", {}, plain(g.fio2_pct)),
        h("td", { class: "t-pf" }, plain(g.pf_ratio)),
        h("td", {}, plain(g.peep_cmh2o)),
        h("td", { class: "t-sub" }, (g.warnings ?? []).join("; ")),
      ),
    ),
  );
  renderStart(view);
}

/** Buttons confirming whether an exclusion criterion applies (PUT .../exclusions/{id}). */
function exclusionCell(id, page) {
  const cell = h("td", { class: "t-excl" });
  const answer = (present) => () =>
    act(cell, page, async () => {
      const path = `/api/patients/${encodeURIComponent(page.patient())}/exclusions/${encodeURIComponent(id)}`;
      await apiFetch(page.session(), path, { method: "PUT", body: { present } });
      await page.reload();
    });
  cell.append(
    h("button", { type: "button", class: "t-absent", onclick: answer(false) }, t("trial.excl.absent")),
    h("button", { type: "button", class: "t-present", onclick: answer(true) }, t("trial.excl.present")),
    h("span", { class: "t-out" }),
  );
  return cell;
}

/** Why the start is blocked: every item not met (or not known), and product problems. */
function blockers(view) {
  const out = view.eligibility.items
    .filter((i) => i.status !== "met")
    .map((i) => ({ id: i.id, text: `${i.label}: ${tOr(`trial.status.${i.status}`, i.status)}${i.detail ? ` (${i.detail})` : ""}` }));
  for (const p of view.product?.problems ?? []) {
    out.push({ id: "product", text: `${t("trial.start.product")}: ${plain(p)}` });
  }
  return out;
}

function renderStart(view) {
  const box = $("#start-blocked");
  const list = view.infusion
    ? [{ id: "started", text: t("trial.start.already", { t: formatDateTime(view.infusion.started_at) }) }]
    : blockers(view);
  box.hidden = list.length === 0;
  box.querySelector("strong").textContent = t(view.infusion ? "trial.start.once" : "trial.start.blocked");
  box.querySelector("ul").replaceChildren(...list.map((b) => h("li", { dataset: { item: b.id } }, b.text)));
  $("#start-form button[type=submit]").disabled = list.length > 0;
}

/** Wire the enrolment forms; `page` gives the patient, reload, notice and session. */
export function wireEnrolment(page) {
  const patientPath = (rest) => `/api/patients/${encodeURIComponent(page.patient())}${rest}`;

  $("#gas-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = fields(ev.target);
    const body = { unit: f.unit, pao2: num(f.pao2), paco2: num(f.paco2), ph: num(f.ph), fio2_pct: num(f.fio2_pct), t: siteTime(f.t) };
    await act(
      ev.target,
      page,
      async () => {
        const gas = await apiFetch(page.session(), patientPath("/blood-gases"), { method: "POST", body: strip(body) });
        const view = await page.reload();
        return { gas, verdict: view?.eligibility?.verdict };
      },
      ({ gas, verdict }) =>
        t("trial.gas.result", {
          pf: plain(gas.pf_ratio),
          pao2: plain(gas.pao2_mmhg),
          verdict: tOr(`trial.verdict.${verdict}`, String(verdict)),
        }),
    );
  });

  const put = (id, path, toBody) =>
    $(id).addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = strip(toBody(fields(ev.target)));
      await act(ev.target, page, async () => {
        await apiFetch(page.session(), patientPath(path), { method: "PUT", body });
        await page.reload();
      });
    });
  const now = () => new Date().toISOString();
  put("#consent-form", "/consent", (f) => ({ consenter: f.consenter, consenter_name: f.consenter_name, taken_by: f.taken_by, t: siteTime(f.t) ?? now() }));
  put("#imaging-form", "/imaging", (f) => ({ modality: f.modality, reader: f.reader, bilateral: f.bilateral, t: siteTime(f.t) ?? now() }));
  put("#airway-form", "/airway", (f) => ({ kind: f.kind }));
  put("#body-form", "/body", (f) => ({ height_cm: num(f.height_cm), sex: f.sex }));
  put("#protective-form", "/protective-ventilation", (f) => ({ note: f.note }));
  put("#product-form", "/product", (f) => ({
    weight_basis: f.weight_basis,
    cap_kg: f.weight_basis === "capped" ? num(f.cap_kg) : undefined,
    bag_id: f.bag_id,
    lot_id: f.lot_id,
    cell_count: num(f.cell_count),
    viability_pct: num(f.viability_pct),
    prepared_at: siteTime(f.prepared_at),
    expires_at: siteTime(f.expires_at),
    preservation: f.preservation,
    washed: f.washed,
    lumen_confirmed: f.lumen_confirmed,
  }));

  $("#start-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = fields(ev.target);
    await act(
      ev.target,
      page,
      async () => {
        await apiFetch(page.session(), patientPath("/infusion/start"), { method: "POST", body: { planned_min: num(f.planned_min) } });
        await page.reload();
      },
      t("trial.start.done"),
    );
  });
}

/** The body without its empty (undefined) fields. */
export function strip(body) {
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
}
