// The trial page (/station/trial.html), for investigators and coordinators: pick a patient,
// enter blood gases and enrolment facts, see the eligibility verdict and what blocks the
// infusion start, adjudicate alerts under an e-signature, record and sign adverse events and
// see when their reports are due. Every refusal the server gives (a role's 403 with its
// reason) is shown on the page. Plain ES modules, no build step; REST only.

import { AuthError, apiFetch, clearSession, loadSession, login } from "./api.js";
import { setTimeZone, timeZone, zoneName } from "./format.js";
import { LANGUAGES, language, missing, preferredLanguage, rememberLanguage, setLanguage, t, translateStatic } from "./i18n.js";
import { SafetyView } from "./trial-ae.js";
import { renderEnrolment, wireEnrolment } from "./trial-enrol.js";

const $ = (sel) => document.querySelector(sel);
const PAGES = ["trial"]; // this page's catalogue: ./i18n/trial-{lang}.json
const PATIENT_KEY = "iaewatch.trial.patient";

let session = null;
let site = { name: "" };
let view = null;

const page = {
  session: () => session,
  patient: () => $("#patient").value,
  reload: () => loadView(),
  notice(text) {
    $("#notice").hidden = !text;
    $("#notice").textContent = text ?? "";
  },
  endSession(why) {
    clearSession();
    session = null;
    showLogin(why);
  },
};

const safety = new SafetyView(page);
wireEnrolment(page);

function showLogin(why = "") {
  $("#trial").hidden = true;
  $("#login").hidden = false;
  $("#login-error").textContent = why;
}

async function loadPatients() {
  const patients = await apiFetch(session, "/api/patients");
  const select = $("#patient");
  const keep = select.value || sessionStorage.getItem(PATIENT_KEY);
  select.replaceChildren(
    ...patients.map((p) => {
      const o = document.createElement("option");
      o.value = p.study_id;
      o.textContent = p.bed ? `${p.study_id} · ${p.bed}` : p.study_id;
      return o;
    }),
  );
  if (patients.some((p) => p.study_id === keep)) select.value = keep;
}

/** Fetch the patient's trial view and render every section; returns the view. */
async function loadView() {
  const id = page.patient();
  if (!id) {
    page.notice(t("trial.noPatient"));
    return null;
  }
  try {
    view = await apiFetch(session, `/api/patients/${encodeURIComponent(id)}/trial`);
    renderEnrolment(view, page);
    await safety.load(view);
    document.body.dataset.loaded = id;
    return view;
  } catch (err) {
    if (err instanceof AuthError) page.endSession(err.message);
    else page.notice(t("trial.refused", { why: err.message }));
    return null;
  }
}

function renderTop() {
  translateStatic();
  $("#user").textContent = `${session.username} (${session.role})`;
  $("#site").textContent = [site.name, `${timeZone()} (${zoneName()})`].filter(Boolean).join(" · ");
}

async function enter() {
  $("#login").hidden = true;
  $("#trial").hidden = false;
  await setLanguage(preferredLanguage(session.username), PAGES);
  $("#lang").value = language();
  renderTop();
  safety.fillChoices();
  await loadPatients();
  await loadView();
}

async function main() {
  $("#lang").replaceChildren(
    ...LANGUAGES.map((l) => {
      const o = document.createElement("option");
      o.value = l;
      o.textContent = l === "zh-CN" ? "中文" : "English";
      return o;
    }),
  );
  try {
    const resp = await fetch("/api/site");
    if (resp.ok) {
      site = await resp.json();
      setTimeZone(site.timezone);
    }
  } catch {
    // no site: times show in this machine's zone
  }
  session = loadSession();
  await setLanguage(preferredLanguage(session?.username), PAGES);
  translateStatic();
  if (session) await enter();
  else showLogin();
}

$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = ev.target;
  try {
    session = await login(f.username.value.trim(), f.password.value);
    f.password.value = "";
    await enter();
  } catch (err) {
    $("#login-error").textContent = err.message;
  }
});

$("#logout").addEventListener("click", () => {
  clearSession();
  session = null;
  showLogin();
});

$("#patient").addEventListener("change", () => {
  sessionStorage.setItem(PATIENT_KEY, page.patient());
  page.notice(null);
  loadView();
});

$("#lang").addEventListener("change", async () => {
  rememberLanguage($("#lang").value, session?.username);
  await setLanguage($("#lang").value, PAGES);
  renderTop();
  safety.fillChoices();
  if (view) {
    renderEnrolment(view, page);
    safety.render();
  }
});

window.iaewatch = { missing, language }; // for the browser tests: strings the page lacked

main();
