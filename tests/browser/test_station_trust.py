"""The station a nurse can trust (issue 14), in Debian's chromium against the REAL service:
alarm sounds per priority (the WebAudio calls observed), order, incidents, history across a
reload, the full-screen alarm when the page cannot receive alerts, and the zh-CN page.

Alerts are committed through the running service's alert desk (store, then hub, then the
page), or raised by the simulated pump; the page is checked with explicit waits only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect
from real_service import BED, USERS, RealStation, running_real_station

from core.model import Alert, AlertState, Category, Phase, Priority

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("no_leaked_threads")]

WAIT = 10_000
HR = "MDC_ECG_HEART_RATE"
MAP = "MDC_PRESS_BLD_ART_MEAN"
MEDIUM_HZ = 523  # sound.js PATTERNS.medium.hz
HIGH_HZ = 660

# Records every oscillator the page starts: its frequency and start time (the audio calls).
AUDIO_SPY = """
window.__tones = [];
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (when) {
  window.__tones.push({ hz: this.frequency.value, when: when ?? 0 });
  return start.apply(this, arguments);
};
window.__bursts = [];
addEventListener("iaewatch:alarm-sound", (e) => window.__bursts.push(e.detail));
"""


@pytest.fixture
def station(tmp_path: Path) -> Iterator[RealStation]:
    with running_real_station(tmp_path) as s:
        yield s


class Session:
    """One browser context logged in as the nurse; page errors fail the test."""

    def __init__(self, browser: Browser, station: RealStation) -> None:
        self.station = station
        self.context: BrowserContext = browser.new_context(viewport={"width": 1400, "height": 900})
        self.context.add_init_script(AUDIO_SPY)
        self.page = self.context.new_page()
        self.page.set_default_timeout(WAIT)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on(
            "console",
            lambda m: (
                self.errors.append(m.text) if m.type == "error" and not _expected(m.text) else None
            ),
        )

    def login(self, user: str = "nurse1") -> Page:
        page = self.page
        page.goto(self.station.url + "/")
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", USERS[user][0])
        page.click("#login-form button[type=submit]")
        expect(page.locator(".tile")).to_have_count(1)
        expect(page.locator("#link")).to_have_text("live")
        return page


def _expected(text: str) -> bool:
    # what a stopped server makes the browser log on purpose
    return "WebSocket connection to" in text or "ERR_CONNECTION_REFUSED" in text


@pytest.fixture
def nurse(browser: Browser, station: RealStation) -> Iterator[Session]:
    s = Session(browser, station)
    yield s
    s.context.close()
    assert not s.errors, f"errors in the page: {s.errors}"


def commit(station: RealStation, alert: Alert) -> Alert:
    """Commit an alert transition through the service's alert desk (store, then push)."""

    async def go() -> Alert:
        return await station.ctx.alerts.commit(alert)

    return station.call(go)


def alert(n: str, category: Category, priority: Priority, onset: datetime, **kw: Any) -> Alert:
    fields: dict[str, Any] = {
        "id": n,
        "bed": BED,
        "category": category,
        "rule": category.value,
        "priority": priority,
        "phase": Phase.START,
        "state": AlertState.ACTIVE,
        "onset": onset,
        "t": onset,
        "message": f"{category.value} on {BED}",
        "evidence": {},
    }
    fields.update(kw)
    return Alert(**fields)


def row(page: Page, alert_id: str) -> Locator:
    return page.locator(f"#alert-list li.alert[data-alert-id='{alert_id}']")


def wait_js(page: Page, expression: str, timeout_ms: int = WAIT) -> None:
    """Poll a page expression until it is truthy (wait_for_function would need 'unsafe-eval',
    which the page's CSP rightly refuses)."""
    for _ in range(timeout_ms // 100):
        if page.evaluate(expression):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"not true within {timeout_ms} ms: {expression}")


def tones(page: Page, hz: float) -> int:
    return int(page.evaluate(f"window.__tones.filter(t => Math.round(t.hz) === {hz}).length"))


