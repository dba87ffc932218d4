"""The trial page (/station/trial.html) in a real browser against the REAL service (simulated
Modbus pump and IntelliVue monitor → drivers → rules → SQLite → REST), as an investigator, a
coordinator, a nurse and an engineer: a gas typed in kPa, the start blocked by a missing
consent or imaging reading, alerts adjudicated and grouped into one signed adverse event, the
reporting clock's due times and an overdue report, and the 403 a role gets, shown on the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from real_service import SITE, STUDY_ID, USERS, RealStation, running_real_station
from signed_in import SignedInPages

from app.sae_clock import SaeClock
from app.security import hash_password
from app.store import Store

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("no_leaked_threads")]

WAIT = 10_000  # ms
TRIAL_USERS = {
    "drlee": ("sign-with-care", "investigator"),
    "chen": ("enter-the-crf", "coordinator"),
}
ACCOUNTS = {**USERS, **TRIAL_USERS}
# What the browser logs itself for the refusals these tests provoke on purpose.
EXPECTED_CONSOLE = tuple(f"the server responded with a status of {n}" for n in (403, 422))


@pytest.fixture
def station(tmp_path: Path) -> Iterator[RealStation]:
    with running_real_station(tmp_path) as s:
        s.call(lambda: _add_trial_users(s.db_url))
        yield s


async def _add_trial_users(url: str) -> None:
    store = await Store.open(url)
    try:
        for name, (password, role) in TRIAL_USERS.items():
            await store.add_user(name, role, hash_password(password))
    finally:
        await store.close()


class TrialPages(SignedInPages):
    """The trial page, signed in; a page error or an unexpected console error fails the test."""

    def __init__(self, browser: Browser, station: RealStation) -> None:
        super().__init__(
            browser,
            station,
            path="/station/trial.html",
            accounts=ACCOUNTS,
            viewport={"width": 1400, "height": 1000},
            expected_console=EXPECTED_CONSOLE,
        )

    def ready(self, page: Page) -> None:
        expect(page.locator("body")).to_have_attribute("data-loaded", STUDY_ID)
        expect(page.locator("#patient")).to_have_value(STUDY_ID)


@pytest.fixture
def pages(browser: Browser, station: RealStation) -> Iterator[TrialPages]:
    p = TrialPages(browser, station)
    yield p
    p.close()
    assert not p.errors, f"errors in the page: {p.errors}"


def api(station: RealStation, method: str, path: str, user: str, **kw: object) -> httpx.Response:
    login = httpx.post(
        f"{station.url}/api/auth/login",
        json={"username": user, "password": ACCOUNTS[user][0]},
        timeout=5.0,
    )
    login.raise_for_status()
    token = login.json()["access_token"]
    return httpx.request(
        method,
        f"{station.url}{path}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5.0,
        **kw,  # type: ignore[arg-type]
    )


def site_now(minus: timedelta = timedelta(0)) -> str:
    """A `datetime-local` value for a moment, as the site's wall clock reads it."""
    at = datetime.now(UTC) - minus
    return at.astimezone(ZoneInfo(SITE.timezone)).strftime("%Y-%m-%dT%H:%M")


def blocker(page: Page, item: str) -> Locator:
    return page.locator(f"#start-blocked li[data-item='{item}']")


def alert_row(page: Page, alert_id: str) -> Locator:
    return page.locator(f"#alert-rows tr[data-alert-id='{alert_id}']")


