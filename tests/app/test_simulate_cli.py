"""`iaewatch simulate ...` through typer's CliRunner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import app.cli
from core.errors import ConfigError
from core.model import DeviceEvent, Observation
from core.records import parse_record


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    app.cli._register_commands()
    return CliRunner()


def test_record_writes_a_parseable_stream(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "fever.jsonl"
    result = runner.invoke(
        app.cli.cli,
        ["simulate", "record", "fever", "--out", str(out), "--hours", "1", "--period", "30"],
    )
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert f"wrote {len(lines)} records (fever; beds ICU-1; 1 h)" in result.output
    recs = [parse_record(line, line=n) for n, line in enumerate(lines, 1)]
    assert recs[0].t.isoformat() == "2026-03-01T07:30:00+00:00"
    assert recs[-1].t.isoformat() == "2026-03-01T09:00:00+00:00"
    assert any(isinstance(r, DeviceEvent) and r.event == "infusion_start" for r in recs)
    temps = [r.value for r in recs if isinstance(r, Observation) and r.code == "MDC_TEMP_BLD"]
    assert temps and max(v for v in temps if v is not None) >= 38.0


def test_record_several_beds_from_a_file_with_a_start_time(
    runner: CliRunner, tmp_path: Path
) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: s\ntimeline:\n  - {at: 0, do: infusion_start}\n")
    out = tmp_path / "s.jsonl"
    result = runner.invoke(
        app.cli.cli,
        [
            "simulate", "record", str(scenario), "--out", str(out), "--beds", "3",
            "--hours", "0.1", "--period", "60", "--start", "2026-05-01T10:00:00+02:00",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    recs = [parse_record(line) for line in out.read_text().splitlines()]
    assert {r.bed for r in recs} == {"ICU-1", "ICU-2", "ICU-3"}
    starts = [r for r in recs if isinstance(r, DeviceEvent) and r.event == "infusion_start"]
    assert [s.t.isoformat() for s in starts] == ["2026-05-01T08:00:00+00:00"] * 3


def test_record_reports_a_bad_scenario_with_file_and_line(
    runner: CliRunner, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: b\ntimeline:\n  - {at: +1h, do: fever, to: 50}\n")
    result = runner.invoke(
        app.cli.cli, ["simulate", "record", str(bad), "--out", str(tmp_path / "o.jsonl")]
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigError)
    assert str(result.exception) == f"{bad}:3: timeline[0].to: must be ≤ 43, got 50"
    assert not (tmp_path / "o.jsonl").exists()


def test_record_refuses_a_start_without_zone(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(
        app.cli.cli,
        ["simulate", "record", "fever", "--out", str(tmp_path / "o"), "--start", "2026-05-01"],
    )
    assert isinstance(result.exception, ConfigError)


def test_bed_prints_addresses_and_progress_then_stops(runner: CliRunner) -> None:
    result = runner.invoke(
        app.cli.cli,
        ["simulate", "bed", "--scenario", "fever", "--speed", "1200", "--from", "-1s",
         "--seconds", "2"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = result.output.splitlines()
    assert [line.split()[0] for line in out[:3]] == ["monitor", "ventilator", "pump"]
    assert all("127.0.0.1:" in line for line in out[:3])
    assert "scenario fever (bed ICU-1) at 1200× real time" in out[3]
    assert any("infusion_start pump=study" in line for line in out)
    assert any("fever to=38.9" in line for line in out)  # +30m at 1200× ≈ 1.5 s


def test_single_device_on_a_pty(runner: CliRunner) -> None:
    result = runner.invoke(app.cli.cli, ["simulate", "ventilator", "--pty", "--seconds", "0.2"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ventilator pty        /dev/")


def test_device_options_are_checked(runner: CliRunner) -> None:
    result = runner.invoke(app.cli.cli, ["simulate", "monitor", "--tcp", "nowhere"])
    assert isinstance(result.exception, ConfigError)
    result = runner.invoke(app.cli.cli, ["simulate", "monitor", "--bed", "ICU-9", "--seconds", "0"])
    assert isinstance(result.exception, ConfigError) and "ICU-9" in str(result.exception)
    result = runner.invoke(app.cli.cli, ["simulate", "hl7"])
    assert result.exit_code == 2  # --to is required