def test_a_medium_alert_plays_its_pattern_and_repeats_until_acknowledged(
    station: RealStation, nurse: Session
) -> None:
    page = nurse.login()
    assert page.evaluate("window.iaewatch.sound.audible"), "the login click enabled audio"
    expect(page.locator("#audio-blocked")).to_be_hidden()
    station.run(lambda: station.pump.start(rate_ml_h=150.0))
    expect(page.locator(".tile .inf-title")).to_have_text("Infusing")
    station.run(lambda: station.pump.raise_alarm("occlusion"))
    occlusion = page.locator("#alert-list li.alert.prio-medium").filter(
        has=page.locator(".a-msg", has_text="Study pump alarm")
    )
    expect(occlusion).to_have_count(1)
    oid = occlusion.get_attribute("data-alert-id")
    mine = f"window.__bursts.filter(b => b.ids.includes({oid!r}))"
    wait_js(page, f"{mine}.length >= 1")
    burst = page.evaluate(f"{mine}[0]")
    assert burst["priority"] == "medium" and burst["why"] == "new" and burst["audible"] is True
    # the medium pattern: pulses of a 523 Hz harmonic tone (5 oscillators each), 3 a burst
    medium_bursts = int(
        page.evaluate("window.__bursts.filter(b => b.priority === 'medium').length")
    )
    assert tones(page, MEDIUM_HZ) == 3 * medium_bursts == tones(page, 2 * MEDIUM_HZ)
    assert tones(page, HIGH_HZ) == 0
    # the tile tells the truth about the pump
    expect(page.locator(".tile .inf-title")).to_have_text("Stopped — occlusion")
    # unacknowledged, it repeats (every 15 s)
    wait_js(page, f"{mine}.some(b => b.why === 'repeat')", 25_000)
    # acknowledged (it and any other alert of the bed), silence
    buttons = page.locator("#alert-list button.ack")
    for left in range(buttons.count(), 0, -1):
        buttons.first.click()
        expect(buttons).to_have_count(left - 1)
    expect(occlusion.locator(".a-state")).to_contain_text("acknowledged by nurse1")
    heard = tones(page, MEDIUM_HZ)
    page.wait_for_timeout(16_000)  # longer than the repeat interval: silence now
    assert tones(page, MEDIUM_HZ) == heard


def test_order_incident_values_and_acknowledging_together(
    station: RealStation, nurse: Session
) -> None:
    page = nurse.login()
    now = datetime.now(UTC)
    # a HIGH alert, then a NEWER medium one on another subject: the high one sorts first
    commit(station, alert("vt", Category.ARRHYTHMIA, Priority.HIGH, now - timedelta(minutes=30)))
    commit(station, alert("fever", Category.FEVER, Priority.MEDIUM, now - timedelta(minutes=10)))
    expect(page.locator("#alert-list li.alert")).to_have_count(2)
    ids = page.locator("#alert-list li.alert").evaluate_all(
        "els => els.map(e => e.dataset.alertId)"
    )
    assert ids == ["vt", "fever"]

    # one event's cascade on one bed: VT → tachycardia → hypotension, one incident card
    t0 = now - timedelta(seconds=90)
    commit(station, alert("vt2", Category.ARRHYTHMIA, Priority.HIGH, t0, iae=True))
    commit(
        station,
        alert(
            "tachy",
            Category.TACHYCARDIA,
            Priority.MEDIUM,
            t0 + timedelta(seconds=20),
            evidence={"values": {HR: 186}, "baseline": {HR: 98}},
        ),
    )
    commit(
        station,
        alert(
            "hypo",
            Category.HYPOTENSION,
            Priority.MEDIUM,
            t0 + timedelta(seconds=50),
            evidence={"values": {MAP: 52}, "baseline": {MAP: 78}},
        ),
    )
    card = page.locator("#alert-list li.incident").filter(
        has=page.locator("li.alert[data-alert-id='tachy']")
    )
    expect(card).to_have_count(1)
    expect(card.locator("li.alert")).to_have_count(3)
    expect(card.locator("li.alert")).to_have_text(
        [re.compile("Arrhythmia"), re.compile("Tachycardia"), re.compile("Hypotension")]
    )
    expect(row(page, "tachy").locator(".a-values")).to_have_text("HR 186 /min (baseline 98, +88)")
    expect(row(page, "hypo").locator(".a-values")).to_have_text("MAP 52 mmHg (baseline 78, −26)")
    expect(card).to_have_attribute("data-members", "3")
    expect(card.locator("button.ack-all")).to_have_text("Acknowledge all 3")
    card.locator("button.ack-all").click()
    expect(card.locator("button.ack")).to_have_count(0)
    for a in ("vt2", "tachy", "hypo"):
        expect(row(page, a).locator(".a-state")).to_contain_text("acknowledged by nurse1")
        stored = station.stored_alert(a)
        assert stored is not None and stored.acked_by == "nurse1"
    # each member stays visible (still active, acknowledged); the incident sorts below the
    # unacknowledged alerts now
    expect(card.locator("li.alert")).to_have_count(3)
    order = page.locator("#alert-list > li").evaluate_all(
        "els => els.map(e => e.dataset.alertId ?? e.dataset.incident)"
    )
    assert order == ["vt", "fever", "vt2"]