def test_a_kpa_gas_gives_the_true_pf_and_verdict(pages: TrialPages) -> None:
    page = pages.logged_in("chen")
    form = page.locator("#gas-form")
    form.locator("input[name=pao2]").fill("12.0")
    form.locator("input[name=paco2]").fill("6.1")
    form.locator("select[name=unit]").select_option("kPa")
    form.locator("input[name=fio2_pct]").fill("40")
    form.locator("button[type=submit]").click()
    # 12.0 kPa = 90.0 mmHg; at FiO2 0.40 the P/F is 225 mmHg (not the 30 a unit slip gives)
    expect(form.locator(".t-out")).to_have_text(
        "P/F 225 mmHg (PaO₂ 90 mmHg) → not eligible", timeout=WAIT
    )
    expect(page.locator("#verdict")).to_have_text("not eligible")
    pf_row = page.locator("#checklist tr[data-item='pf_below_200']")
    expect(pf_row.locator(".t-status")).to_have_text("not met")
    expect(pf_row).to_contain_text("225")
    gas = page.locator("#gas-list tr").first
    expect(gas.locator(".t-pf")).to_have_text("225")
    expect(gas).to_contain_text("kPa")


def test_a_gas_without_its_unit_is_not_sent(pages: TrialPages, station: RealStation) -> None:
    page = pages.logged_in("chen")
    form = page.locator("#gas-form")
    form.locator("input[name=pao2]").fill("90")
    form.locator("button[type=submit]").click()  # the unit is required: the browser says so
    assert form.locator("select[name=unit]").evaluate("el => !el.validity.valid")
    assert api(station, "GET", f"/api/patients/{STUDY_ID}/blood-gases", "chen").json() == []


def test_a_missing_consent_or_imaging_blocks_the_start(pages: TrialPages) -> None:
    page = pages.logged_in("drlee")
    start = page.locator("#start-form button[type=submit]")
    expect(page.locator("#start-blocked")).to_be_visible()
    expect(blocker(page, "informed_consent")).to_contain_text("not recorded")
    expect(blocker(page, "bilateral_infiltrates")).to_be_visible()
    expect(start).to_be_disabled()

    consent = page.locator("#consent-form")
    consent.locator("select[name=consenter]").select_option("legal_representative")
    consent.locator("input[name=consenter_name]").fill("Wang Fang (spouse)")
    consent.locator("input[name=taken_by]").fill("chen")
    consent.locator("button[type=submit]").click()
    expect(consent.locator(".t-out")).to_have_text("Saved.")
    expect(page.locator("#checklist tr[data-item='informed_consent'] .t-status")).to_have_text(
        "met"
    )
    expect(blocker(page, "informed_consent")).to_have_count(0)
    # the imaging reading is still missing: the start stays blocked, and says why
    expect(blocker(page, "bilateral_infiltrates")).to_be_visible()
    expect(start).to_be_disabled()

    imaging = page.locator("#imaging-form")
    imaging.locator("select[name=modality]").select_option("ct")
    imaging.locator("input[name=reader]").fill("dr.zhao")
    imaging.locator("input[name=t]").fill(site_now(timedelta(hours=2)))
    imaging.locator("button[type=submit]").click()
    expect(imaging.locator(".t-out")).to_have_text("Saved.")
    expect(blocker(page, "bilateral_infiltrates")).to_have_count(0)
    row = page.locator("#checklist tr[data-item='bilateral_infiltrates']")
    expect(row.locator(".t-status")).to_have_text("met")
    expect(row).to_contain_text("dr.zhao")
    # other items (gases, exclusions, the product) still block it
    expect(start).to_be_disabled()


def test_exclusions_body_and_protective_ventilation_from_the_page(pages: TrialPages) -> None:
    page = pages.logged_in("chen")
    malignancy = page.locator("#checklist tr[data-item='malignancy']")
    expect(blocker(page, "malignancy")).to_contain_text("not confirmed yet")
    malignancy.locator("button.t-absent").click()
    expect(malignancy.locator(".t-status")).to_have_text("met")
    expect(malignancy).to_contain_text("confirmed by chen")
    expect(blocker(page, "malignancy")).to_have_count(0)
    lines = page.locator("#checklist tr[data-item='no_central_venous_line']")
    lines.locator("button.t-present").click()
    expect(lines.locator(".t-status")).to_have_text("not met")
    expect(page.locator("#verdict")).to_have_text("not eligible")
    expect(blocker(page, "no_central_venous_line")).to_contain_text("not met")

    body = page.locator("#body-form")
    body.locator("input[name=height_cm]").fill("175")
    body.locator("select[name=sex]").select_option("male")
    body.locator("button[type=submit]").click()
    expect(body.locator(".t-out")).to_have_text("Saved.")
    protective = page.locator("#protective-form")
    protective.locator("input[name=note]").fill("VT 6 mL/kg PBW, plateau 26 over 12 h")
    protective.locator("button[type=submit]").click()
    expect(protective.locator(".t-out")).to_have_text("Saved.")
    row = page.locator("#checklist tr[data-item='protective_ventilation']")
    expect(row).to_contain_text("chen")
    assert page.evaluate("[...window.iaewatch.missing]") == []


