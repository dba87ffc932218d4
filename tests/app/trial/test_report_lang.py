"""GET /api/patients/{id}/report in a language and a time zone chosen per request: `lang` and
`tz`, by default the user's Accept-Language and the site's zone; 422 for either unknown."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from app.config import SiteConfig
from app.context import AppContext
from app.store.rows import Role

from .conftest import SID, headers


@pytest.mark.usefixtures("enrolled")
async def test_language_and_zone_per_request(
    client: httpx.AsyncClient, ctx: AppContext, app: FastAPI
) -> None:
    nurse = headers(ctx, "nina", Role.NURSE)
    url = f"/api/patients/{SID}/report"
    r = await client.get(url, headers=nurse)
    assert r.status_code == 200
    assert "Blood gases" in r.text and "Times in UTC." in r.text and '<html lang="en">' in r.text
    r = await client.get(url, params={"lang": "zh-CN", "tz": "Asia/Shanghai"}, headers=nurse)
    assert r.status_code == 200 and '<html lang="zh-CN">' in r.text
    assert "血气" in r.text and "Blood gases" not in r.text
    assert "CST (" in r.text and "时间为 Asia/Shanghai 当地时间，旁附 UTC。" in r.text
    # the user's preferred language when none is asked; the site's zone when none is given
    app.state.site = SiteConfig(name="Guangzhou ICU", timezone="Asia/Shanghai")
    zh = {**nurse, "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}
    r = await client.get(url, headers=zh)
    assert "血气" in r.text and "CST (" in r.text
    r = await client.get(url, params={"lang": "en"}, headers=zh)
    assert "Blood gases" in r.text
    # the audit chain head in the footer, as the exports give it
    rows, head = await ctx.store.audit_head()
    footer = (await client.get(url, headers=nurse)).text
    assert f"Audit log: {rows} rows, chain head {head}." in footer
    for bad in ({"lang": "fr"}, {"tz": "Mars/Olympus_Mons"}):
        r = await client.get(url, params=bad, headers=nurse)
        assert r.status_code == 422, bad
        assert str(next(iter(bad.values()))) in r.json()["detail"]
