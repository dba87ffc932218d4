"""Offline: the OpenAPI pages and every asset the station page loads come from the service
itself (no CDN, no Google fonts)."""

from __future__ import annotations

import re

import httpx

from app.station import STATION_DIR

EXTERNAL = re.compile(r"""(?:src|href)=["']?(?:https?:)?//""")


async def test_docs_pages_load_only_local_assets(client: httpx.AsyncClient) -> None:
    for page in ("/docs", "/redoc"):
        r = await client.get(page)
        assert r.status_code == 200, page
        assert not EXTERNAL.search(r.text), f"{page} loads something from elsewhere"
        assets = re.findall(r"""["'](/station/vendor/docs/[^"']+)["']""", r.text)
        assert assets, page
        for asset in assets:
            got = await client.get(asset)
            assert got.status_code == 200 and len(got.content) > 500, asset
    assert (await client.get("/openapi.json")).json()["info"]["title"] == "iaewatch"


async def test_station_page_loads_only_local_assets(client: httpx.AsyncClient) -> None:
    html = (STATION_DIR / "index.html").read_text(encoding="utf-8")
    assert not EXTERNAL.search(html)
    for path in re.findall(r"""(?:src|href)="(/station/[^"]+)\"""", html):
        assert (await client.get(path)).status_code == 200, path
    for module in STATION_DIR.glob("*.js"):
        for imported in re.findall(r"""from\s+"(\./[^"]+)\"""", module.read_text(encoding="utf-8")):
            assert (STATION_DIR / imported).is_file(), f"{module.name} imports {imported}"