def test_the_product_checklist_from_the_page(pages: TrialPages) -> None:
    page = pages.logged_in("chen")
    expect(page.locator("#start-blocked li[data-item='product']").first).to_be_visible()
    product = page.locator("#product-form")
    product.locator("select[name=weight_basis]").select_option("pbw")
    product.locator("input[name=bag_id]").fill("BAG-0042")
    product.locator("input[name=lot_id]").fill("UCMSC-2026-007")
    product.locator("input[name=cell_count]").fill("80000000")
    product.locator("input[name=viability_pct]").fill("92.5")
    product.locator("input[name=prepared_at]").fill(site_now(timedelta(hours=2)))
    product.locator("input[name=expires_at]").fill(site_now(-timedelta(hours=4)))
    product.locator("select[name=preservation]").select_option("cryopreserved_dmso")
    product.locator("input[name=washed]").check()
    product.locator("input[name=lumen_confirmed]").check()
    product.locator("button[type=submit]").click()
    # the dose on predicted body weight needs height and sex first: the server says so
    expect(product.locator(".t-out")).to_contain_text("height and sex")
    body = page.locator("#body-form")
    body.locator("input[name=height_cm]").fill("175")
    body.locator("button[type=submit]").click()
    expect(body.locator(".t-out")).to_have_text("Saved.")
    product.locator("button[type=submit]").click()
    expect(product.locator(".t-out")).to_have_text("Saved.")
    expect(page.locator("#start-blocked li[data-item='product']")).to_have_count(0)
    expect(page.locator("#start-blocked")).to_be_visible()  # the checklist still blocks


def _pump_alert_ids(page: Page, at_least: int) -> list[str]:
    """The ids of the pump's alert rows (category infusion_problem) once the page lists
    `at_least` of them (reloading its view until then)."""
    rows = page.locator("#alert-rows tr[data-category='infusion_problem']")
    for _ in range(75):
        if rows.count() >= at_least:
            break
        page.wait_for_timeout(200)
        page.locator("#patient").dispatch_event("change")  # reload the view
    ids: list[str] = rows.evaluate_all("rs => rs.map(r => r.dataset.alertId)")
    assert len(ids) >= at_least, ids
    return ids


def _two_alerts(station: RealStation, page: Page) -> list[str]:
    """The pump starts without a product checklist (an alert), then reports an occlusion."""
    station.run(lambda: station.pump.start(rate_ml_h=150.0))
    [unchecked] = _pump_alert_ids(page, 1)
    expect(alert_row(page, unchecked)).to_contain_text("product checklist")
    station.run(lambda: station.pump.raise_alarm("occlusion"))
    ids = _pump_alert_ids(page, 2)
    [occlusion] = [i for i in ids if i != unchecked]
    expect(alert_row(page, occlusion)).to_contain_text("occlusion")
    return [unchecked, occlusion]


