"""How many simulated beds one process serves at 1 Hz.

This process is the simulated ICU: N beds, each an IntelliVue monitor, a MEDIBUS ventilator
and a Modbus pump gateway on TCP 127.0.0.1 (port 0), all reading that bed's
`simulators.patient.PatientModel` (or `FixedVitals` with `--fixed`). A second process runs the
drivers the service would (`IntellivueDriver`, `MedibusDriver`, `ModbusPumpDriver`,
`poll_interval=1.0`), waits until every device is connected, then counts observations for
`--window` seconds. A device's achieved rate is (k - 1) / (last - first) over the k arrivals
of one parameter it reports once per poll cycle (SpO2, FiO2, pump rate); its worst gap
includes the edges of the window, so a device that stops mid-window fails too. Each process
also reports its worst event-loop delay (a 50 ms ticker), and the simulated IntelliVues count
the polls they ignored (a monitor answers one poll per object type per second; the simulator
allows 0.9 s), which is what a late-answered burst costs. The drivers start all at once, as
the service starts them, so their polls arrive in bursts; `--stagger` spreads their start over
one poll interval, as independent devices would be.

N grows through `--beds` until a device falls below 0.95 Hz, a gap exceeds 2 s, or either
process's CPU passes 90 % of one core (each process is one asyncio thread); the largest N
that passed is printed. The run stops early rather than exceed `--budget` seconds.

    .venv/bin/python bench/bench_sim_beds.py [--beds 5,10,20,40,60,80,120] [--window 10]
                                             [--fixed] [--stagger] [--budget 175]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import statistics
import sys
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.clock import RealClock
from core.model import DeviceEvent, Observation

KEY_CODE = {
    "monitor": "MDC_PULS_OXIM_SAT_O2",
    "ventilator": "MDC_VENT_CONC_AWAY_O2_INSP",
    "pump": "MDC_FLOW_FLUID_PUMP",
}
"""One parameter per device kind that arrives exactly once per poll cycle."""

MIN_HZ = 0.95
MAX_GAP_S = 2.0
CPU_SATURATED = 90.0  # % of one core
CONNECT_TIMEOUT_S = 30.0
SETTLE_S = 2.0


class LoopLag:
    """How late a 50 ms ticker wakes: the event loop's scheduling delay, in seconds."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._tick())

    async def _tick(self) -> None:
        while True:
            t = time.monotonic()
            await asyncio.sleep(0.05)
            self.lags.append(time.monotonic() - t - 0.05)

    def stop(self) -> float:
        """Stop; the worst lag seen."""
        if self.task is not None:
            self.task.cancel()
        return max(self.lags, default=0.0)


# ----------------------------------------------------------------------------- drivers side


@dataclass
class DeviceCount:
    kind: str
    connected: bool = False
    disconnects: int = 0
    observations: int = 0
    arrivals: list[float] = field(default_factory=list)


async def _drain(driver: Any, count: DeviceCount, window: list[float], delay: float) -> None:
    key = KEY_CODE[count.kind]
    await asyncio.sleep(delay)
    stream = cast(AsyncGenerator[Any, None], driver.stream())
    async with contextlib.aclosing(stream) as items:
        async for item in items:
            now = time.monotonic()
            if isinstance(item, DeviceEvent):
                if item.event == "device_connected":
                    count.connected = True
                elif item.event == "device_disconnected":
                    count.connected = False
                    if window:
                        count.disconnects += 1
            elif isinstance(item, Observation) and window:
                count.observations += 1
                if item.code == key:
                    count.arrivals.append(now)


def _build_drivers(spec: list[dict[str, Any]], clock: RealClock) -> list[tuple[Any, DeviceCount]]:
    from drivers.intellivue.driver import IntellivueDriver
    from drivers.medibus.driver import MedibusDriver
    from drivers.modbus.driver import ModbusPumpDriver
    from drivers.modbus.profile import load_profile

    profile = load_profile()
    out: list[tuple[Any, DeviceCount]] = []
    for bed in spec:
        name = bed["bed"]
        out.append(
            (
                IntellivueDriver(
                    bed=name,
                    device_id="monitor",
                    url=f"socket://127.0.0.1:{bed['monitor']}",
                    clock=clock,
                    poll_interval=1.0,
                ),
                DeviceCount("monitor"),
            )
        )
        out.append(
            (
                MedibusDriver(
                    bed=name,
                    device_id="ventilator",
                    url=f"socket://127.0.0.1:{bed['ventilator']}",
                    clock=clock,
                    poll_interval=1.0,
                ),
                DeviceCount("ventilator"),
            )
        )
        out.append(
            (
                ModbusPumpDriver(
                    bed=name,
                    device_id="pump",
                    clock=clock,
                    profile=profile,
                    transport="tcp",
                    address=f"127.0.0.1:{bed['pump']}",
                    poll_interval=1.0,
                ),
                DeviceCount("pump"),
            )
        )
    return out


