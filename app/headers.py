"""Security headers on every HTTP response (a pure ASGI middleware).

The station page loads only its own files, so its policy allows `'self'` and nothing else;
`frame-ancestors 'none'` (and `X-Frame-Options: DENY` for old browsers) keeps the page, with
its Acknowledge button, out of anybody's frame. The OpenAPI pages (`/docs`, `/redoc`) keep
their own script setup, so they get only the frame and sniffing headers; the HTML report
carries its styles inline and runs no script (`REPORT_CSP`).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
DOCS_CSP = "frame-ancestors 'none'"
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
    "frame-ancestors 'none'"
)
_DOCS = ("/docs", "/redoc")
_COMMON = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


class SecurityHeaders:
    """Adds CSP, frame, sniffing and referrer headers to each HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if path.startswith(_DOCS):
            csp = DOCS_CSP
        elif path.endswith("/report"):  # the HTML report: its own inline styles, no script
            csp = REPORT_CSP
        else:
            csp = PAGE_CSP
        extra = [*_COMMON, (b"content-security-policy", csp.encode())]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                headers = list(message.get("headers", []))
                headers.extend(h for h in extra if h[0] not in names)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