def test_alerts_adjudicated_and_grouped_into_one_signed_ae(
    pages: TrialPages, station: RealStation
) -> None:
    page = pages.logged_in("drlee")
    alert_ids = _two_alerts(station, page)

    form = page.locator("#ae-form")
    form.locator("input[name=term]").fill("Pulmonary embolism")
    form.locator("input[name=meddra_code]").fill("10037377")
    form.locator("input[name=onset]").fill(site_now(timedelta(minutes=5)))
    form.locator("input[name=ctcae_grade]").fill("4")
    form.locator("input[name='serious.life_threatening']").check()
    form.locator("select[name=causality_product]").select_option("probable")
    form.locator("select[name=causality_procedure]").select_option("possible")
    form.locator("select[name=action_taken]").select_option("stopped")
    form.locator("input[name=treatment]").fill("heparin")
    form.locator("select[name=outcome]").select_option("recovering")
    form.locator("button[type=submit]").click()
    expect(form.locator(".t-out")).to_have_text(re.compile(r"AE \d+ recorded\."))
    ae = page.locator("#ae-list li.t-ae")
    expect(ae).to_have_count(1)
    ae_id = ae.get_attribute("data-ae-id")
    expect(ae.locator(".t-badge.susar")).to_have_text("SUSAR")
    expect(ae.locator(".t-crf")).to_contain_text("life-threatening")
    expect(ae.locator(".t-crf")).to_contain_text("10037377")
    # the reporting clock: the SAE report within 24 h, a life-threatening SUSAR within 7 days
    expect(ae.locator("li[data-report='sae_initial']")).to_contain_text("SAE report due")
    expect(ae.locator("li[data-report='susar']")).to_contain_text("SUSAR report due")

    # both alerts selected; adjudicated as one IAE, grouped into the AE, signed
    alert_row(page, alert_ids[0]).locator("button.t-adjudicate").click()
    alert_row(page, alert_ids[1]).locator("input[type=checkbox]").check()
    adj = page.locator("#adjudicate-form")
    expect(adj.locator(".t-selected")).to_have_text("2 alert(s) selected")
    adj.locator("select[name=verdict]").select_option("iae")
    adj.locator("select[name=ae_id]").select_option(ae_id)
    adj.locator("input[name=meaning]").fill("confirmed as infusion-associated")
    adj.locator("input[name=password]").fill("not-my-password")
    adj.locator("button[type=submit]").click()
    expect(adj.locator(".t-out")).to_contain_text("signature refused: wrong password")
    adj.locator("input[name=password]").fill(TRIAL_USERS["drlee"][0])
    adj.locator("button[type=submit]").click()
    expect(adj.locator(".t-out")).to_have_text("2 alert(s) adjudicated and signed.")
    for alert_id in alert_ids:
        expect(alert_row(page, alert_id).locator(".t-adj")).to_contain_text(
            f"confirmed IAE · AE {ae_id} · signed by drlee (investigator), "
            "“confirmed as infusion-associated”"
        )
    expect(ae.locator(".t-crf")).to_contain_text("Alerts grouped2")

    # the investigator signs the AE record itself
    sign = ae.locator("form.t-ae-sign")
    sign.locator("input[name=password]").fill(TRIAL_USERS["drlee"][0])
    sign.locator("button[type=submit]").click()
    expect(page.locator("#ae-list li.t-ae .t-sigs")).to_contain_text(
        "signed by drlee (investigator), “reviewed and approved”"
    )
    stored = api(station, "GET", f"/api/patients/{STUDY_ID}/adverse-events", "chen").json()
    assert sorted(stored[0]["alert_ids"]) == sorted(alert_ids)
    assert stored[0]["signatures"][0]["valid"] is True
    # a CRF change after the signature shows against it
    update = page.locator("#ae-list li.t-ae form.t-ae-update")
    update.locator("select[name=outcome]").select_option("recovered")
    update.locator("input[name=resolved_at]").fill(site_now())
    update.locator("button[type=submit]").click()
    expect(page.locator("#ae-list li.t-ae .t-sig.invalid")).to_contain_text(
        "the record changed after this signature"
    )
    expect(page.locator("#ae-list li.t-ae .t-crf")).to_contain_text("Outcomerecovered")
    assert page.evaluate("[...window.iaewatch.missing]") == []  # every string in English


