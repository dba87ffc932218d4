"""The station at scale: gateways → Mosquitto → station (ingest, rules, store, fan-out) → clients.

`--beds` beds each send what a bed sends at real rates, every second: a monitor's 12
numerics, a ventilator's 10 values and two pumps' 3 each (28 observations a second), with
the codes and units the rules read, so the station's engine keeps each bed's state. Each
bed sends in one of `SLOTS` slots of each second, as devices that are not synchronised do
(`--burst`: every bed at the same instant, the alarm right behind the burst). The
gateways are `--gateway-procs` processes, each running our `MqttBus` (publish only), so their
CPU per bed is measured too. The station is `iaewatch serve` with MQTT (`build_service`, no
local devices) in its own process, on SQLite or PostgreSQL; `--clients` station websocket
clients run in other processes (`bench_alarm_delay.clients_main`). After a warm-up, pump
occlusions are raised one bed at a time; for each resulting alert,

    delay = client receipt − alarm time at the gateway,

so the figure covers the gateway's bus, the broker, the station's ingest, rules engine,
database commit, fan-out and the socket. Printed: alarms seen by every client, p50/p99 delay,
and per process CPU (% of one core) and RSS (per bed too) over the measured part, with the
machine's load average.

    .venv/bin/python bench/bench_station_scale.py [--beds 100] [--clients 20] [--alarms 20]
        [--gateway-procs 2] [--database sqlite|postgresql] [--seconds 30] [--burst]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from bench_alarm_delay import clients_main
from bench_engine import MONITOR as ENGINE_MONITOR
from bench_engine import PUMP as ENGINE_PUMP
from bench_engine import VENT as ENGINE_VENT
from broker import Broker
from proc import cpu_s, rss_mib
from realtime import free_port

# the codes the rules read, in their canonical units, at a stable patient's values (code,
# unit, value, ± variation): bench_engine's bed, with the cuff pressures and a few more, so that
# the station's engine keeps every bed's series, sliding windows and derived parameters
MONITOR = [
    *ENGINE_MONITOR,
    ("MDC_PRESS_BLD_NONINV_SYS", "mm[Hg]", 120.0, 3.0),
    ("MDC_PRESS_BLD_NONINV_DIA", "mm[Hg]", 64.0, 2.0),
    ("MDC_PRESS_BLD_NONINV_MEAN", "mm[Hg]", 82.0, 2.0),
    ("MDC_AWAY_CO2_ET", "mm[Hg]", 38.0, 1.0),
]
VENT = [
    *ENGINE_VENT,
    ("MDC_PRESS_AWAY_MEAN", "cm[H2O]", 15.0, 0.5),
    ("MDC_VENT_RESP_RATE", "/min", 20.0, 0.0),
    ("MDC_RESP_RATE", "/min", 20.0, 0.0),
]
PUMP = ENGINE_PUMP
PREFIX = "bench"
SECRET = "bench-" + "x" * 40
METRICS_TOKEN = "bench-metrics-" + "m" * 32
SLOTS = 10
"""Slots per second the beds' sends are spread over (`--burst`: one)."""


def station_main(db_url: str, mqtt_url: str, port: int) -> None:
    os.environ["IAEWATCH_SECRET_KEY"] = SECRET
    from app.runner import build_service, uvicorn_server
    from app.settings import Settings

    settings = Settings(
        database_url=db_url,
        port=port,
        mqtt_url=mqtt_url,
        mqtt_prefix=PREFIX,
        mqtt_client_id="iaewatch-station-bench",
        metrics_token=METRICS_TOKEN,
    )
    uvicorn_server(build_service(settings, None), "127.0.0.1", port).run()