def test_escalation_is_visible_and_sounds_again(station: RealStation, nurse: Session) -> None:
    page = nurse.login()
    now = datetime.now(UTC)
    commit(station, alert("vp", Category.VASOPRESSOR_ESCALATION, Priority.MEDIUM, now))
    wait_js(page, "window.__bursts.length >= 1")
    commit(
        station,
        alert(
            "vp",
            Category.VASOPRESSOR_ESCALATION,
            Priority.HIGH,
            now,
            phase=Phase.ESCALATE,
            t=now + timedelta(seconds=5),
        ),
    )
    expect(row(page, "vp").locator(".esc-badge")).to_have_text("ESCALATED")
    expect(row(page, "vp")).to_have_class(re.compile(r"\bescalated\b"))
    wait_js(page, "window.__bursts.some(b => b.priority === 'high' && b.why === 'new')")
    assert tones(page, HIGH_HZ) >= 10


def test_history_from_the_server_survives_a_reload(station: RealStation, nurse: Session) -> None:
    page = nurse.login()
    now = datetime.now(UTC)
    commit(station, alert("closed", Category.FEVER, Priority.LOW, now - timedelta(hours=2)))
    row(page, "closed").locator("button.ack").click()
    expect(row(page, "closed").locator(".a-state")).to_contain_text("acknowledged by nurse1")
    commit(
        station,
        alert(
            "closed",
            Category.FEVER,
            Priority.LOW,
            now - timedelta(hours=2),
            phase=Phase.END,
            state=AlertState.RESOLVED,
            t=now,
            ended_at=now,
            acked_by="nurse1",
            acked_at=now,
        ),
    )
    expect(row(page, "closed")).to_have_count(0)  # off the active list

    page.reload()
    # station mode survives the reload; a browser that blocks audio gets the warning
    if page.locator("#audio-blocked").is_visible():
        page.click("#audio-blocked")
    expect(page.locator("#audio-blocked")).to_be_hidden()
    expect(page.locator("#link")).to_have_text("live")
    expect(page.locator("#login")).to_be_hidden()
    page.check("#history-toggle")
    closed = row(page, "closed")
    expect(closed).to_have_count(1)
    expect(closed.locator(".a-state")).to_have_text(
        re.compile(r"^Resolved at \d\d:\d\d:\d\d — acknowledged by nurse1 at \d\d:\d\d:\d\d$")
    )
    # times are the site's (Asia/Shanghai), whatever this machine's zone
    local = (now.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))).strftime("%H:%M")
    expect(closed.locator(".a-state")).to_contain_text(local)
    expect(page.locator("#site")).to_contain_text("Asia/Shanghai")


