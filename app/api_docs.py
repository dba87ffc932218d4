"""`/docs` (Swagger UI) and `/redoc` (ReDoc) from the service's own files: their assets are
vendored in `app/station/vendor/docs/` (see its README), so the pages work with no internet
(FastAPI's defaults load them from a CDN, and ReDoc's fonts from Google)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

ASSETS = "/station/vendor/docs"


def mount_docs(app: FastAPI) -> None:
    """Serve the two OpenAPI pages with local assets (create the app with `docs_url=None,
    redoc_url=None` so FastAPI's CDN versions are not registered too)."""
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} — API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} — API",
            redoc_js_url=f"{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS}/favicon-32x32.png",
            with_google_fonts=False,
        )
