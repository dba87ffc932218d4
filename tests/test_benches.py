"""Every bench in `bench/` still runs (tiny sizes, figures not judged): `make bench` is not in
CI, and a bench that rots is found here rather than when the figures are next needed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from broker import MOSQUITTO

pytestmark = pytest.mark.benches  # `make test` runs these alone: they load every core

BENCH = Path(__file__).resolve().parents[1] / "bench"

RUNS = {
    "bench_alarm_delay.py": (
        "--beds 2 --clients 2 --alarms 2 --client-procs 1 --warmup 1 --spacing 0.5",
        "alarms seen by every client: 2/2",
    ),
    "bench_alert_commit.py": ("--commits 5", "sqlite"),
    "bench_engine.py": ("--hours 0.05 --beds 2", "replay / json"),
    "bench_hl7.py": ("--messages 200", "full receive"),
    "bench_intellivue.py": ("", "frames/s"),
    "bench_medibus.py": ("--cycles 20", "frames/s"),
    "bench_sim_beds.py": ("--beds 2 --window 2", "max beds sustained"),
    "bench_station_scale.py": (
        "--beds 4 --clients 2 --client-procs 1 --gateway-procs 1 --alarms 4 --seconds 3 --warmup 1",
        "iaewatch_pipeline_lag_seconds",
    ),
    "bench_storage.py": ("--minutes 1 --rate-beds 2 --rate-seconds 2", "B/observation"),
    "bench_store.py": ("--seconds 5 --beds 2 --rounds 1", "store/raw"),
    "bench_ws.py": (
        "--clients 2 --client-procs 1 --beds 5 --alerts 20 --target-ms 60000",
        "clients that saw every alert seq exactly once, in order: 2/2",
    ),
}
"""Each bench: tiny arguments, and a line of its report that says it ran to the end (no
figure is judged: `bench_ws`'s own latency target is set out of reach of a busy machine).
`bench_burden.py` is left out: it replays 100 real ICU stays (minutes, not seconds)."""


def test_every_bench_is_listed() -> None:
    shipped = {p.name for p in BENCH.glob("bench_*.py")}
    assert shipped - {"bench_burden.py"} == set(RUNS)


@pytest.mark.parametrize("name", sorted(RUNS))
def test_bench_runs(name: str) -> None:
    if name == "bench_station_scale.py" and MOSQUITTO is None:
        pytest.skip("mosquitto is not installed: the station bench runs a broker of its own")
    args, expect = RUNS[name]
    done = subprocess.run(
        [sys.executable, str(BENCH / name), *args.split()],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=BENCH.parent,
        env=_bench_env(),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert expect in done.stdout, done.stdout[-2000:]


def _bench_env() -> dict[str, str]:
    """The environment a person running `make bench` has: none of pytest's variables (which
    would let test-only settings pass) nor the suite's IAEWATCH_ ones."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "IAEWATCH_"))}