def test_stopped_server_brings_up_the_full_screen_alarm(
    station: RealStation, nurse: Session
) -> None:
    page = nurse.login()
    expect(page.locator("#outage")).to_be_hidden()
    station.stop_server()
    outage = page.locator("#outage")
    expect(outage).to_be_visible()
    expect(outage).to_contain_text("NOT RECEIVING ALERTS")
    expect(page.locator("#outage-reason")).to_contain_text("Connection to the server lost")
    box = outage.bounding_box()
    assert box is not None and box["width"] >= 1400 and box["height"] >= 900  # the whole screen
    wait_js(page, "window.__bursts.some(b => b.why === 'outage')")
    assert tones(page, HIGH_HZ) >= 10
    expect(page.locator("#login")).to_be_hidden()  # never a quiet login form


def test_expired_session_brings_up_the_full_screen_alarm(browser: Browser, tmp_path: Path) -> None:
    with running_real_station(tmp_path, token_ttl_s=6) as station:
        s = Session(browser, station)
        try:
            page = s.login()
            # on duty, the page refreshes its token with no login: alive past the 6 s lifetime
            page.wait_for_timeout(8_000)
            expect(page.locator("#outage")).to_be_hidden()
            # the refresh now fails (the server is unreachable for it): the token runs out
            page.route("**/api/auth/refresh", lambda route: route.abort())
            outage = page.locator("#outage")
            expect(outage).to_be_visible(timeout=15_000)
            expect(page.locator("#outage-reason")).to_contain_text("Session expired")
            expect(outage.locator("#login-form")).to_be_visible()  # log in again, inside the alarm
            wait_js(page, "window.__bursts.some(b => b.why === 'outage')")
            page.fill("#outage input[name=username]", "nurse1")
            page.fill("#outage input[name=password]", USERS["nurse1"][0])
            page.unroute("**/api/auth/refresh")
            page.click("#outage button[type=submit]")
            expect(outage).to_be_hidden()
            expect(page.locator("#link")).to_have_text("live")
        finally:
            s.context.close()
        assert not [e for e in s.errors if "ERR_FAILED" not in e], s.errors


def test_zh_cn_page_renders_with_no_missing_string(station: RealStation, nurse: Session) -> None:
    page = nurse.login()
    commit(
        station,
        alert(
            "t1",
            Category.TACHYCARDIA,
            Priority.MEDIUM,
            datetime.now(UTC),
            evidence={"values": {HR: 186}, "baseline": {HR: 98}},
        ),
    )
    page.select_option("#lang", "zh-CN")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator(".alerts-head h2")).to_have_text("报警")
    expect(row(page, "t1").locator(".a-cat")).to_have_text("心动过速")
    expect(row(page, "t1").locator(".a-values")).to_have_text("心率 186 /min（基线 98，+88）")
    expect(page.locator(".tile .vital[data-vital='hr'] .v-name")).to_have_text("心率")
    page.click(".tile")
    expect(page.locator("#detail .d-zoom button")).to_have_text(
        ["30 分钟", "2 小时", "6 小时", "24 小时"]
    )
    page.click("#detail .d-close")
    page.check("#history-toggle")
    assert page.evaluate("[...window.iaewatch.missing]") == []
    # the choice is this user's: it survives a reload
    page.reload()
    if page.locator("#audio-blocked").is_visible():
        page.click("#audio-blocked")
    expect(page.locator(".alerts-head h2")).to_have_text("报警")
    assert page.evaluate("[...window.iaewatch.missing]") == []


# Chrome's autoplay policy as a page sees it when it is strict: an AudioContext stays
# "suspended" until resumed within a real (trusted) click or key press. Playwright's chromium
# is lenient, and its own evaluations count as user activation, hence this stand-in.
STRICT_AUTOPLAY = """
let gestureAt = 0;
for (const kind of ["pointerdown", "keydown"]) {
  addEventListener(kind, (e) => { if (e.isTrusted) gestureAt = Date.now(); }, true);
}
const Real = window.AudioContext;
window.AudioContext = class extends Real {
  get state() { return this.allowed ? super.state : "suspended"; }
  resume() {
    if (Date.now() - gestureAt < 1000) this.allowed = true;
    return super.resume();
  }
};
"""