def _device_figures(c: DeviceCount, t0: float, t1: float) -> dict[str, Any]:
    a = [t for t in c.arrivals if t0 <= t <= t1]
    hz = (len(a) - 1) / (a[-1] - a[0]) if len(a) >= 2 and a[-1] > a[0] else 0.0
    edges = [t0, *a, t1]
    gap = max(b - x for x, b in itertools.pairwise(edges))
    return {"kind": c.kind, "hz": hz, "gap": gap, "disconnects": c.disconnects}


async def drivers_main(warmup_limit: float, window_s: float, stagger: bool) -> None:
    """The second process: read the bed spec on stdin, print "start", then one JSON result."""
    spec = json.loads(sys.stdin.readline())
    clock = RealClock()
    pairs = _build_drivers(spec, clock)
    window: list[float] = []  # empty until the measurement window opens
    # staggered: start times spread over one poll interval, as independent devices would be
    delays = [i / len(pairs) if stagger else 0.0 for i in range(len(pairs))]
    tasks = [
        asyncio.create_task(_drain(d, c, window, delay))
        for (d, c), delay in zip(pairs, delays, strict=True)
    ]
    started = time.monotonic()
    while not all(c.connected for _, c in pairs):
        if time.monotonic() - started > warmup_limit:
            break
        await asyncio.sleep(0.1)
    connect_s = time.monotonic() - started
    await asyncio.sleep(SETTLE_S)
    unconnected = sum(not c.connected for _, c in pairs)
    print("start", flush=True)
    lag = LoopLag()
    lag.start()
    t0, c0 = time.monotonic(), time.process_time()
    window.append(t0)
    await asyncio.sleep(window_s)
    t1, c1 = time.monotonic(), time.process_time()
    window.append(t1)
    driver_lag = lag.stop()
    devices = [_device_figures(c, t0, t1) for _, c in pairs]
    observations = sum(c.observations for _, c in pairs)
    for t in tasks:
        t.cancel()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5.0)
    result = {
        "connect_s": connect_s,
        "unconnected": unconnected,
        "observations_per_s": observations / (t1 - t0),
        "driver_cpu": 100.0 * (c1 - c0) / (t1 - t0),
        "driver_lag": driver_lag,
        "devices": devices,
    }
    print(json.dumps(result), flush=True)


# -------------------------------------------------------------------------- simulator side


async def _start_beds(
    n: int, fixed: bool, clock: RealClock
) -> tuple[list[Any], list[dict[str, Any]]]:
    from simulators.intellivue_monitor import IntellivueSimulator
    from simulators.patient import PatientModel
    from simulators.pump import PumpSimulator
    from simulators.pump_state import PumpState
    from simulators.source import DEFAULT_ADULT_ARDS, FixedVitals
    from simulators.ventilator import VentilatorSimulator

    sims: list[Any] = []
    spec: list[dict[str, Any]] = []
    for i in range(n):
        pump = PumpState(vtbi_ml=100.0)
        pump.start(rate_ml_h=133.0)
        source: Any
        if fixed:
            source = FixedVitals(dict(DEFAULT_ADULT_ARDS))
        else:
            source = PatientModel(clock, seed=i + 1, pumps={"study": pump})
        monitor = IntellivueSimulator(source, clock)
        ventilator = VentilatorSimulator(source, clock)
        gateway = PumpSimulator({1: pump}, clock)
        sims += [monitor, ventilator, gateway]
        m_port = await monitor.serve_tcp("127.0.0.1", 0)
        await ventilator.serve_tcp("127.0.0.1", 0)
        p_port = await gateway.serve_tcp("127.0.0.1", 0)
        spec.append(
            {
                "bed": f"B{i + 1:03d}",
                "monitor": m_port,
                "ventilator": ventilator.port,
                "pump": p_port,
            }
        )
    return sims, spec


