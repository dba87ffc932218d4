"""`iaewatch import clif|wfdb`: real recordings → replay JSON Lines, end to end through
`iaewatch replay`; bad input is one line naming file, row and field, exit 2, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import wfdb
from clif_tables import TABLES, write_clif
from typer.testing import CliRunner

from app.cli import _register_commands, cli
from core.records import parse_record

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    _register_commands()
    return CliRunner()


def _iaewatch(*args: str) -> subprocess.CompletedProcess[str]:
    code = "from app.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )


def test_clif_folder_to_files_that_replay(runner: CliRunner, tmp_path: Path) -> None:
    src, out = write_clif(tmp_path / "clif"), tmp_path / "out"
    args = ["import", "clif", str(src), "-o", str(out), "--anchor", "imv", "--offset", "2h"]
    res = runner.invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert "1 ICU stay(s)" in res.stderr and "0 skipped" in res.stderr
    (f,) = out.iterdir()
    assert f.name == "CLIF-H1.jsonl"
    recs = [parse_record(x) for x in f.read_text().splitlines()]
    start = next(r for r in recs if getattr(r, "event", None) == "infusion_start")
    source_t = datetime(2150, 1, 1, 12, tzinfo=UTC)  # intubated at 10:00, + 2 h
    # the source's de-identified 2150 is moved by whole weeks into this century
    assert "note: de-identified dates moved by whole weeks" in res.stderr
    assert 2000 <= start.t.year < 2100 and (source_t - start.t) % timedelta(weeks=1) == timedelta(0)
    assert (start.t.time(), start.t.weekday()) == (source_t.time(), source_t.weekday())
    res = runner.invoke(cli, ["replay", "--summary", "--json", str(f)])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    assert s["beds"] == 1
    # records from the first in the ICU (09:00) to the death (30 h); infusion at 12 h
    assert s["patient_hours"]["inside"] + s["patient_hours"]["outside"] == pytest.approx(21)
    assert s["patient_hours"]["inside"] == pytest.approx(18)


def test_clif_anchor_beyond_the_stay_is_skipped(runner: CliRunner, tmp_path: Path) -> None:
    src, out = write_clif(tmp_path / "clif"), tmp_path / "out"
    res = runner.invoke(cli, ["import", "clif", str(src), "-o", str(out), "--offset", "3d"])
    assert res.exit_code == 0, res.output
    assert "0 ICU stay(s)" in res.stderr and "1 skipped" in res.stderr
    assert list(out.iterdir()) == []


def test_clif_demo_one_stay(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    res = runner.invoke(
        cli, ["import", "clif", "--demo", "-o", str(out), "--stay", "20044587", "--after", "6h"]
    )
    assert res.exit_code == 0, res.output
    (f,) = out.iterdir()
    recs = [parse_record(x) for x in f.read_text().splitlines()]
    assert {r.bed for r in recs} == {"CLIF-20044587"}
    assert [r.t for r in recs] == sorted(r.t for r in recs)


def test_bad_clif_input_is_one_line_without_traceback(tmp_path: Path) -> None:
    rows = [dict(r) for r in TABLES["adt"]]
    rows[1]["in_dttm"] = None
    src = write_clif(tmp_path / "clif", adt=rows)
    res = _iaewatch("import", "clif", str(src), "-o", str(tmp_path / "o"))
    assert res.returncode == 2
    assert res.stderr == f"error: {src}/clif_adt.parquet: row 2: in_dttm: missing time\n"
    res = _iaewatch("import", "clif", str(tmp_path / "none"), "-o", str(tmp_path / "o"))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr == f"error: {tmp_path}/none: not a folder of CLIF tables\n"
    res = _iaewatch("import", "clif", str(src), "--anchor", "ecmo")
    assert res.returncode == 2 and res.stderr == "error: --anchor: 'ecmo' is not 'icu' or 'imv'\n"


def _record(folder: Path) -> Path:
    """Once-a-minute numerics for 3 h from 08:00 UTC, HR 12 in one minute (a lead-off)."""
    hr = np.full(180, 80.0)
    hr[130] = 12.0
    spo2 = np.full(180, 95.0)
    spo2[100] = np.nan
    wfdb.wrsamp(
        "icu7",
        fs=1 / 60,
        units=["bpm", "%", "mmHg"],
        sig_name=["HR", "SpO2", "CVP"],
        p_signal=np.stack([hr, spo2, np.full(180, 8.0)], axis=1),
        fmt=["16"] * 3,
        adc_gain=[10.0] * 3,
        baseline=[0] * 3,
        base_date=T0.date(),
        base_time=T0.time().replace(tzinfo=None),
        write_dir=str(folder),
    )
    return folder / "icu7"


def test_wfdb_record_to_stdout_with_an_infusion(runner: CliRunner, tmp_path: Path) -> None:
    rec = _record(tmp_path)
    res = runner.invoke(
        cli, ["import", "wfdb", str(rec), "--infusion-offset", "1h", "--weight", "70"]
    )
    assert res.exit_code == 0, res.output
    assert "left out: CVP" in res.stderr
    recs = [parse_record(x) for x in res.stdout.splitlines()]
    assert len(recs) == 180 + 179 + 2  # HR, SpO2 less its gap, infusion start and end
    assert {r.bed for r in recs} == {"icu7"}
    events = [(r.t, r.event) for r in recs if hasattr(r, "event")]
    assert events == [
        (datetime(2026, 3, 1, 9, 0, tzinfo=UTC), "infusion_start"),
        (datetime(2026, 3, 1, 9, 45, tzinfo=UTC), "infusion_end"),
    ]
    out = tmp_path / "icu7.jsonl"
    res = runner.invoke(cli, ["import", "wfdb", str(rec), "-o", str(out), "--bed", "ICU-7"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["replay", "--summary", "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["patient_hours"]["outside"] == pytest.approx(179 / 60)


def test_bad_wfdb_input_is_one_line_without_traceback(tmp_path: Path) -> None:
    res = _iaewatch("import", "wfdb", str(tmp_path / "nothing"))
    assert res.returncode == 2
    assert res.stderr == f"error: {tmp_path}/nothing.hea: missing: no WFDB header here\n"
    rec = _record(tmp_path)
    res = _iaewatch("import", "wfdb", str(rec), "--tz", "Mars/Olympus")
    assert res.returncode == 2 and res.stderr == "error: --tz: unknown time zone 'Mars/Olympus'\n"
    res = _iaewatch("import", "wfdb", str(rec), "--infusion-offset", "soon")
    assert res.returncode == 2 and "not a duration: 'soon'" in res.stderr
    assert "Traceback" not in res.stderr
