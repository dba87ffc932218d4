"""The ICU station page in a real browser (Debian's chromium) against the fake server."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fake_beds import ARMS
from fake_station import FakeStation
from playwright.sync_api import Browser, Locator, Page, expect

pytestmark = pytest.mark.browser

TILE_VALUE = ".tile[data-bed='{bed}'] .vital[data-vital='{vital}']"


def login(page: Page, fake: FakeStation, user: str = "nurse1") -> None:
    passwords = {"nurse1": "night-shift", "eng1": "wires-and-frames"}
    page.goto(fake.url + "/")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", passwords[user])
    page.click("#login-form button[type=submit]")
    expect(page.locator(".tile")).to_have_count(6)
    expect(page.locator("#link")).to_have_text("live")


def vital(page: Page, bed: str, key: str) -> Locator:
    return page.locator(TILE_VALUE.format(bed=bed, vital=key))


def row(page: Page, alert_id: str) -> Locator:
    return page.locator(f"#alert-list li[data-alert-id='{alert_id}']")


def wait_until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def record_sounds(page: Page) -> None:
    page.evaluate(
        "window.__sounds = [];"
        "addEventListener('iaewatch:alarm-sound', (e) => window.__sounds.push(e.detail));"
    )


def test_login_rejects_a_wrong_password_then_shows_every_bed(page: Page, fake: FakeStation) -> None:
    page.goto(fake.url + "/")
    expect(page.locator("#login")).to_be_visible()
    page.fill("input[name=username]", "nurse1")
    page.fill("input[name=password]", "wrong")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#login-error")).to_have_text("Wrong username or password.")
    expect(page.locator("#station")).to_be_hidden()

    login(page, fake)
    session = page.evaluate("JSON.parse(sessionStorage.getItem('iaewatch.session'))")
    assert session["access_token"] == "tok-nurse1-1"
    assert session["role"] == "nurse"
    assert fake.ws_connects[-1] == {"token": "tok-nurse1-1", "last_seq": "0", "numerics": "batch"}
    expect(page.locator("#user")).to_have_text("nurse1 (nurse)")
    expect(page.locator("#devices")).to_be_hidden()  # nurses have no device panel

    # Live values with their units; MAP/HR fall back to NIBP / pulse rate; no value is "—".
    expect(vital(page, "ICU-1", "spo2").locator(".v-value")).to_have_text("94")
    expect(vital(page, "ICU-1", "spo2").locator(".v-unit")).to_have_text("%")
    expect(vital(page, "ICU-1", "map")).to_contain_text("ART")
    expect(vital(page, "ICU-1", "temp").locator(".v-value")).to_have_text("37.2")
    expect(vital(page, "ICU-1", "temp").locator(".v-unit")).to_have_text("°C")
    expect(vital(page, "ICU-1", "peep").locator(".v-unit")).to_have_text("cmH₂O")
    expect(vital(page, "ICU-1", "fio2").locator(".v-value")).to_have_text("40")
    expect(vital(page, "ICU-2", "map").locator(".v-value")).to_have_text("66")
    expect(vital(page, "ICU-2", "map")).to_contain_text("NIBP")
    expect(vital(page, "ICU-2", "temp").locator(".v-value")).to_have_text("38.1")
    expect(vital(page, "ICU-3", "hr").locator(".v-value")).to_have_text("77")
    expect(vital(page, "ICU-3", "hr")).to_contain_text("SpO₂")
    expect(vital(page, "ICU-5", "map").locator(".v-value")).to_have_text("—")
    expect(vital(page, "ICU-5", "map")).to_have_class(re.compile(r"\bstale\b"))

    # Infusion progress: volume of 100 mL, elapsed of planned, time left in the 24 h window.
    tile1 = page.locator(".tile[data-bed='ICU-1']")
    expect(tile1.locator(".inf-volume")).to_have_text("44 / 100 mL")
    expect(tile1.locator(".inf-time")).to_have_text(re.compile(r"^(20|21) of 45 min$"))
    expect(tile1.locator(".inf-window")).to_have_text(
        re.compile(r"^6 h window: 5 h 3\d min left · 24 h window: 23 h 3\d min left$")
    )
    expect(tile1.locator(".bar-fill")).to_have_attribute("style", re.compile(r"width: 44%"))
    expect(tile1.locator(".inf-rate")).to_have_text("133 mL/h")
    tile2 = page.locator(".tile[data-bed='ICU-2']")
    expect(tile2.locator(".inf-title")).to_have_text("Complete")
    expect(tile2.locator(".inf-time")).to_have_text("took 40 of 40 min")
    expect(page.locator(".tile[data-bed='ICU-3'] .inf-title")).to_have_text("Infusion not started")
    expect(page.locator(".tile[data-bed='ICU-5'] .study-id")).to_have_text("no patient")
    expect(tile1.locator(".study-id")).to_have_text("S-101")
    expect(tile1.locator(".dev.connected")).to_have_count(3)

    # The page must not unblind: the arm is nowhere in the document.
    html = page.content()
    for arm in ARMS:
        assert arm not in html


def test_numerics_update_live_and_go_stale(page: Page, fake: FakeStation) -> None:
    login(page, fake)
    fake.push_numerics("ICU-1", {"MDC_PULS_OXIM_SAT_O2": 97, "MDC_VOL_FLUID_DELIV": 61})
    expect(vital(page, "ICU-1", "spo2").locator(".v-value")).to_have_text("97")
    expect(page.locator(".tile[data-bed='ICU-1'] .inf-volume")).to_have_text("61 / 100 mL")

    # A value older than 30 s is shown as "—" and dimmed.
    fake.push_numerics("ICU-1", {"MDC_ECG_HEART_RATE": 130}, age_s=45)
    spo2_hr = vital(page, "ICU-1", "hr")
    expect(spo2_hr.locator(".v-value")).to_have_text("—")
    expect(spo2_hr).to_have_class(re.compile(r"\bstale\b"))

    # A fresh value ages out on its own, without any further message.
    fake.push_numerics("ICU-3", {"MDC_TEMP_BLD": 38.4}, age_s=28.5)
    temp = vital(page, "ICU-3", "temp")
    expect(temp.locator(".v-value")).to_have_text("38.4")
    expect(temp).not_to_have_class(re.compile(r"\bstale\b"))
    expect(temp.locator(".v-value")).to_have_text("—", timeout=5000)
    expect(temp).to_have_class(re.compile(r"\bstale\b"))

    # ECG rate gone stale: the oximeter's pulse rate takes over.
    fake.push_numerics("ICU-1", {"MDC_PULS_OXIM_PULS_RATE": 101})
    expect(spo2_hr.locator(".v-value")).to_have_text("101")
    expect(spo2_hr).to_contain_text("SpO₂")


def test_high_alert_turns_tile_red_sounds_and_is_acknowledged(
    page: Page, fake: FakeStation
) -> None:
    login(page, fake)
    record_sounds(page)
    tile = page.locator(".tile[data-bed='ICU-1']")
    expect(tile).to_have_attribute("data-alarm", "none")

    a = fake.raise_alert("ICU-1", "arrhythmia", "high", "VT 12 beats at 180/min", iae=True)
    expect(tile).to_have_attribute("data-alarm", "high")
    expect(tile).to_have_class(
        re.compile(r"\balarm-high\b.*\bflashing\b|\bflashing\b.*\balarm-high\b")
    )
    # the text comes from the rule through the catalogue; the server's message is its title
    rule_text = "New sustained VT, VF or asystole, or an arrhythmia needing cardioversion"
    expect(tile.locator(".tile-alarm")).to_contain_text(f"HIGH · Arrhythmia · {rule_text}")
    r = row(page, a["id"])
    expect(r.locator(".prio")).to_have_text("HIGH")
    expect(r.locator(".a-bed")).to_have_text("ICU-1")
    expect(r.locator(".a-cat")).to_have_text("Arrhythmia")
    expect(r.locator(".iae-badge")).to_have_text("IAE")
    expect(r.locator(".a-msg")).to_have_text(rule_text)
    expect(r.locator(".a-msg")).to_have_attribute("title", "VT 12 beats at 180/min")
    expect(r.locator(".a-state")).to_have_text("Active — not acknowledged")
    expect(r.locator(".a-onset")).to_have_text(re.compile(r"^\d\d:\d\d:\d\d$"))
    wait_until(lambda: len(page.evaluate("window.__sounds")) >= 1)
    first = page.evaluate("window.__sounds[0]")
    assert first["ids"] == [a["id"]] and first["why"] == "new"

    assert first["priority"] == "high"

    # A newer low alert elsewhere: cyan and steady, one low tone, below the older high one.
    low = fake.raise_alert("ICU-3", "technical", "low", "Ventilator: no frame for 20 s")
    tile3 = page.locator(".tile[data-bed='ICU-3']")
    expect(tile3).to_have_attribute("data-alarm", "low")
    expect(tile3).not_to_have_class(re.compile(r"\bflashing\b"))
    expect(row(page, low["id"]).locator(".iae-badge")).to_have_count(0)
    expect(page.locator("#alert-list li").first).to_have_attribute("data-alert-id", a["id"])
    wait_until(lambda: any(s["ids"] == [low["id"]] for s in page.evaluate("window.__sounds")))
    lows = [s for s in page.evaluate("window.__sounds") if s["priority"] == "low"]
    assert [s["why"] for s in lows] == ["new"]  # low priority: once, not repeated

    r.locator("button.ack").click()
    wait_until(lambda: len(fake.ack_requests) == 1)
    assert fake.ack_requests[0] == (a["id"], "Bearer tok-nurse1-1")
    expect(r.locator(".a-state")).to_have_text(
        re.compile(r"^Active — acknowledged by nurse1 at \d\d:\d\d:\d\d$")
    )
    expect(r.locator("button.ack")).to_have_count(0)
    # Still red (the condition goes on) but no longer flashing; acknowledged rows go below.
    expect(tile).to_have_attribute("data-alarm", "high")
    expect(tile).not_to_have_class(re.compile(r"\bflashing\b"))
    expect(page.locator("#alert-list li").last).to_have_attribute("data-alert-id", a["id"])
    # Acknowledging one alert does not touch another.
    expect(row(page, low["id"]).locator(".a-state")).to_have_text("Active — not acknowledged")

    # Acknowledged and then resolved: leaves the active list.
    fake.end_alert(a["id"])
    expect(row(page, a["id"])).to_have_count(0)
    expect(tile).to_have_attribute("data-alarm", "none")


def test_resolved_unacknowledged_alert_latches_until_acknowledged(
    page: Page, fake: FakeStation
) -> None:
    login(page, fake)
    a = fake.raise_alert("ICU-2", "hypotension", "medium", "MAP 58 mmHg for 5 min")
    tile = page.locator(".tile[data-bed='ICU-2']")
    expect(tile).to_have_attribute("data-alarm", "medium")
    expect(tile).to_have_class(re.compile(r"\bflashing\b"))

    fake.end_alert(a["id"])
    r = row(page, a["id"])
    expect(r.locator(".a-state")).to_have_text(
        re.compile(r"^Resolved at \d\d:\d\d:\d\d — not acknowledged \(latched\)$")
    )
    expect(tile).to_have_attribute("data-alarm", "medium")
    expect(tile).to_have_class(re.compile(r"\bflashing\b"))
    beats = fake.heartbeats_sent
    wait_until(lambda: fake.heartbeats_sent >= beats + 2)  # heartbeats later it is still there
    expect(r).to_have_count(1)

    r.locator("button.ack").click()
    expect(r).to_have_count(0)
    expect(tile).to_have_attribute("data-alarm", "none")
    expect(page.locator("#alert-list li.no-alerts")).to_have_text("No active alerts.")
    assert fake.alerts[a["id"]]["acked_by"] == "nurse1"

    page.check("#history-toggle")
    expect(r.locator(".a-state")).to_have_text(
        re.compile(r"^Resolved at \d\d:\d\d:\d\d — acknowledged by nurse1 at \d\d:\d\d:\d\d$")
    )
    page.uncheck("#history-toggle")
    expect(r).to_have_count(0)


def test_lost_connection_shows_the_full_screen_alarm_and_resumes_from_last_seq(
    page: Page, fake: FakeStation
) -> None:
    login(page, fake)
    first = fake.raise_alert("ICU-1", "fever", "low", "38.6 °C")
    expect(row(page, first["id"])).to_have_count(1)
    banner = page.locator("#outage")
    expect(banner).to_be_hidden()

    connects_before = len(fake.ws_connects)
    fake.drop_connections(accept_new=False)
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("NOT RECEIVING ALERTS")
    expect(banner).to_contain_text("Connection to the server lost")
    expect(page.locator("#link")).to_have_text("OFFLINE")
    # What happens while the station is away must reach it after the reconnect.
    missed = fake.raise_alert("ICU-4", "hypoxemia", "high", "SpO2 84 % for 1 min")
    wait_until(lambda: len(fake.ws_connects) > connects_before)  # it keeps trying
    expect(banner).to_be_visible()

    fake.allow_connections()
    expect(banner).to_be_hidden(timeout=20_000)
    expect(page.locator("#link")).to_have_text("live")
    resumed = fake.ws_connects[-1]
    assert resumed == {"token": "tok-nurse1-1", "last_seq": str(first["seq"]), "numerics": "batch"}
    expect(row(page, missed["id"])).to_have_count(1)
    expect(page.locator(".tile[data-bed='ICU-4']")).to_have_attribute("data-alarm", "high")
    expect(row(page, first["id"])).to_have_count(1)
    assert page.evaluate("window.iaewatch.store.lastSeq") == missed["seq"]


def test_revoked_token_raises_the_full_screen_alarm_not_a_quiet_login(
    page: Page, fake: FakeStation
) -> None:
    login(page, fake)
    record_sounds(page)
    a = fake.raise_alert("ICU-6", "bradycardia", "medium", "HR 38/min")
    fake.revoke_tokens()
    row(page, a["id"]).locator("button.ack").click()
    outage = page.locator("#outage")
    expect(outage).to_be_visible()
    expect(page.locator("#outage-reason")).to_contain_text("Log in again")
    expect(outage.locator("#login-form")).to_be_visible()  # the form sits inside the alarm
    expect(page.locator("#login")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('iaewatch.session')") is None
    wait_until(lambda: any(s["why"] == "outage" for s in page.evaluate("window.__sounds")))
    page.fill("#outage input[name=username]", "nurse1")
    page.fill("#outage input[name=password]", "night-shift")
    page.click("#outage button[type=submit]")
    expect(outage).to_be_hidden()
    expect(page.locator("#link")).to_have_text("live")

    # The websocket path: the server closes with 4401 on a token it no longer accepts.
    fake.revoke_tokens()
    fake.drop_connections(accept_new=True)
    expect(outage).to_be_visible(timeout=10_000)
    expect(page.locator("#outage-reason")).to_contain_text("The server ended this session")


def test_logout_closes_the_socket_and_forgets_the_token(page: Page, fake: FakeStation) -> None:
    login(page, fake)
    wait_until(lambda: fake.connection_count() == 1)
    page.click("#logout")
    expect(page.locator("#login")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('iaewatch.session')") is None
    wait_until(lambda: fake.connection_count() == 0)
    # A reload after login keeps the session (sessionStorage), without a new login.
    login(page, fake)
    page.reload()
    expect(page.locator(".tile")).to_have_count(6)
    assert fake.logins == ["nurse1", "nurse1"]


def test_engineer_sees_devices_go_down_and_come_back(page: Page, fake: FakeStation) -> None:
    login(page, fake, user="eng1")
    panel = page.locator("#devices")
    expect(panel).to_be_visible()
    expect(panel.locator("tbody tr")).to_have_count(18)
    assert fake.device_requests >= 1
    vent = panel.locator("tr[data-device='vent-1']")
    expect(vent.locator(".state-chip")).to_have_text("connected")
    expect(vent).to_contain_text("medibus")
    expect(vent).to_contain_text("/dev/ttyUSB1")
    expect(vent.locator(".ident")).to_have_text("model: Evita · sw: 04.20")
    expect(vent.locator("td.num").nth(0)).to_have_text("7200")

    fake.set_device_state("ICU-1", "vent-1", "disconnected", error="no reply in 2 s")
    expect(vent.locator(".state-chip")).to_have_text("disconnected")
    expect(vent).to_contain_text("no reply in 2 s")
    expect(vent.locator(".dev-state .sub").first).to_contain_text("since")
    dot = page.locator(".tile[data-bed='ICU-1'] .dev[data-device='vent-1']")
    expect(dot).to_have_attribute("data-state", "offline")
    expect(dot).to_contain_text("offline")  # with its age

    fake.set_device_state("ICU-1", "vent-1", "connected")
    expect(vent.locator(".state-chip")).to_have_text("connected")
    expect(vent.locator("td.num").nth(2)).to_have_text("1")  # reconnects
    expect(dot).to_have_attribute("data-state", "connected")

    page.click("#devices-toggle")
    expect(panel).to_be_hidden()


def test_bed_detail_shows_trends_markers_alerts_and_report(page: Page, fake: FakeStation) -> None:
    login(page, fake)
    a = fake.raise_alert("ICU-1", "embolism_pattern", "high", "SpO2 and EtCO2 falling, HR rising")
    expect(row(page, a["id"])).to_have_count(1)
    page.click(".tile[data-bed='ICU-1']")
    detail = page.locator("#detail")
    expect(detail).to_be_visible()
    expect(detail.locator(".d-title")).to_have_text("ICU-1")
    expect(detail.locator(".chart-holder .uplot")).to_have_count(8)
    expect(detail.locator(".chart-holder .u-legend")).to_have_count(8)
    req = fake.trend_requests[-1]
    assert req["bed"] == "ICU-1" and req["hours"] == "24" and req["points"] == "1000"
    codes = req["codes"].split(",")
    for code in (
        "MDC_PULS_OXIM_SAT_O2",
        "MDC_ECG_HEART_RATE",
        "MDC_PULS_OXIM_PULS_RATE",
        "MDC_PRESS_BLD_ART_MEAN",
        "MDC_PRESS_BLD_NONINV_MEAN",
        "MDC_TEMP_BLD",
        "MDC_VENT_CONC_AWAY_O2_INSP",
        "MDC_PRESS_AWAY_END_EXP_POS",
        "MDC_FLOW_FLUID_PUMP",
    ):
        assert code in codes
    spo2 = detail.locator(".chart-holder[data-code='MDC_PULS_OXIM_SAT_O2']")
    markers = spo2.locator(".chart-markers li")
    expect(markers.filter(has_text="Infusion start")).to_have_count(1)  # the end is to come
    expect(spo2.locator(".chart-markers li[data-kind='high']")).to_have_count(1)
    # zoom: 30 min shows fewer points than 6 h; the axis spans what is asked
    before = int(spo2.locator(".chart").get_attribute("data-points") or "0")
    detail.locator(".d-zoom button[data-zoom='30m']").click()
    expect(detail.locator(".d-zoom button.active")).to_have_text("30 min")
    after = int(spo2.locator(".chart").get_attribute("data-points") or "0")
    assert 0 < after < before
    expect(detail.locator(f".d-alerts li[data-alert-id='{a['id']}']")).to_have_count(1)

    report = detail.locator("a.d-report")
    expect(report).to_be_visible()
    expect(report).to_have_attribute("href", "/api/patients/S-101/report?format=html&lang=en")
    with page.context.expect_page() as new_page:
        report.click()
    opened = new_page.value
    expect(opened.locator("h1")).to_have_text("Report S-101")
    assert fake.report_requests == [("S-101", "Bearer tok-nurse1-1")]
    opened.close()

    # Acknowledging from the detail view works the same.
    detail.locator(f".d-alerts li[data-alert-id='{a['id']}'] button.ack").click()
    expect(detail.locator(f".d-alerts li[data-alert-id='{a['id']}'] .a-state")).to_contain_text(
        "acknowledged by nurse1"
    )

    page.keyboard.press("Escape")
    expect(detail).to_be_hidden()
    # The same plots from the {bed, since, until, series: {code: {unit, points}}} shape.
    fake.trends_shape = "series"
    page.click(".tile[data-bed='ICU-2']")
    detail.locator(".d-zoom button[data-zoom='6h']").click()
    expect(detail.locator(".chart[data-points='0']")).to_have_count(2)  # no pump data at ICU-2
    expect(detail.locator(".chart-holder[data-code='MDC_PRESS_BLD_NONINV_MEAN']")).to_have_count(1)
    expect(detail.locator(".chart-markers li[data-kind='infusion']")).to_have_count(16)
    detail.locator(".d-close").click()
    page.click(".tile[data-bed='ICU-5']")
    expect(detail.locator(".d-study")).to_have_text("no patient")
    expect(detail.locator("a.d-report")).to_be_hidden()


def test_mute_pauses_repeats_but_a_new_high_alert_sounds(page: Page, fake: FakeStation) -> None:
    login(page, fake)
    record_sounds(page)
    a = fake.raise_alert("ICU-4", "hypoxemia", "high", "SpO2 84 %")
    wait_until(lambda: len(page.evaluate("window.__sounds")) == 1)
    page.click("#mute")
    expect(page.locator("#mute")).to_have_text(re.compile(r"^Muted [12]:\d\d — unmute$"))
    b = fake.raise_alert("ICU-6", "cardiac_arrest", "high", "Cardiac arrest entered", iae=True)
    wait_until(lambda: len(page.evaluate("window.__sounds")) == 2)
    assert page.evaluate("window.__sounds[1]")["ids"] == [b["id"]]
    expect(page.locator("#mute")).to_have_text("Mute 2 min")  # the new alarm ended the mute
    assert a["id"] != b["id"]


def test_screenshot_script_writes_a_png(browser: Browser, tmp_path: Path) -> None:
    import make_screenshot

    out = tmp_path / "station.png"
    make_screenshot.capture(browser, out)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000


def test_heartbeat_seq_gap_makes_the_page_fetch_what_it_missed(
    page: Page, fake: FakeStation
) -> None:
    login(page, fake)
    seen = fake.raise_alert("ICU-2", "fever", "low", "38.2 °C")
    expect(row(page, seen["id"])).to_have_count(1)
    connects = len(fake.ws_connects)
    lost = fake.raise_alert("ICU-3", "tachycardia", "medium", "HR 131/min", broadcast=False)
    # Two heartbeats (1 s apart in the fake) announce a seq the page never got: it resumes.
    expect(row(page, lost["id"])).to_have_count(1, timeout=8000)
    assert fake.ws_connects[connects:] == [
        {"token": "tok-nurse1-1", "last_seq": str(seen["seq"]), "numerics": "batch"}
    ]
    expect(page.locator("#outage")).to_be_hidden()
