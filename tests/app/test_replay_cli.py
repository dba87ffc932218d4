"""`iaewatch replay`: recorded stream → alert transitions (JSON Lines) on stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import _register_commands, cli

DATA = Path(__file__).parent.parent / "data" / "replay" / "two_beds.jsonl"
KEYS = {"t", "bed", "category", "iae", "rule", "priority", "phase", "evidence"}


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    _register_commands()
    return CliRunner()


def _hr(hms: str, unit: str = "/min") -> str:
    rec = {"t": f"2026-03-01T{hms}Z", "bed": "A", "code": "MDC_ECG_HEART_RATE", "value": 80}
    return json.dumps({**rec, "unit": unit}) + "\n"


def _lines(out: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(x) for x in out.splitlines() if x.strip()]


def test_replay_writes_transitions(runner: CliRunner) -> None:
    res = runner.invoke(cli, ["replay", str(DATA)])
    assert res.exit_code == 0, res.output
    out = _lines(res.stdout)
    assert out and all(set(o) >= KEYS for o in out)
    got = [(o["bed"], o["rule"], o["phase"], o["iae"]) for o in out]
    assert ("ICU-3", "arrhythmia", "start", True) in got
    assert ("ICU-4", "arrhythmia", "start", False) in got  # no infusion at ICU-4: no IAE
    hyp = [o for o in out if o["rule"] == "hypoxemia_spo2"]
    assert [o["phase"] for o in hyp] == ["start", "end"]
    # 84 % from 08:15:00 (samples every 10 s): a hold needs an agreeing sample 15 s on, so
    # the sample at 08:15:20 confirms it (a tick alone never does: issue 13)
    assert hyp[0]["t"] == "2026-03-01T08:15:20Z"
    assert [o["t"] for o in out] == sorted(o["t"] for o in out)
    # the file's units were converted: °F, fraction, mbar — no warnings
    assert "warning" not in res.stderr


def test_replay_is_deterministic_and_invents_no_end(runner: CliRunner, tmp_path: Path) -> None:
    a = runner.invoke(cli, ["replay", str(DATA)]).stdout
    b = runner.invoke(cli, ["replay", str(DATA)]).stdout
    assert a == b
    cut = tmp_path / "cut.jsonl"
    lines = DATA.read_text().splitlines()
    cut.write_text("\n".join(x for x in lines if x < '{"t": "2026-03-01T08:15:40Z"') + "\n")
    out = _lines(runner.invoke(cli, ["replay", str(cut)]).stdout)
    assert [o["phase"] for o in out if o["rule"] == "hypoxemia_spo2"] == ["start"]


def test_malformed_line_stops_with_its_number(runner: CliRunner, tmp_path: Path) -> None:
    f = tmp_path / "bad.jsonl"
    lines = DATA.read_text().splitlines()[:5]
    lines.insert(3, '{"t": "2026-03-01T07:30:00Z", "bed": "ICU-3", "code": "X", "value": }')
    f.write_text("\n".join(lines) + "\n")
    res = runner.invoke(cli, ["replay", str(f)])
    assert res.exit_code == 2
    assert f"{f}:4:" in res.stderr and "not JSON" in res.stderr


def test_time_going_backwards_is_an_error(runner: CliRunner, tmp_path: Path) -> None:
    f = tmp_path / "back.jsonl"
    f.write_text(_hr("08:00:05") + "\n" + _hr("08:00:01"))
    res = runner.invoke(cli, ["replay", str(f)])
    assert res.exit_code == 2 and f"{f}:3: time goes backwards" in res.stderr


def test_unconvertible_unit_is_a_warning_not_a_crash(runner: CliRunner, tmp_path: Path) -> None:
    f = tmp_path / "units.jsonl"
    f.write_text(_hr("08:00:05", unit="furlongs"))
    res = runner.invoke(cli, ["replay", str(f)])
    assert res.exit_code == 0 and res.stdout == ""
    assert "unit:MDC_ECG_HEART_RATE:furlongs ×1" in res.stderr


def test_custom_rules_and_bad_rules(runner: CliRunner, tmp_path: Path) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text(
        "name: t\nversion: 1\nrules:\n  - id: hr_high\n    category: tachycardia\n"
        "    priority: low\n    title: HR > 85\n    source: test\n"
        "    when: {threshold: {param: MDC_ECG_HEART_RATE, above: 85}}\n"
    )
    res = runner.invoke(cli, ["replay", str(DATA), "--rules", str(rules)])
    assert res.exit_code == 0
    out = _lines(res.stdout)
    assert {o["rule"] for o in out} == {"hr_high"} and {o["bed"] for o in out} == {"ICU-3", "ICU-4"}
    rules.write_text(rules.read_text().replace("priority: low", "priority: lowest"))
    res = runner.invoke(cli, ["replay", str(DATA), "--rules", str(rules)])
    assert res.exit_code == 2 and f"{rules}:6: rules[0].priority:" in res.stderr


def test_escalate_option(runner: CliRunner) -> None:
    res = runner.invoke(cli, ["replay", str(DATA), "--escalate-after", "60"])
    out = _lines(res.stdout)
    esc = [o for o in out if o["phase"] == "escalate"]
    assert {(o["bed"], o["rule"]) for o in esc} == {
        ("ICU-3", "arrhythmia"),
        ("ICU-4", "arrhythmia"),
    }


def test_console_script(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "iaewatch"
    f = tmp_path / "bad.jsonl"
    f.write_text('{"t": "2026-03-01T08:00:00Z", "bed": "A"}\n')
    res = subprocess.run([str(exe), "replay", str(f)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and ":1:" in res.stderr and res.stderr.count("\n") == 1


# ── --summary: the alert burden ──────────────────────────────────────────────────────────


def _span_hours(lines: list[dict]) -> dict[str, tuple[float, str | None]]:  # type: ignore[type-arg]
    """Per bed: hours from first to last record, and its infusion start (independently)."""
    first: dict[str, str] = {}
    last: dict[str, str] = {}
    start: dict[str, str | None] = {}
    for r in lines:
        first.setdefault(r["bed"], r["t"])
        last[r["bed"]] = r["t"]
        if r.get("event") == "infusion_start":
            start.setdefault(r["bed"], r["t"])
    iso = datetime.fromisoformat
    return {b: ((iso(last[b]) - iso(first[b])).total_seconds() / 3600, start.get(b)) for b in first}


def test_summary_counts_the_starts_of_the_replay(runner: CliRunner) -> None:
    starts = [
        o for o in _lines(runner.invoke(cli, ["replay", str(DATA)]).stdout) if o["phase"] == "start"
    ]
    res = runner.invoke(cli, ["replay", "--summary", "--json", str(DATA)])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    spans = _span_hours(_lines(DATA.read_text()))
    assert s["beds"] == 2 and s["window_h"] == 24
    # ICU-3: infusion at 08:00, records 07:30-08:29:50 → 0.5 h before, the rest inside
    inside = (
        datetime.fromisoformat("2026-03-01T08:29:50Z")
        - datetime.fromisoformat("2026-03-01T08:00:00Z")
    ).total_seconds() / 3600
    total = sum(h for h, _ in spans.values())
    assert s["patient_hours"]["inside"] == pytest.approx(inside)
    assert s["patient_hours"]["outside"] == pytest.approx(total - inside)
    counted = {
        (r["category"], r["priority"]): r["inside"]["starts"] + r["outside"]["starts"]
        for r in s["rows"]
    }
    expected: dict[tuple[str, str], int] = {}
    for o in starts:
        expected[(o["category"], o["priority"])] = (
            expected.get((o["category"], o["priority"]), 0) + 1
        )
    assert counted == expected
    nontech = sum(n for (c, _), n in expected.items() if c != "technical")
    t = s["totals"]["non-technical"]
    assert t["inside"]["starts"] + t["outside"]["starts"] == nontech
    assert t["inside"]["per_patient_hour"] == pytest.approx(
        t["inside"]["starts"] / inside, abs=1e-4
    )


def test_summary_table_and_several_files(runner: CliRunner, tmp_path: Path) -> None:
    one = runner.invoke(cli, ["replay", "--summary", "--json", str(DATA)])
    two = runner.invoke(cli, ["replay", "--summary", "--json", str(DATA), str(DATA)])
    a, b = json.loads(one.stdout), json.loads(two.stdout)
    assert b["beds"] == 2 * a["beds"]  # each file is its own recording, through a fresh engine
    assert b["patient_hours"]["inside"] == pytest.approx(2 * a["patient_hours"]["inside"])
    assert [r["inside"]["starts"] * 2 for r in a["rows"]] == [
        r["inside"]["starts"] for r in b["rows"]
    ]
    text = runner.invoke(cli, ["replay", "--summary", str(DATA)]).stdout
    assert text.startswith("alert burden: 2 bed(s),")
    assert "all non-technical" in text and "all technical" in text
    assert not text.lstrip().startswith("{")
