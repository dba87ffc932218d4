"""The station page in a real browser against the REAL service: simulated Modbus pump and
IntelliVue monitor over TCP → drivers → pipeline → rules engine → SQLite → websocket → page.

Each test starts its own service (`real_service.running_real_station`, about half a second)
in a background thread and drives the simulated devices; the page is checked with explicit
waits only. Set IAEWATCH_UPDATE_SCREENSHOTS=1 to also write docs/station-real.png.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, FloatRect, Locator, Page, expect
from real_service import (
    BED,
    MONITOR_ID,
    PUMP_ID,
    STUDY_ID,
    RealStation,
    running_real_station,
)
from signed_in import SignedInPages

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("no_leaked_threads")]

ROOT = Path(__file__).resolve().parents[2]
WAIT = 10_000  # ms: generous for a loaded machine; every wait returns as soon as it holds
DEVICE_WAIT = 15_000  # ms: a reconnect waits out the driver's backoff (1 s, 2 s, 4 s ...)
SPO2 = "MDC_PULS_OXIM_SAT_O2"
HR = "MDC_ECG_HEART_RATE"
PR = "MDC_PULS_OXIM_PULS_RATE"
MEDIUM_YELLOW = "rgb(255, 210, 31)"  # --medium in station.css
TIME = r"\d\d:\d\d:\d\d"


@pytest.fixture
def station(tmp_path: Path) -> Iterator[RealStation]:
    with running_real_station(tmp_path) as s:
        yield s


class Pages(SignedInPages):
    """The real station, signed in. Any page error or console error fails the test: unlike
    the fake server's tests, nothing here provokes one on purpose."""

    def ready(self, page: Page) -> None:
        expect(page.locator(".tile")).to_have_count(1, timeout=WAIT)
        expect(page.locator("#link")).to_have_text("live", timeout=WAIT)


@pytest.fixture
def pages(browser: Browser, station: RealStation) -> Iterator[Pages]:
    p = Pages(browser, station)
    yield p
    p.close()  # before the station stops: no reconnecting page outlives its server
    assert not p.errors, f"errors in the page: {p.errors}"


def tile(page: Page) -> Locator:
    return page.locator(f".tile[data-bed='{BED}']")


def vital(page: Page, key: str) -> Locator:
    return tile(page).locator(f".vital[data-vital='{key}'] .v-value")


def pump_alarm_row(page: Page) -> Locator:
    """The list row of the study pump's alarm (the rule set's infusion_pump_alarm)."""
    return (
        page.locator("#alert-list li.alert")
        .filter(has=page.locator(".a-cat", has_text="Infusion problem"))
        .filter(has=page.locator(".a-msg", has_text="Study pump alarm"))
    )


def acknowledge_others(station: RealStation, page: Page, keep: str) -> None:
    """Acknowledge (through the API) every other unacknowledged alert of the bed, e.g. the
    pump start without a product checklist, so that the tile's state is the occlusion's."""
    token = station.token("nurse1")
    for a in station.get("/api/alerts", "nurse1", bed=BED):
        if a["id"] != keep and a["acked_by"] is None:
            r = httpx.post(
                f"{station.url}/api/alerts/{a['id']}/ack",
                headers={"Authorization": f"Bearer {token}"},
                timeout=5.0,
            )
            r.raise_for_status()
            expect(page.locator(f"li.alert[data-alert-id='{a['id']}'] button.ack")).to_have_count(
                0, timeout=WAIT
            )


def occlusion_left_the_tile(page: Page) -> None:
    """The tile no longer shows the pump alarm (other acknowledged alerts may remain)."""
    expect(tile(page).locator(".tile-alarm")).not_to_contain_text("Study pump alarm", timeout=WAIT)
    expect(tile(page)).not_to_have_class(re.compile(r"\bflashing\b"), timeout=WAIT)


