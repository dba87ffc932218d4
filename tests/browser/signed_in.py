"""Browser contexts signed in to a page of the real service (tests/browser/real_service.py).

A page error, or a console error the test did not declare expected, is collected in `errors`;
the test module's fixture closes the contexts before the service stops and fails the test on
any error."""

from __future__ import annotations

from collections.abc import Mapping

from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect
from real_service import USERS, RealStation

WAIT = 10_000  # ms: generous for a loaded machine; every wait returns as soon as it holds


class SignedInPages:
    """Opens `path` in a new context per user and signs in there with the user's password.
    Subclasses wait in `ready` for what their page shows once it has loaded."""

    def __init__(
        self,
        browser: Browser,
        station: RealStation,
        *,
        path: str = "/",
        accounts: Mapping[str, tuple[str, str]] = USERS,
        viewport: ViewportSize | None = None,
        expected_console: tuple[str, ...] = (),
    ) -> None:
        self.browser = browser
        self.station = station
        self.path = path
        self.accounts = accounts
        self.viewport = viewport or {"width": 1280, "height": 800}
        self.expected_console = expected_console
        self.contexts: list[BrowserContext] = []
        self.errors: list[str] = []

    def logged_in(self, user: str) -> Page:
        password, role = self.accounts[user]
        context = self.browser.new_context(viewport=self.viewport)
        self.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(WAIT)
        page.on("pageerror", lambda exc: self.errors.append(f"{user}: {exc}"))
        page.on("console", lambda msg: self._console(user, msg.type, msg.text))
        page.goto(self.station.url + self.path)
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", password)
        page.click("#login-form button[type=submit]")
        expect(page.locator("#user")).to_have_text(f"{user} ({role})")
        self.ready(page)
        return page

    def ready(self, page: Page) -> None:
        """Wait for what the page shows once loaded (nothing more by default)."""

    def _console(self, user: str, kind: str, text: str) -> None:
        if kind == "error" and not any(e in text for e in self.expected_console):
            self.errors.append(f"{user}: {text}")

    def close(self) -> None:
        for context in self.contexts:
            context.close()
