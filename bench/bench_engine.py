"""Rules-engine throughput against plain JSON parsing of the same recording.

Generates a recording of N beds (default 10) × 24 h at 1 Hz from three devices per bed
(monitor, ventilator, study pump; 18 parameters) to a temporary file, with an infusion per
bed and a few excursions so rules fire, then measures in the same run:

  json.loads   plain JSON parse of every line                              (the yardstick)
  records      core.records.parse_record of every line
  replay       what `iaewatch replay` runs, line by line: read_records (decode, parse, time
               order) and the trial's engine (monitors.build_engine: rules + order check)
               driven by monitors.Stepper, feed + a tick at each second
                                                                (issue 19: ≥ 0.5 × json)
  engine       replay less parse_record: the engine's share
  intake       replay with no rule evaluated when a value arrives (Engine.quietly; the
               ticks still run): decode, parse, units, plausibility, outlier screen, sliding
               windows, derived parameters: what a replay costs before the rules, so the
               ceiling of replay / json for this engine

    .venv/bin/python bench/bench_engine.py [--hours 24] [--beds 10] [--keep FILE]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from proc import rss_mib

from app.commands.replay import read_records
from core.records import parse_record
from monitors import Stepper, build_engine

T0 = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
CHUNK = 20_000

MONITOR = [
    ("MDC_PULS_OXIM_SAT_O2", "%", 94.0, 1.0),
    ("MDC_PULS_OXIM_PULS_RATE", "/min", 92.0, 3.0),
    ("MDC_ECG_HEART_RATE", "/min", 92.0, 3.0),
    ("MDC_PRESS_BLD_ART_SYS", "mm[Hg]", 118.0, 4.0),
    ("MDC_PRESS_BLD_ART_DIA", "mm[Hg]", 62.0, 3.0),
    ("MDC_PRESS_BLD_ART_MEAN", "mm[Hg]", 80.0, 3.0),
    ("MDC_TEMP_BLD", "Cel", 37.2, 0.05),
    ("MDC_RESP_RATE", "/min", 22.0, 1.0),
]
VENT = [
    ("MDC_VENT_CONC_AWAY_O2_INSP", "%", 50.0, 0.0),
    ("MDC_PRESS_AWAY_END_EXP_POS", "cm[H2O]", 10.0, 0.0),
    ("MDC_PRESS_AWAY_INSP_PEAK", "cm[H2O]", 28.0, 1.0),
    ("MDC_PRESS_RESP_PLAT", "cm[H2O]", 24.0, 0.5),
    ("MDC_AWAY_CO2_ET", "mm[Hg]", 38.0, 1.0),
    ("MDC_VOL_AWAY_TIDAL_EXP", "mL", 420.0, 15.0),
    ("MDC_VOL_MINUTE_AWAY_EXP", "L/min", 9.2, 0.3),
]
PUMP = [
    ("MDC_FLOW_FLUID_PUMP", "mL/h", 0.0, 0.0),
    ("MDC_VOL_FLUID_DELIV", "mL", 0.0, 0.0),
    ("MDC_VOL_FLUID_TBI", "mL", 100.0, 0.0),
]


def generate(path: Path, hours: float, beds: int, seed: int = 7) -> int:
    """Write the recording; returns the number of lines."""
    rng = random.Random(seed)
    names = [f"ICU-{i + 1}" for i in range(beds)]
    start_s = {b: 3600 + i * 600 for i, b in enumerate(names)}  # infusions staggered
    lines = 0
    total_s = int(hours * 3600)
    with path.open("w", encoding="utf-8") as f:
        for s in range(total_s):
            ts = (T0 + timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%SZ")
            for bi, bed in enumerate(names):
                since = s - start_s[bed]
                if since == 0:
                    f.write(
                        f'{{"t": "{ts}", "bed": "{bed}", "event": "infusion_start", '
                        f'"weight_kg": 70, "volume_ml": 100, "planned_min": 45, '
                        f'"device": "pump-{bi}"}}\n'
                    )
                    lines += 1
                if since == 45 * 60:
                    f.write(
                        f'{{"t": "{ts}", "bed": "{bed}", "event": "infusion_end", '
                        f'"device": "pump-{bi}"}}\n'
                    )
                    lines += 1
                for dev, params in (("mon", MONITOR), ("vent", VENT), ("pump", PUMP)):
                    for code, unit, base, noise in params:
                        v = base + (rng.gauss(0.0, noise) if noise else 0.0)
                        if code == "MDC_FLOW_FLUID_PUMP":
                            v = 133.0 if 0 <= since < 45 * 60 else 0.0
                        elif code == "MDC_VOL_FLUID_DELIV":
                            v = min(100.0, max(0.0, since) * 133.0 / 3600.0)
                        elif code == "MDC_PULS_OXIM_SAT_O2":
                            # a 20-minute desaturation 2 h after the infusion in every third bed
                            if bi % 3 == 0 and 7200 <= since < 8400:
                                v -= 9.0
                            v = min(100.0, v)
                        elif code == "MDC_TEMP_BLD" and bi % 4 == 1 and since > 4 * 3600:
                            v += 1.6 * (1 - math.exp(-(since - 4 * 3600) / 3600))
                        f.write(
                            f'{{"t": "{ts}", "bed": "{bed}", "code": "{code}", '
                            f'"value": {v:.2f}, "unit": "{unit}", "device": "{dev}-{bi}"}}\n'
                        )
                        lines += 1
    return lines


def measure(path: Path) -> dict[str, float]:
    """One pass in chunks of the file's lines; each chunk is timed three ways back to back,
    so that the load of a busy machine weighs on the yardstick and on the replay alike:

      json      json.loads of each line (decoded beforehand, untimed)
      records   parse_record of each line (the record dropped at once)
      replay    what `iaewatch replay` runs on the lines as bytes: read_records (decode,
                parse, time order) and Stepper.feed of each record, one at a time
      intake    the same on an engine of its own that evaluates no rule (`Engine.quietly`)
    """
    engine = build_engine()
    stepper = Stepper(engine)
    feed = stepper.feed
    intake_engine = build_engine()
    intake_feed = Stepper(intake_engine).feed
    loads = json.loads
    t_json = t_rec = t_replay = t_intake = 0.0
    n = transitions = 0
    last: datetime | None = None
    rss: list[float] = []
    clock = time.perf_counter
    with path.open("rb") as f:
        while True:
            chunk = list(itertools.islice(f, CHUNK))
            if not chunk:
                break
            text = [line.decode() for line in chunk]  # the yardstick is not charged for this
            n += len(chunk)
            t = clock()
            for line in text:
                loads(line)
            t_json += clock() - t
            t = clock()
            for line in text:
                parse_record(line)
            t_rec += clock() - t
            t = clock()
            for msg in read_records(chunk):
                transitions += len(feed(msg))
                last = msg.t
            t_replay += clock() - t
            with intake_engine.engine.quietly():
                t = clock()
                for msg in read_records(chunk):
                    intake_feed(msg)
                t_intake += clock() - t
            rss.append(rss_mib(os.getpid()))
    if last is not None:
        transitions += len(stepper.advance(last))
    return {
        "lines": n,
        "json": n / t_json,
        "records": n / t_rec,
        "engine": n / max(t_replay - t_rec, 1e-9),
        "replay": n / t_replay,
        "intake": n / t_intake,
        "transitions": transitions,
        "warnings": sum(engine.warnings.values()),
        "rss_early": rss[len(rss) // 10],
        "rss_end": rss[-1],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--beds", type=int, default=10)
    ap.add_argument("--keep", type=Path, help="write the recording here and keep it")
    args = ap.parse_args()
    fd, tmp = tempfile.mkstemp(suffix=".jsonl", prefix="iaewatch-bench-")
    os.close(fd)
    path = args.keep or Path(tmp)
    try:
        t = time.perf_counter()
        lines = generate(path, args.hours, args.beds)
        size = path.stat().st_size
        print(
            f"recording: {args.beds} beds × {args.hours:g} h, {lines:,} lines, "
            f"{size / 1e6:,.0f} MB, generated in {time.perf_counter() - t:.1f} s"
        )
        r = measure(path)
        print(f"json.loads      {r['json']:>12,.0f} obs/s   (yardstick)")
        print(f"parse_record    {r['records']:>12,.0f} obs/s")
        print(f"engine          {r['engine']:>12,.0f} obs/s   feed + ticks (replay - parse)")
        print(f"replay          {r['replay']:>12,.0f} obs/s   read_records + Stepper.feed")
        print(f"engine / json   {r['engine'] / r['json']:>12.2f}")
        print(f"replay / json   {r['replay'] / r['json']:>12.2f}        (target ≥ 0.50)")
        print(f"intake          {r['intake']:>12,.0f} obs/s   replay, no rule run on arrival")
        print(f"intake / json   {r['intake'] / r['json']:>12.2f}        (replay / json's ceiling)")
        print(f"alert transitions {r['transitions']:,}, samples not used {r['warnings']:,}")
        print(
            f"RSS {r['rss_early']:,.0f} MiB after a tenth of the file, "
            f"{r['rss_end']:,.0f} MiB at its end (flat with file size: replay streams)"
        )
    finally:
        if args.keep is None:
            Path(tmp).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