def start_infusion_with_occlusion(station: RealStation, page: Page) -> str:
    """Start the study pump, wait for the infusion on the tile, raise an occlusion; the id of
    the alert the page shows for it."""
    station.run(lambda: station.pump.start(rate_ml_h=150.0))
    expect(tile(page).locator(".inf-title")).to_have_text("Infusing", timeout=WAIT)
    expect(tile(page).locator(".inf-rate")).to_have_text("150 mL/h", timeout=WAIT)
    station.run(lambda: station.pump.raise_alarm("occlusion"))
    row = pump_alarm_row(page)
    expect(row).to_have_count(1, timeout=WAIT)
    alert_id = row.get_attribute("data-alert-id")
    assert alert_id
    return alert_id


def test_nurse_sees_live_numerics_and_acknowledges_an_occlusion(
    station: RealStation, pages: Pages, tmp_path: Path
) -> None:
    page = pages.logged_in("nurse1")
    t = tile(page)
    expect(t.locator(".study-id")).to_have_text(STUDY_ID)
    expect(t.locator(".inf-title")).to_have_text("Infusion not started")
    # Live numerics from the simulated monitor (DEFAULT_ADULT_ARDS), then a change.
    expect(vital(page, "spo2")).to_have_text("93", timeout=WAIT)
    expect(vital(page, "hr")).to_have_text("96", timeout=WAIT)
    expect(t.locator(".vital[data-vital='hr']")).to_contain_text("ECG")
    expect(vital(page, "map")).to_have_text("80", timeout=WAIT)
    expect(vital(page, "temp")).to_have_text("37.2", timeout=WAIT)
    station.run(lambda: station.vitals.values.update({SPO2: 95.0, HR: 104.0, PR: 104.0}))
    expect(vital(page, "spo2")).to_have_text("95", timeout=WAIT)
    expect(vital(page, "hr")).to_have_text("104", timeout=WAIT)
    expect(t.locator(".dev.connected")).to_have_count(2, timeout=WAIT)

    expect(t).not_to_have_attribute("data-alarm", "medium")
    alert_id = start_infusion_with_occlusion(station, page)
    row = pump_alarm_row(page)
    expect(row.locator(".prio")).to_have_text("MEDIUM")
    expect(row.locator(".a-bed")).to_have_text(BED)
    expect(row.locator(".a-state")).to_have_text("Active — not acknowledged")
    expect(row.locator(".iae-badge")).to_have_count(0)  # an early warning, not a protocol IAE
    expect(t).to_have_attribute("data-alarm", "medium", timeout=WAIT)
    expect(t).to_have_class(re.compile(r"\balarm-medium\b"))
    expect(t).to_have_class(re.compile(r"\bflashing\b"))
    expect(t.locator(".tile-alarm")).to_contain_text("MEDIUM · Infusion problem · Study pump alarm")
    # Everything stays inside the tile's (alert-coloured) border at this 1280 px width.
    assert t.evaluate("el => el.scrollWidth <= el.clientWidth"), "tile content overflows"

    # The screenshot of the real station with its alert (animations off: the "on" colours).
    page.mouse.move(5, 5)
    shot = tmp_path / "station-real.png"
    clip: FloatRect = {"x": 0, "y": 0, "width": 1280, "height": 440}  # bed and alert list
    # to bytes: with `path=` Playwright writes through its loop's executor, a lasting thread
    shot.write_bytes(page.screenshot(animations="disabled", clip=clip))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("IAEWATCH_UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(shot, ROOT / "docs" / "station-real.png")

    acknowledge_others(station, page, alert_id)
    row.locator("button.ack").click()
    expect(row.locator(".a-state")).to_have_text(
        re.compile(rf"^Active — acknowledged by nurse1 at {TIME}$"), timeout=WAIT
    )
    expect(row.locator("button.ack")).to_have_count(0)
    # Still the alert colour (the occlusion goes on), steady now that it is acknowledged.
    expect(t).to_have_attribute("data-alarm", "medium")
    expect(t).not_to_have_class(re.compile(r"\bflashing\b"), timeout=WAIT)
    strip = t.locator(".tile-alarm")
    assert strip.evaluate("el => getComputedStyle(el).backgroundColor") == MEDIUM_YELLOW

    # The acknowledgement is in the database: through the REST API and the store itself.
    listed = [a for a in station.get("/api/alerts", "nurse1", bed=BED) if a["id"] == alert_id]
    assert len(listed) == 1
    assert listed[0]["acked_by"] == "nurse1" and listed[0]["acked_at"]
    assert listed[0]["state"] == "acknowledged" and listed[0]["category"] == "infusion_problem"
    stored = station.stored_alert(alert_id)
    assert stored is not None and stored.acked_by == "nurse1" and stored.ended_at is None

    # The occlusion clears: acknowledged and ended, the alert leaves the active list.
    station.run(lambda: station.pump.clear_alarm("occlusion"))
    expect(page.locator(f"#alert-list li[data-alert-id='{alert_id}']")).to_have_count(
        0, timeout=WAIT
    )
    occlusion_left_the_tile(page)
    page.check("#history-toggle")
    expect(page.locator(f"#alert-list li[data-alert-id='{alert_id}'] .a-state")).to_have_text(
        re.compile(rf"^Resolved at {TIME} — acknowledged by nurse1 at {TIME}$")
    )
    stored = station.stored_alert(alert_id)
    assert stored is not None and stored.state.value == "resolved" and stored.ended_at
    assert stored.acked_by == "nurse1"


def test_alert_ended_before_acknowledgement_latches_until_acknowledged(
    station: RealStation, pages: Pages
) -> None:
    page = pages.logged_in("nurse1")
    alert_id = start_infusion_with_occlusion(station, page)
    row = pump_alarm_row(page)
    expect(tile(page)).to_have_attribute("data-alarm", "medium", timeout=WAIT)

    station.run(lambda: station.pump.clear_alarm("occlusion"))
    expect(row.locator(".a-state")).to_have_text(
        re.compile(rf"^Resolved at {TIME} — not acknowledged \(latched\)$"), timeout=WAIT
    )
    # Latched: still listed, still the alert colour, still flashing for attention.
    expect(row).to_have_count(1)
    expect(tile(page)).to_have_attribute("data-alarm", "medium")
    expect(tile(page)).to_have_class(re.compile(r"\bflashing\b"))
    stored = station.stored_alert(alert_id)
    assert stored is not None and stored.ended_at is not None and stored.acked_by is None
    # A reload rebuilds the list from the server's snapshot: the latched alert is in it.
    page.reload()
    if page.locator("#audio-blocked").is_visible():  # station mode: one click enables sound
        page.click("#audio-blocked")
    expect(page.locator("#link")).to_have_text("live", timeout=WAIT)
    expect(row.locator(".a-state")).to_have_text(
        re.compile(r"not acknowledged \(latched\)$"), timeout=WAIT
    )

    acknowledge_others(station, page, alert_id)
    row.locator("button.ack").click()
    expect(page.locator(f"#alert-list li[data-alert-id='{alert_id}']")).to_have_count(
        0, timeout=WAIT
    )
    occlusion_left_the_tile(page)
    stored = station.stored_alert(alert_id)
    assert stored is not None and stored.acked_by == "nurse1"


def test_engineer_sees_the_pump_disconnect_and_reconnect(
    station: RealStation, pages: Pages
) -> None:
    nurse = pages.logged_in("nurse1")
    eng = pages.logged_in("eng1")
    expect(nurse.locator("#devices")).to_be_hidden()
    panel = eng.locator("#devices")
    expect(panel).to_be_visible()  # open for engineers at login; the toggle closes and opens it
    eng.click("#devices-toggle")
    expect(panel).to_be_hidden()
    eng.click("#devices-toggle")
    expect(panel).to_be_visible()
    pump = panel.locator(f"tr[data-device='{PUMP_ID}']")
    monitor = panel.locator(f"tr[data-device='{MONITOR_ID}']")
    expect(panel.locator("tbody tr")).to_have_count(2, timeout=WAIT)
    expect(pump.locator(".state-chip")).to_have_text("connected", timeout=WAIT)
    expect(pump).to_contain_text("modbus-tcp")
    expect(pump.locator(".ident")).to_contain_text("serial_number: SIM00001")
    expect(monitor.locator(".state-chip")).to_have_text("connected", timeout=WAIT)
    expect(monitor.locator(".ident")).to_contain_text("model: Philips MP70")
    dot = tile(eng).locator(f".dev[data-device='{PUMP_ID}']")
    expect(dot).to_have_attribute("data-state", "connected")

    station.run(lambda: setattr(station.pump_faults, "drop", True))  # the gateway goes away
    expect(pump.locator(".state-chip")).to_have_text("disconnected", timeout=DEVICE_WAIT)
    expect(pump.locator(".dev-state .err")).not_to_be_empty()
    expect(dot).to_have_attribute("data-state", "offline")
    expect(monitor.locator(".state-chip")).to_have_text("connected")

    # The nurse gets the technical alert for it.
    technical = (
        nurse.locator("#alert-list li.alert")
        .filter(has=nurse.locator(".a-cat", has_text="Technical"))
        .filter(has=nurse.locator(".a-msg", has_text="Device disconnected"))
    )
    expect(technical).to_have_count(1, timeout=WAIT)
    expect(technical.locator(".prio")).to_have_text("MEDIUM")
    expect(technical.locator(".a-state")).to_have_text("Active — not acknowledged")
    expect(tile(nurse)).to_have_attribute("data-alarm", "medium")
    expect(tile(nurse).locator(f".dev[data-device='{PUMP_ID}']")).to_have_attribute(
        "data-state", "offline"
    )

    station.run(lambda: setattr(station.pump_faults, "drop", False))
    expect(pump.locator(".state-chip")).to_have_text("connected", timeout=DEVICE_WAIT)
    expect(pump.locator("td.num").nth(2)).to_have_text("1")  # one reconnect
    expect(dot).to_have_attribute("data-state", "connected")
    # Reconnected: the alert has ended, and latches for the nurse until acknowledged.
    expect(technical.locator(".a-state")).to_have_text(
        re.compile(rf"^Resolved at {TIME} — not acknowledged \(latched\)$"), timeout=WAIT
    )
    technical.locator("button.ack").click()
    expect(technical).to_have_count(0, timeout=WAIT)


def test_a_silent_monitor_turns_its_dot_stale_then_offline_with_their_ages(
    station: RealStation, pages: Pages
) -> None:
    """The monitor keeps its link open but sends nothing: its dot turns stale (half its
    stale_after, 2.5 s: pushed by the service's presence watch, no driver event yet) with the
    age of its last data, then offline when the driver gives up (5 s), still aged from then."""
    page = pages.logged_in("nurse1")
    dot = tile(page).locator(f".dev[data-device='{MONITOR_ID}']")
    expect(dot).to_have_attribute("data-state", "connected", timeout=WAIT)
    expect(dot.locator(".dev-age")).to_have_count(0)

    station.run(lambda: setattr(station.monitor_faults, "stall", True))
    expect(dot).to_have_attribute("data-state", "stale", timeout=WAIT)
    expect(dot).to_have_class(re.compile(r"\bstale\b"))
    expect(dot.locator(".dev-age")).to_have_text(re.compile(r"^ stale \d+ s$"))
    served = station.get(f"/api/beds/{BED}", "nurse1")
    monitor = next(d for d in served["devices"] if d["device_id"] == MONITOR_ID)
    assert monitor["state"] in ("connected", "disconnected", "connecting")
    assert monitor["presence"] in ("stale", "offline")

    expect(dot).to_have_attribute("data-state", "offline", timeout=WAIT)
    # aged from the last data, not from the latest reconnect attempt: it only grows
    expect(dot.locator(".dev-age")).to_have_text(re.compile(r"^ offline [5-9] s$"), timeout=WAIT)
    expect(dot.locator(".dev-age")).to_have_text(re.compile(r"^ offline 1\d s$"), timeout=WAIT)

    station.run(lambda: setattr(station.monitor_faults, "stall", False))
    expect(dot).to_have_attribute("data-state", "connected", timeout=DEVICE_WAIT)
    expect(vital(page, "spo2")).to_have_text("93", timeout=WAIT)
