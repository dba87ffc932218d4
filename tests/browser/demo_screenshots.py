"""Screenshots of the REAL demo for the README: docs/station.png (en) and docs/station-zh.png.

Start the demo, wait until its events have happened (≈ 12 min), then run from the repository
root:  .venv/bin/python tests/browser/demo_screenshots.py [http://127.0.0.1:8000]
Debian's chromium, the demo's nurse login; nothing is faked.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


def capture(url: str, docs: Path = ROOT / "docs") -> list[Path]:
    """Log in as the demo nurse, then save the station in English and in Chinese."""
    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1600, "height": 1000})
            page = context.new_page()
            page.goto(url + "/")
            page.fill("input[name=username]", "nurse")
            page.fill("input[name=password]", "nurse-demo")
            page.click("#login-form button[type=submit]")
            page.wait_for_selector("#link.up")
            page.wait_for_timeout(3000)  # numerics and sparklines fill in
            for lang, name in (("en", "station.png"), ("zh-CN", "station-zh.png")):
                page.select_option("#lang", lang)
                page.wait_for_timeout(1500)
                missing = page.evaluate("[...window.iaewatch.missing]")
                if missing:
                    raise SystemExit(f"{lang}: strings missing from the catalogue: {missing}")
                path = docs / name
                path.write_bytes(page.screenshot(animations="disabled"))
                out.append(path)
            page.select_option("#lang", "en")
        finally:
            browser.close()
    return out


if __name__ == "__main__":
    for written in capture(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"):
        print(written)
