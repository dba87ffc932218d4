"""Fixtures for the station page's real-browser tests: Debian's chromium driven by Playwright
against the fake server of `fake_station.py` (the real server is written in parallel)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, ViewportSize

sys.path.insert(
    0, str(Path(__file__).parent)
)  # import-mode=importlib: make fake_station importable

from fake_station import FakeStation, running_fake

CHROMIUM = Path("/usr/bin/chromium")
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
VIEWPORT: ViewportSize = {"width": 1600, "height": 1000}


# Console errors the browser itself logs for things the tests provoke on purpose.
EXPECTED_CONSOLE = ("WebSocket connection to", "status of 401")


def _unexpected(msg: ConsoleMessage) -> bool:
    return msg.type == "error" and not any(e in msg.text for e in EXPECTED_CONSOLE)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Module-scoped: Playwright's sync API marks this thread's event loop as running for as
    long as it lives, so it must be gone before tests that run their own asyncio loop."""
    if not CHROMIUM.exists():
        pytest.skip(
            "Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(autouse=True)
def no_leaked_tasks() -> Iterator[None]:
    """Replaces the suite's asyncio task guard for these synchronous tests.

    Playwright's sync API keeps its own event loop marked as running in this thread, which the
    async guard cannot share; nothing here runs on a test event loop. What these tests could
    leak is the fake server's thread, so that is what this guard checks.
    """
    before = set(threading.enumerate())
    yield
    leaked = [t for t in set(threading.enumerate()) - before if t.name == "fake-station"]
    assert not leaked, f"test leaked the fake server thread(s): {leaked}"


@pytest.fixture
def no_leaked_threads() -> Iterator[None]:
    """For the real-service tests: the service runs in its own thread; it, and any thread it
    started (aiosqlite's connection workers), must be gone after every test. A thread may need
    a moment to exit after its connection closed, hence the short join."""
    before = set(threading.enumerate())
    yield
    new = set(threading.enumerate()) - before
    for t in new:
        t.join(2.0)
    leaked = sorted(t.name for t in new if t.is_alive())
    assert not leaked, f"test leaked thread(s): {leaked} (the service runs as 'real-station')"


@pytest.fixture
def fake() -> Iterator[FakeStation]:
    with running_fake() as f:
        yield f


@pytest.fixture
def page(browser: Browser, fake: FakeStation) -> Iterator[Page]:
    """A fresh browser context on the fake station; fails the test on any page error."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if _unexpected(msg) else None)
    page.set_default_timeout(10_000)
    yield page
    context.close()
    assert not errors, f"errors in the page: {errors}"
