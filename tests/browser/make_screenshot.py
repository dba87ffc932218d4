"""Screenshot of the station (fake server, six beds, one high-priority alert) → a PNG path.

Run from the repository root: `.venv/bin/python tests/browser/make_screenshot.py [OUT.png]`.
Uses the fake server of `fake_station.py` and Debian's chromium.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from fake_station import running_fake

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def capture(browser: Any, out: Path) -> None:
    """Log in to a fake station, raise a few alerts, and save a 1600×1000 screenshot."""
    with running_fake() as fake:
        context = browser.new_context(viewport={"width": 1600, "height": 1000})
        try:
            page = context.new_page()
            page.goto(fake.url + "/")
            page.fill("input[name=username]", "nurse1")
            page.fill("input[name=password]", "night-shift")
            page.click("#login-form button[type=submit]")
            page.wait_for_selector(".tile[data-bed='ICU-6']")
            old = fake.raise_alert("ICU-2", "fever", "low", "38.1 °C, baseline 37.0 °C")
            fake.ack_alert(old["id"], "nurse1")
            fake.raise_alert("ICU-5", "technical", "low", "Monitor mon-5: no frame for 20 s")
            fake.set_device_state("ICU-5", "mon-5", "disconnected", error="no frame for 20 s")
            fake.raise_alert(
                "ICU-1",
                "arrhythmia",
                "high",
                "Ventricular tachycardia, 14 beats at 182/min",
                iae=True,
            )
            page.wait_for_selector(".tile[data-bed='ICU-1'][data-alarm='high']")
            page.mouse.move(5, 5)  # no hover highlight on a tile
            time.sleep(0.3)
            out.parent.mkdir(parents=True, exist_ok=True)
            # Animations off: flashing alarms are captured in their "on" colours.
            page.screenshot(path=str(out), animations="disabled")
        finally:
            context.close()


def main() -> None:
    from playwright.sync_api import sync_playwright

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "station-fake.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            capture(browser, out)
        finally:
            browser.close()
    print(out)


if __name__ == "__main__":
    main()