def test_reload_keeps_station_mode_and_blocked_audio_is_a_full_screen_warning(
    station: RealStation, nurse: Session
) -> None:
    nurse.context.add_init_script(STRICT_AUTOPLAY)
    page = nurse.login()
    assert page.evaluate("window.iaewatch.sound.audible")  # the login click enabled it
    page.reload()
    warning = page.locator("#audio-blocked")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("ALARM SOUND IS BLOCKED")
    box = warning.bounding_box()
    assert box is not None and box["width"] >= 1400 and box["height"] >= 900
    expect(page.locator("#login")).to_be_hidden()  # still the station: no new login
    expect(page.locator("#link")).to_have_text("live")
    page.wait_for_timeout(2500)  # the page keeps trying; the policy keeps refusing
    expect(warning).to_be_visible()
    warning.click()
    expect(warning).to_be_hidden()
    assert page.evaluate("window.iaewatch.sound.audible")


def test_zh_cn_alert_text_comes_from_the_catalogue_not_the_english_message(
    station: RealStation, nurse: Session
) -> None:
    """The server's `message` is English; the page writes the alert from its rule and evidence
    (rhythm VT, a tachycardia), and only a rule it does not know keeps the server's text."""
    page = nurse.login()
    now = datetime.now(UTC)
    commit(
        station,
        alert(
            "vt",
            Category.ARRHYTHMIA,
            Priority.HIGH,
            now,
            message="New sustained VT, VF or asystole, or an arrhythmia needing cardioversion: VT",
            evidence={"event": "arrhythmia", "fields": {"rhythm": "VT"}},
            iae=True,
        ),
    )
    commit(
        station,
        alert(
            "tachy",
            Category.TACHYCARDIA,
            Priority.MEDIUM,
            now,
            message="Heart rate ≥ 131 /min, or ≥ 111 /min and 30 /min over baseline",
            evidence={"values": {HR: 186}, "baseline": {HR: 98}},
        ),
    )
    commit(
        station,
        alert("odd", Category.TECHNICAL, Priority.LOW, now, rule="a_rule_of_tomorrow"),
    )
    expect(row(page, "vt").locator(".a-msg")).to_have_text(
        "New sustained VT, VF or asystole, or an arrhythmia needing cardioversion: VT"
    )
    page.select_option("#lang", "zh-CN")
    expect(row(page, "vt").locator(".a-msg")).to_have_text(
        "新发持续性室速、室颤或心脏停搏，或需电复律的心律失常: 室速"
    )
    expect(row(page, "tachy").locator(".a-msg")).to_have_text(
        "心率 ≥ 131 次/分，或 ≥ 111 次/分且高于基线 30 次/分"
    )
    expect(row(page, "odd").locator(".a-msg")).to_have_text(f"technical on {BED}")
    expect(page.locator(".tile .tile-alarm")).to_contain_text("室速")
    assert page.evaluate("[...window.iaewatch.missing]") == []


def test_an_earlier_window_of_history_loads_on_request(
    station: RealStation, nurse: Session
) -> None:
    """An alert of the 24 h before the current window is not loaded at start; the bed detail
    asks the server for that window, and says which window it loaded in the site's zone."""
    now = datetime.now(UTC)
    old = now - timedelta(hours=30)
    commit(station, alert("old", Category.FEVER, Priority.LOW, old))
    commit(
        station,
        alert(
            "old",
            Category.FEVER,
            Priority.LOW,
            old,
            phase=Phase.END,
            state=AlertState.RESOLVED,
            t=old + timedelta(minutes=20),
            ended_at=old + timedelta(minutes=20),
            acked_by="nurse1",
            acked_at=old + timedelta(minutes=5),
        ),
    )
    page = nurse.login()
    page.click(".tile")
    detail = page.locator("#detail")
    earlier = detail.locator(".d-alerts li[data-alert-id='old']")
    expect(earlier).to_have_count(0)
    detail.locator("button.d-earlier").click()
    expect(earlier).to_have_count(1)
    expect(earlier.locator(".a-state")).to_contain_text("acknowledged by nurse1")
    window_from = (now - timedelta(hours=48)).astimezone(ZoneInfo("Asia/Shanghai"))
    expect(detail).to_contain_text(window_from.strftime("window starting %Y-%m-%d %H:"))