def test_an_overdue_report_shows_and_raises_an_alert(
    pages: TrialPages, station: RealStation
) -> None:
    aware = datetime.now(UTC) - timedelta(hours=30)
    r = api(
        station,
        "POST",
        f"/api/patients/{STUDY_ID}/adverse-events",
        "chen",
        json={
            "term": "Hypotension",
            "onset": aware.isoformat(),
            "ctcae_grade": 3,
            "seriousness": ["important_medical_event"],
            "causality_product": "unlikely",
            "causality_procedure": "unlikely",
            "expected": False,
            "action_taken": "rate_reduced",
            "outcome": "recovered",
            "aware_at": aware.isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    # the clock's check, as its loop runs it (the service's own tick is a minute)
    raised = station.call(lambda: SaeClock(station.ctx).check())
    assert len(raised) == 1
    page = pages.logged_in("chen")
    due = page.locator("#ae-list li[data-report='sae_initial']")
    expect(due).to_have_class(re.compile(r"\boverdue\b"))
    expect(due.locator(".t-overdue")).to_have_text("OVERDUE")
    expect(page.locator("#ae-list li[data-report='susar']")).to_have_count(0)  # unrelated
    expect(alert_row(page, raised[0])).to_contain_text("SAE report for AE")

    due.locator("button.t-reported").click()
    sent = page.locator("#ae-list li[data-report='sae_initial']")
    expect(sent.locator(".t-sub")).to_contain_text(re.compile(r"^sent \d{4}-\d\d-\d\d "))
    expect(sent).not_to_have_class(re.compile(r"\boverdue\b"))
    assert station.call(lambda: SaeClock(station.ctx).check()) == []


def test_a_nurse_and_an_engineer_see_the_403_reason(
    pages: TrialPages, station: RealStation
) -> None:
    nurse = pages.logged_in("nurse1")
    alert_ids = _two_alerts(station, nurse)
    alert_row(nurse, alert_ids[0]).locator("button.t-adjudicate").click()
    adj = nurse.locator("#adjudicate-form")
    adj.locator("select[name=verdict]").select_option("not_iae")
    adj.locator("select[name=reason]").select_option("artefact")
    adj.locator("input[name=password]").fill(USERS["nurse1"][0])
    adj.locator("button[type=submit]").click()
    expect(adj.locator(".t-out")).to_have_text(
        "Not allowed for your role: HTTP 403: needs the role investigator"
    )
    expect(nurse.locator("#notice")).to_contain_text("needs the role investigator")
    expect(alert_row(nurse, alert_ids[0]).locator(".t-adj")).to_have_text("not adjudicated")

    engineer = pages.logged_in("eng1")
    form = engineer.locator("#gas-form")
    form.locator("input[name=pao2]").fill("70")
    form.locator("select[name=unit]").select_option("mmHg")
    form.locator("button[type=submit]").click()
    expect(form.locator(".t-out")).to_contain_text("Not allowed for your role: HTTP 403")
    expect(engineer.locator("#notice")).to_be_visible()
    assert api(station, "GET", f"/api/patients/{STUDY_ID}/blood-gases", "chen").json() == []


def test_the_page_in_chinese_has_every_string(pages: TrialPages, station: RealStation) -> None:
    page = pages.logged_in("chen")
    page.select_option("#lang", "zh-CN")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("#eligibility h2 span").first).to_have_text("入选资格")
    form = page.locator("#gas-form")
    form.locator("input[name=pao2]").fill("12.0")
    form.locator("select[name=unit]").select_option("kPa")
    form.locator("input[name=fio2_pct]").fill("40")
    form.locator("button[type=submit]").click()
    expect(form.locator(".t-out")).to_have_text("P/F 225 mmHg（PaO₂ 90 mmHg）→ 不符合入选")
    expect(page.locator("#verdict")).to_have_text("不符合入选")
    _two_alerts(station, page)
    page.locator("#alert-rows button.t-adjudicate").first.click()
    expect(page.locator("#adjudicate-form .t-selected")).to_have_text("已选 1 条报警")
    assert page.evaluate("[...window.iaewatch.missing]") == []
