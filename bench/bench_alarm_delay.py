"""Alarm system delay, end to end: device frame → websocket client receipt (p50/p99).

The service runs in a subprocess exactly as `iaewatch serve` builds it (drivers, pipeline,
rules engine, SQLite store, hub), reading `--beds` simulated beds: each bed has a study pump
behind a Modbus TCP gateway simulator (10 beds per gateway, one unit id each) polled at
1 Hz, plus a simulated IntelliVue monitor (numerics load). This process holds the simulators;
`--clients` station websocket clients run in `--client-procs` other processes. Occlusions are
raised one bed at a time; for each resulting `infusion_problem` alert,

    delay = client receipt − alert onset,

where the onset is the driver's timestamp of the frame that carried the alarm bit, so the
figure covers decode, bus, rules engine, the database commit, fan-out and the socket. The
time from the alarm to the next poll (up to the 1 s poll interval) is printed separately as
`poll wait`, the part a shorter poll interval would remove.

    .venv/bin/python bench/bench_alarm_delay.py [--beds 100] [--clients 20] [--alarms 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def serve(db_url: str, config_path: str, port: int) -> None:
    import os

    os.environ["IAEWATCH_SECRET_KEY"] = "bench-" + "x" * 40
    from app.config import load_config
    from app.runner import build_service, uvicorn_server
    from app.settings import Settings

    settings = Settings(database_url=db_url, port=port)
    app = build_service(settings, load_config(config_path))
    uvicorn_server(app, "127.0.0.1", port).run()


def clients_main(url: str, n: int, seconds: float, out: Any) -> None:
    """`n` station clients in their own process, so that their parsing does not delay the
    simulators' or the service's loops (nor their own receipt stamps). A client parses only
    what may be an alert: on this 2-core machine, 100 clients parsing every numerics flush of
    500 beds took more CPU than the station they measure (browsers run elsewhere)."""
    import websockets

    receipts: dict[str, list[float]] = {}
    onsets: dict[str, float] = {}

    async def client() -> None:
        async with websockets.connect(url, max_size=None) as ws:
            async for raw in ws:
                now = time.time()
                if '"alert"' not in raw:
                    continue
                msg = json.loads(raw)
                if msg.get("type") == "alert":
                    a = msg["alert"]
                    if a["category"] == "infusion_problem" and a["phase"] == "start":
                        receipts.setdefault(a["bed"], []).append(now)
                        onsets[a["bed"]] = datetime.fromisoformat(
                            a["onset"].replace("Z", "+00:00")
                        ).timestamp()

    async def run() -> None:
        tasks = [asyncio.create_task(client()) for _ in range(n)]
        await asyncio.sleep(seconds)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(run())
    out.put((receipts, onsets))


async def main(args: argparse.Namespace) -> None:
    import httpx

    from app.security import hash_password
    from app.store import Store, upgrade
    from core.clock import RealClock
    from simulators.intellivue_monitor import IntellivueSimulator
    from simulators.pump import PumpSimulator
    from simulators.pump_state import PumpState
    from simulators.source import DEFAULT_ADULT_ARDS, FixedVitals

    # the simulators' pymodbus servers log the closing of their links at the end with a dump
    # of the last frames, as the service's drivers would (they too keep it quiet)
    logging.getLogger("pymodbus.logging").setLevel(logging.CRITICAL)
    clock = RealClock()
    tmp = Path(tempfile.mkdtemp(prefix="iaew-bench-"))
    db_url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    await upgrade(db_url)
    store = await Store.open(db_url)
    await store.add_user("bench", "nurse", hash_password("bench-password"))
    await store.close()

    pumps = {f"ICU-{i + 1:03d}": PumpState(vtbi_ml=100.0) for i in range(args.beds)}
    for p in pumps.values():
        p.start(rate_ml_h=133.0)
    gateways, lines = [], ["beds:"]
    names = list(pumps)
    monitor = IntellivueSimulator(FixedVitals(values=dict(DEFAULT_ADULT_ARDS)), clock)
    mon_port = await monitor.serve_tcp() if args.monitors else 0
    for g in range(0, len(names), 10):
        group = names[g : g + 10]
        sim = PumpSimulator({u + 1: pumps[b] for u, b in enumerate(group)}, clock)
        port = await sim.serve_tcp()
        gateways.append(sim)
        for u, bed in enumerate(group):
            lines += [
                f"  - bed: {bed}",
                "    devices:",
                f"      - {{id: pump, kind: pump, protocol: modbus-tcp, address: "
                f"'127.0.0.1:{port}', unit: {u + 1}}}",
            ]
            if args.monitors:
                lines.append(
                    f"      - {{id: monitor, kind: monitor, protocol: intellivue, "
                    f"address: 'socket://127.0.0.1:{mon_port}'}}"
                )
            else:
                lines.append(
                    "      - {id: monitor, kind: monitor, protocol: intellivue, "
                    "address: 'socket://127.0.0.1:9'}"
                )
    config = tmp / "icu.yaml"
    config.write_text("\n".join(lines) + "\n")

    http_port = 18765
    proc = mp.get_context("spawn").Process(target=serve, args=(db_url, str(config), http_port))
    proc.start()
    base = f"http://127.0.0.1:{http_port}"
    try:
        async with httpx.AsyncClient(base_url=base) as http:
            for _ in range(200):
                try:
                    r = await http.post(
                        "/api/auth/login", json={"username": "bench", "password": "bench-password"}
                    )
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            token = r.json()["access_token"]
        await asyncio.sleep(args.warmup)

        ctx = mp.get_context("spawn")
        results = ctx.Queue()
        per_proc = max(1, args.clients // args.client_procs)
        duration = 4 + args.alarms * args.spacing + 6
        url = f"ws://127.0.0.1:{http_port}/ws/station?token={token}"
        procs = []
        for i in range(args.client_procs):
            n = per_proc if i < args.client_procs - 1 else args.clients - per_proc * i
            procs.append(ctx.Process(target=clients_main, args=(url, n, duration, results)))
        for p in procs:
            p.start()
        await asyncio.sleep(4)
        raised: dict[str, float] = {}
        for bed in names[: args.alarms]:
            raised[bed] = time.time()
            pumps[bed].raise_alarm("occlusion")
            await asyncio.sleep(args.spacing)
        receipts: dict[str, list[float]] = {}
        onsets: dict[str, float] = {}
        for _ in procs:
            while True:
                try:
                    got_r, got_o = results.get_nowait()
                    break
                except Exception:
                    await asyncio.sleep(0.2)
            for b, ts in got_r.items():
                receipts.setdefault(b, []).extend(ts)
            onsets.update(got_o)
        for p in procs:
            p.join(10)

        delays = [(t - onsets[b]) * 1000 for b, ts in receipts.items() for t in ts]
        waits = [(onsets[b] - raised[b]) * 1000 for b in receipts if b in raised]
        complete = sum(1 for b in raised if len(receipts.get(b, [])) == args.clients)
        delays.sort()
        print(
            f"beds={args.beds} clients={args.clients} alarms={len(raised)} "
            f"monitors={'yes' if args.monitors else 'no'}"
        )
        print(f"alarms seen by every client: {complete}/{len(raised)}")
        if delays:
            p = lambda q: delays[min(len(delays) - 1, int(q * len(delays)))]  # noqa: E731
            print(
                f"frame → websocket receipt: p50 {p(0.50):.1f} ms  p90 {p(0.90):.1f} ms  "
                f"p99 {p(0.99):.1f} ms  max {delays[-1]:.1f} ms  (n={len(delays)})"
            )
        if waits:
            print(
                f"poll wait (alarm → frame, 1 s poll): median {statistics.median(waits):.0f} "
                f"ms, max {max(waits):.0f} ms"
            )
    finally:
        proc.terminate()
        proc.join(10)
        for g in gateways:
            await g.close()
        await monitor.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--beds", type=int, default=100)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--alarms", type=int, default=40)
    ap.add_argument("--client-procs", type=int, default=4, help="processes holding the clients")
    ap.add_argument("--spacing", type=float, default=0.25)
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--monitors", action="store_true", help="also stream IntelliVue numerics")
    asyncio.run(main(ap.parse_args()))