def gateway_main(
    mqtt_url: str, beds: list[str], seconds: float, alarms: Any, slots: int = SLOTS
) -> None:
    """Publish `beds`' data at real rates for `seconds`; raise the occlusions asked for on the
    `alarms` queue (bed names) as they come. Each second is cut in `slots`: each bed sends in
    its own slot, as devices that are not synchronised do (`slots=1`: every bed at the same
    instant, the worst burst), and waiting alarms are raised at every slot."""
    from app.mqtt import MqttBus
    from core.model import DeviceEvent, EventSource, Observation

    groups = [beds[i::slots] for i in range(slots)]

    async def run() -> None:
        bus = MqttBus(mqtt_url, prefix=PREFIX, receive=False)
        await bus.start()
        end = time.monotonic() + seconds
        tick = time.monotonic()
        n = 0
        while time.monotonic() < end:
            now = datetime.now(UTC)
            wobble = (n // slots % 7 - 3) / 3  # -1 … 1, the same at every bed
            for bed in groups[n % slots]:
                for params, device in (
                    (MONITOR, "monitor"),
                    (VENT, "vent"),
                    (PUMP, "pump-study"),
                    (PUMP, "pump-norepi"),
                ):
                    for code, unit, value, spread in params:
                        await bus.publish(
                            Observation(
                                t=now,
                                bed=bed,
                                code=code,
                                value=value + spread * wobble,
                                unit=unit,
                                device=device,
                            )
                        )
            with contextlib.suppress(Exception):
                while True:
                    bed = alarms.get_nowait()
                    await bus.publish(
                        DeviceEvent(
                            t=datetime.now(UTC),
                            bed=bed,
                            event="pump_alarm",
                            fields={"kind": "occlusion"},
                            source=EventSource.DEVICE,
                            device="pump-study",
                        )
                    )
            n += 1
            tick += 1.0 / slots
            await asyncio.sleep(max(0.0, tick - time.monotonic()))
        await bus.close()

    asyncio.run(run())


async def pipeline_lag(base: str) -> str:
    """The station's `iaewatch_pipeline_lag_seconds`, as /metrics gives it now."""
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        r = await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    for line in r.text.splitlines():
        if line.startswith("iaewatch_pipeline_lag_seconds"):
            return line.split()[-1]
    return f"not in /metrics (HTTP {r.status_code})"


async def database(kind: str, folder: Path) -> tuple[str, Any]:
    """A migrated database with a bench user; (url, cleanup)."""
    from app.security import hash_password
    from app.store import Store, upgrade

    if kind == "sqlite":
        url, cleanup = f"sqlite+aiosqlite:///{folder / 'bench.db'}", None
    else:
        from pgschema import create_pg_schema, drop_pg_schema, pg_url

        role = await create_pg_schema()
        url, cleanup = pg_url(role), (lambda: drop_pg_schema(role))
    await upgrade(url)
    store = await Store.open(url)
    await store.add_user("bench", "nurse", hash_password("bench-password-long"))
    await store.close()
    return url, cleanup


async def main(args: argparse.Namespace) -> None:
    import httpx

    folder = Path(tempfile.mkdtemp(prefix="iaew-scale-"))
    broker = Broker(folder)
    broker.start()
    mqtt_url = broker.url
    db_url, cleanup = await database(args.database, folder)
    ctx = mp.get_context("spawn")
    http_port = free_port()
    station = ctx.Process(target=station_main, args=(db_url, mqtt_url, http_port))
    station.start()
    beds = [f"ICU-{i + 1:03d}" for i in range(args.beds)]
    duration = args.warmup + args.seconds + args.alarms * args.spacing + 10
    queues = [ctx.Queue() for _ in range(args.gateway_procs)]
    gateways = [
        ctx.Process(
            target=gateway_main,
            args=(mqtt_url, beds[g :: args.gateway_procs], duration, q, 1 if args.burst else SLOTS),
        )
        for g, q in enumerate(queues)
    ]
    try:
        base = f"http://127.0.0.1:{http_port}"
        async with httpx.AsyncClient(base_url=base) as http:
            for _ in range(300):
                with contextlib.suppress(httpx.TransportError):
                    r = await http.post(
                        "/api/auth/login",
                        json={"username": "bench", "password": "bench-password-long"},
                    )
                    break
                await asyncio.sleep(0.1)
            token = r.json()["access_token"]
        for g in gateways:
            g.start()
        await asyncio.sleep(args.warmup)
        results = ctx.Queue()
        per_proc = max(1, args.clients // args.client_procs)
        # as the station page connects: each numerics flush in one message
        url = f"ws://127.0.0.1:{http_port}/ws/station?token={token}&numerics=batch"
        listen = args.seconds + args.alarms * args.spacing + 6
        clients = []
        for i in range(args.client_procs):
            n = per_proc if i < args.client_procs - 1 else args.clients - per_proc * i
            clients.append(ctx.Process(target=clients_main, args=(url, n, listen, results)))
        for c in clients:
            c.start()
        await asyncio.sleep(2)
        procs = {"station": station.pid, **{f"gateway{i}": g.pid for i, g in enumerate(gateways)}}
        profiler = None
        if args.profile:  # py-spy (pip install py-spy): where the station's time goes
            profiler = subprocess.Popen(  # noqa: ASYNC220 - a benchmark's side process
                [
                    "py-spy",
                    "record",
                    "--pid",
                    str(station.pid),
                    "--format",
                    "speedscope",
                    "--output",
                    args.profile,
                    "--duration",
                    str(int(args.seconds)),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        cpu0 = {k: cpu_s(pid) for k, pid in procs.items() if pid}
        t0 = time.monotonic()
        await asyncio.sleep(max(0.0, args.seconds - args.alarms * args.spacing))
        raised: dict[str, float] = {}
        for i, bed in enumerate(beds[: args.alarms]):
            raised[bed] = time.time()
            queues[i % args.gateway_procs].put(bed)  # gateway g holds beds[g::procs]
            await asyncio.sleep(args.spacing)
        elapsed = time.monotonic() - t0
        cpu = {k: (cpu_s(pid) - cpu0[k]) / elapsed * 100 for k, pid in procs.items() if pid}
        rss = {k: rss_mib(pid) for k, pid in procs.items() if pid}
        lag = await pipeline_lag(base)
        if profiler is not None:
            profiler.wait(60)
        receipts: dict[str, list[float]] = {}
        onsets: dict[str, float] = {}
        for _ in clients:
            got_r, got_o = await asyncio.to_thread(results.get, True, listen + 30)
            for b, ts in got_r.items():
                receipts.setdefault(b, []).extend(ts)
            onsets.update(got_o)
        for c in clients:
            c.join(10)
        # from the event's time at the gateway (the alert's onset), not from our request
        delays = sorted((t - onsets[b]) * 1000 for b, ts in receipts.items() for t in ts)
        complete = sum(1 for b in raised if len(receipts.get(b, [])) == args.clients)
        print(
            f"beds={args.beds} ({args.beds * 28:,} observations/s) clients={args.clients} "
            f"database={args.database} gateways={args.gateway_procs} processes, "
            + (
                "every bed at the same instant"
                if args.burst
                else f"beds spread over {SLOTS} slots a second"
            )
        )
        print(f"alarms seen by every client: {complete}/{len(raised)}")
        if delays:
            q = lambda p: delays[min(len(delays) - 1, int(p * len(delays)))]  # noqa: E731
            print(
                f"gateway alarm → websocket receipt: p50 {q(0.5):.1f} ms  p99 {q(0.99):.1f} ms  "
                f"max {delays[-1]:.1f} ms  (n={len(delays)}; target p99 < 100 ms)"
            )
        gw_cpu = sum(v for k, v in cpu.items() if k.startswith("gateway"))
        gw_rss = statistics.mean(v for k, v in rss.items() if k.startswith("gateway"))
        print(
            f"station: CPU {cpu['station']:.0f} % of a core, RSS {rss['station']:.0f} MiB "
            f"({rss['station'] / args.beds:.2f} MiB/bed); gateways: CPU {gw_cpu:.0f} % "
            f"({args.beds / max(gw_cpu / 100, 1e-9):.0f} beds per core), RSS "
            f"{gw_rss:.0f} MiB each ({gw_rss / (args.beds / args.gateway_procs):.2f} MiB/bed)"
        )
        print(f"station pipeline lag after the alarms: {lag} s (iaewatch_pipeline_lag_seconds)")
        print(
            f"load average (1 min) at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
        )
    finally:
        for g in gateways:
            if g.pid:
                g.terminate()
                g.join(10)
        station.terminate()
        station.join(10)
        broker.kill()
        if cleanup is not None:
            await cleanup()
        print(f"kept {folder}") if args.keep else shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--beds", type=int, default=100)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--client-procs", type=int, default=2)
    ap.add_argument("--gateway-procs", type=int, default=2)
    ap.add_argument("--alarms", type=int, default=20)
    ap.add_argument("--spacing", type=float, default=0.25)
    ap.add_argument("--warmup", type=float, default=10.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument(
        "--burst",
        action="store_true",
        help="every bed sends at the same instant each second (the worst case), not spread",
    )
    ap.add_argument("--keep", action="store_true", help="keep the database and logs")
    ap.add_argument("--profile", help="write a py-spy speedscope profile of the station here")
    ap.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    asyncio.run(main(ap.parse_args()))