async def run_level(n: int, args: argparse.Namespace) -> dict[str, Any]:
    """Serve n beds here while a child process drives them; return the figures."""
    clock = RealClock()
    sims, spec = await _start_beds(n, args.fixed, clock)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--drivers",
        "--window",
        str(args.window),
        *(["--stagger"] if args.stagger else []),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=1 << 24,  # the result line lists every device
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(json.dumps(spec).encode() + b"\n")
        await proc.stdin.drain()
        proc.stdin.close()
        line = await asyncio.wait_for(proc.stdout.readline(), CONNECT_TIMEOUT_S + 30)
        if line.strip() != b"start":
            raise RuntimeError(f"driver process said {line!r}")
        lag = LoopLag()
        lag.start()
        dropped0 = _polls_dropped(sims)
        t0, c0 = time.monotonic(), time.process_time()
        line = await asyncio.wait_for(proc.stdout.readline(), args.window + 30)
        t1, c1 = time.monotonic(), time.process_time()
        sim_lag = lag.stop()
        dropped = _polls_dropped(sims) - dropped0
        result: dict[str, Any] = json.loads(line)
        await asyncio.wait_for(proc.wait(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        for sim in sims:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sim.close(), 5.0)
    result["n"] = n
    result["sim_cpu"] = 100.0 * (c1 - c0) / (t1 - t0)
    result["sim_lag"] = sim_lag
    result["polls_dropped"] = dropped
    return result


def _polls_dropped(sims: list[Any]) -> int:
    """Monitor polls the simulated IntelliVues ignored (under 0.9 s since the last answer)."""
    return sum(s.stats.polls_dropped for s in sims if hasattr(s, "stats"))


def _summary(r: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"n": r["n"], "obs": r["observations_per_s"]}
    for kind in KEY_CODE:
        hz = [d["hz"] for d in r["devices"] if d["kind"] == kind]
        out[kind] = (min(hz), statistics.median(hz))
    out["gap"] = max(d["gap"] for d in r["devices"])
    out["disconnects"] = sum(d["disconnects"] for d in r["devices"]) + r["unconnected"]
    out["sim_cpu"] = r["sim_cpu"]
    out["driver_cpu"] = r["driver_cpu"]
    out["connect_s"] = r["connect_s"]
    out["lag"] = (r["sim_lag"], r["driver_lag"])
    out["dropped"] = r["polls_dropped"]
    reasons = []
    worst = min(min(v) for k, v in out.items() if k in KEY_CODE)
    if worst < MIN_HZ:
        reasons.append(f"a device at {worst:.3f} Hz")
    if out["gap"] > MAX_GAP_S:
        reasons.append(f"a {out['gap']:.1f} s gap")
    if out["disconnects"]:
        reasons.append(f"{out['disconnects']} disconnects/unconnected")
    for who in ("sim_cpu", "driver_cpu"):
        if out[who] >= CPU_SATURATED:
            reasons.append(f"{who.replace('_', ' ')} {out[who]:.0f} %")
    out["reasons"] = reasons
    return out


HEADER = (
    f"{'beds':>4} {'obs/s':>7} {'monitor Hz':>12} {'vent Hz':>12} {'pump Hz':>12}"
    f" {'gap s':>6} {'sim CPU':>8} {'drv CPU':>8} {'lag ms':>9} {'drops':>5}  verdict"
)


def _row(s: dict[str, Any]) -> str:
    def hz(kind: str) -> str:
        lo, med = s[kind]
        return f"{lo:.3f}/{med:.3f}"

    verdict = "ok" if not s["reasons"] else "FAIL: " + ", ".join(s["reasons"])
    return (
        f"{s['n']:>4} {s['obs']:>7.0f} {hz('monitor'):>12} {hz('ventilator'):>12}"
        f" {hz('pump'):>12} {s['gap']:>6.2f} {s['sim_cpu']:>7.0f}% {s['driver_cpu']:>7.0f}%"
        f" {s['lag'][0] * 1000:>4.0f}/{s['lag'][1] * 1000:<4.0f} {s['dropped']:>5}  {verdict}"
    )


async def main(args: argparse.Namespace) -> None:
    levels = [int(x) for x in args.beds.split(",")]
    began = time.monotonic()
    print(
        f"{'FixedVitals' if args.fixed else 'PatientModel'} beds (IntelliVue + MEDIBUS + Modbus on"
        f" TCP), drivers in a second process at poll_interval 1.0 s, started"
        f" {'staggered over 1 s' if args.stagger else 'all at once'}, {args.window:g} s window;"
        f" Hz = min/median over devices; lag = worst event-loop delay, sim/drivers;"
        f" drops = monitor polls the simulators ignored; load average {_load()}"
    )
    print(HEADER, flush=True)
    sustained = 0
    last: tuple[int, float] | None = None  # (beds, seconds) of the previous level
    for n in levels:
        elapsed = time.monotonic() - began
        overhead = 6.0 if last is None else max(0.0, last[1] - args.window) * n / last[0]
        if elapsed + args.window + overhead > args.budget:
            print(f"(stopping before {n} beds: the {args.budget:g} s budget would be exceeded)")
            break
        t = time.monotonic()
        s = _summary(await run_level(n, args))
        last = (n, time.monotonic() - t)
        print(_row(s), flush=True)
        if s["reasons"]:
            break
        sustained = n
    else:
        print("(every level passed; try --beds with larger N)")
    print(
        f"max beds sustained at >= {MIN_HZ} Hz per device: {sustained}"
        f" (whole run {time.monotonic() - began:.0f} s; load average {_load()})"
    )


def _load() -> str:
    """The machine's 1-minute load average over its cores: other work skews the figures."""
    return f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--beds", default="5,10,20,40,60,80,120", help="bed counts to try, in order")
    p.add_argument("--window", type=float, default=10.0, help="measurement seconds per level")
    p.add_argument("--fixed", action="store_true", help="FixedVitals instead of PatientModel")
    p.add_argument(
        "--stagger",
        action="store_true",
        help="spread the drivers' start over one poll interval (default: all at once)",
    )
    p.add_argument("--budget", type=float, default=175.0, help="stop before exceeding (s)")
    p.add_argument("--drivers", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.drivers:
        asyncio.run(drivers_main(CONNECT_TIMEOUT_S, arguments.window, arguments.stagger))
    else:
        asyncio.run(main(arguments))
