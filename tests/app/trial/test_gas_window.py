"""The qualifying gas window (P/F and PEEP ≥ 8 within 6 h of the infusion start) is a site
setting: `site.qualifying_gas_max_h` in the ICU file, checked by `iaewatch config check`
with a one-line error naming file, line and field, and used by the eligibility checklist."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.config import SiteConfig, load_config
from app.context import AppContext
from app.store.rows import Role
from core.errors import ConfigError

from .conftest import SID, confirm_enrolment, headers
from .test_kpa_and_consent import _item, _ready

ICU = """\
site:
  name: Guangzhou ICU
  timezone: Asia/Shanghai
  qualifying_gas_max_h: {hours}
beds:
  - bed: ICU-1
    devices:
      - id: pump
        kind: pump
        protocol: modbus-tcp
        address: 127.0.0.1:5020
      - id: mon
        kind: monitor
        protocol: intellivue
        address: socket://127.0.0.1:24105
"""


def _write(tmp_path: Path, hours: str) -> Path:
    f = tmp_path / "icu.yaml"
    f.write_text(ICU.format(hours=hours), encoding="utf-8")
    return f


def test_the_window_is_read_from_the_site() -> None:
    assert SiteConfig().qualifying_gas_max_h == 6.0  # the protocol's 6 h when not set


def test_a_site_sets_its_window(tmp_path: Path) -> None:
    assert load_config(_write(tmp_path, "8")).site.qualifying_gas_max_h == 8.0
    assert load_config(_write(tmp_path, "1.5")).site.qualifying_gas_max_h == 1.5


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ("48", "must be ≤ 24, got 48"),
        ("0", "must be ≥ 1, got 0"),
        ("six", "must be a number, got"),
        ("true", "must be a number, got"),
    ],
)
def test_a_bad_window_names_file_line_and_field(tmp_path: Path, hours: str, message: str) -> None:
    f = _write(tmp_path, hours)
    with pytest.raises(ConfigError) as info:
        load_config(f)
    assert info.value.field == "site.qualifying_gas_max_h"
    assert info.value.line == 4
    assert message in info.value.message


def test_config_check_refuses_a_bad_window(tmp_path: Path) -> None:
    f = _write(tmp_path, "48")
    cli = [sys.executable, "-c", "from app.cli import main; main()", "config", "check", str(f)]
    res = subprocess.run(cli, capture_output=True, text=True, check=False)
    assert res.returncode == 2
    assert res.stderr.strip() == f"error: {f}:4: site.qualifying_gas_max_h: must be ≤ 24, got 48"


async def test_the_checklist_uses_the_sites_window(
    app: FastAPI, client: httpx.AsyncClient, ctx: AppContext
) -> None:
    await _ready(ctx, client, fio2=60)
    await confirm_enrolment(ctx.store)
    coord = headers(ctx, "chen", Role.COORDINATOR)
    for t in ("2026-02-28T22:00:00Z", "2026-03-01T00:00:00Z"):  # the newest is 8 h old
        r = await client.post(
            f"/api/patients/{SID}/blood-gases",
            json={"unit": "kPa", "pao2": 9.0, "t": t},
            headers=coord,
        )
        assert r.status_code == 201, r.text
    url = f"/api/patients/{SID}/eligibility"
    pf = _item((await client.get(url, headers=coord)).json(), "pf_below_200")
    assert pf["status"] == "unknown" and "more than 6 h old" in str(pf["detail"])  # default
    app.state.site = SiteConfig(name="Guangzhou ICU", qualifying_gas_max_h=12)
    check = (await client.get(url, headers=coord)).json()
    pf = _item(check, "pf_below_200")
    assert pf["status"] == "met" and "within 12 h" in str(pf["label"])
    assert _item(check, "peep_at_least_8")["status"] == "met"
    report = await client.get(f"/api/patients/{SID}/report?format=json", headers=coord)
    assert report.status_code == 200, report.text
    items = {i["id"]: i for i in report.json()["eligibility"]["items"]}
    assert items["pf_below_200"]["status"] == "met"  # the report judges by the site's window too
