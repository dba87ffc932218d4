"""Alert latency to station websocket clients under numerics load.

A server process runs the real app (uvicorn, SQLite file, migrations) and a load generator:
numerics for `--beds` beds (`--codes` parameters each, every second) are published to the hub
and written to the store in one batch a second, as the pipeline does; meanwhile an alert
transition is committed every `--interval` seconds through `Hub.commit_alert`, stamped with
the wall time just before the commit. This process holds `--clients` websocket clients that
parse every message and record when each alert arrives. Latency = receipt − stamp, so it
covers the database commit, the fan-out, the socket and the client's JSON parse.

    .venv/bin/python bench/bench_ws.py [--clients 20] [--beds 100] [--alerts 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CODES = [
    "MDC_PULS_OXIM_SAT_O2",
    "MDC_PULS_OXIM_PULS_RATE",
    "MDC_ECG_HEART_RATE",
    "MDC_PRESS_BLD_ART_SYS",
    "MDC_PRESS_BLD_ART_DIA",
    "MDC_PRESS_BLD_ART_MEAN",
    "MDC_TEMP_BLD",
    "MDC_RESP_RATE",
    "MDC_AWAY_CO2_ET",
    "MDC_VENT_CONC_AWAY_O2_INSP",
    "MDC_PRESS_AWAY_END_EXP_POS",
    "MDC_PRESS_AWAY_INSP_PEAK",
]


def server_main(args: argparse.Namespace, conn: Any) -> None:
    asyncio.run(_server(args, conn))


async def _server(args: argparse.Namespace, conn: Any) -> None:
    import uvicorn

    from app.auth import issue_token
    from app.main import create_app
    from app.security import hash_password
    from app.settings import Settings
    from app.store import Store
    from app.store.migrate import upgrade
    from app.store.rows import Role

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        await upgrade(url)
        store = await Store.open(url)
        await store.add_user("bench", Role.NURSE, hash_password("bench password"))
        beds = [f"ICU-{i:03d}" for i in range(1, args.beds + 1)]
        for bed in beds:
            await store.upsert_bed(bed)
        await store.close()

        settings = Settings(database_url=url, secret_key="b" * 48)
        app = create_app(settings)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        )
        serving = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
            await asyncio.sleep(0.01)
        ctx = app.state.ctx
        token, _ = issue_token(ctx, "bench", Role.NURSE)
        conn.send({"port": server.servers[0].sockets[0].getsockname()[1], "token": token})

        loop = asyncio.get_running_loop()
        while ctx.hub.client_count < args.clients:  # noqa: ASYNC110 - polled, no event
            await asyncio.sleep(0.05)
        numerics = asyncio.create_task(_numerics(ctx, beds, args.codes, args.store_writes))
        await asyncio.sleep(2)  # numerics flowing before the first alert
        commit_s = await _alerts(ctx, beds, args)
        await asyncio.sleep(1)
        conn.send({"done": True, "published": ctx.hub.published_seq, "commit_s": commit_s})
        await loop.run_in_executor(None, conn.recv)  # the clients have read everything
        numerics.cancel()
        server.should_exit = True
        await serving


async def _numerics(ctx: Any, beds: list[str], n_codes: int, store_writes: bool) -> None:
    from core.model import Observation

    tick = 0
    while True:
        t = datetime.now(UTC)
        batch = []
        for b, bed in enumerate(beds):
            values = {
                code: Observation(t=t, bed=bed, code=code, value=50 + (tick + b + i) % 40, unit="1")
                for i, code in enumerate(CODES[:n_codes])
            }
            batch.extend(values.values())
            await ctx.hub.publish_numerics(bed, values)
        if store_writes:
            await ctx.store.add_observations(batch)
        tick += 1
        await asyncio.sleep(1.0)


async def _alerts(ctx: Any, beds: list[str], args: argparse.Namespace) -> list[float]:
    """Commit the alerts; returns how long each commit (database + enqueue) took."""
    from core.model import Alert, AlertState, Category, Phase, Priority

    took = []
    for n in range(args.alerts):
        bed = beds[n % len(beds)]
        now = datetime.now(UTC)
        alert = Alert(
            id=f"bench-{n // 2}",
            bed=bed,
            category=Category.HYPOXEMIA,
            rule="spo2_low",
            priority=Priority.HIGH,
            phase=Phase.START if n % 2 == 0 else Phase.END,
            state=AlertState.ACTIVE if n % 2 == 0 else AlertState.RESOLVED,
            onset=now,
            t=now,
            message="bench",
            evidence={"stamp": time.time()},
        )
        await ctx.alerts.commit(alert)
        took.append(time.time() - alert.evidence["stamp"])
        await asyncio.sleep(args.interval)
    return took


async def _client(
    url: str,
    latencies: list[float],
    seqs: list[int],
    counts: dict[str, int],
    compression: bool,
) -> None:
    from websockets.asyncio.client import connect

    deflate = "deflate" if compression else None
    async with connect(url, proxy=None, max_size=None, compression=deflate) as ws:
        async for raw in ws:
            msg = json.loads(raw)
            kind = msg["type"]
            counts[kind] = counts.get(kind, 0) + 1
            if kind == "alert":
                latencies.append(time.time() - msg["alert"]["evidence"]["stamp"])
                seqs.append(msg["seq"])


def clients_main(url: str, n: int, compression: bool, conn: Any) -> None:
    """A worker process holding `n` clients; sends back what they saw when told to stop."""
    asyncio.run(_clients(url, n, compression, conn))


async def _clients(url: str, n: int, compression: bool, conn: Any) -> None:
    latencies: list[list[float]] = [[] for _ in range(n)]
    seqs: list[list[int]] = [[] for _ in range(n)]
    counts: list[dict[str, int]] = [{} for _ in range(n)]
    tasks = [
        asyncio.create_task(_client(url, latencies[i], seqs[i], counts[i], compression))
        for i in range(n)
    ]
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    conn.send((latencies, seqs, counts))


async def _run(args: argparse.Namespace) -> int:
    mpc = mp.get_context("spawn")
    parent, child = mpc.Pipe()
    server = mpc.Process(target=server_main, args=(args, child), daemon=True)
    server.start()
    child.close()  # the server's end only: a server that dies ends `recv` with EOFError
    loop = asyncio.get_running_loop()
    try:
        hello = await loop.run_in_executor(None, parent.recv)
    except EOFError:
        print(f"the bench's server process failed (exit code {server.exitcode})", file=sys.stderr)
        return 1
    url = f"ws://127.0.0.1:{hello['port']}/ws/station?token={hello['token']}"
    workers = []
    for w in range(args.client_procs):
        n = args.clients // args.client_procs + (w < args.clients % args.client_procs)
        mine, theirs = mpc.Pipe()
        proc = mpc.Process(target=clients_main, args=(url, n, args.compression, theirs))
        proc.start()
        workers.append((proc, mine))
    started = time.monotonic()
    done = await loop.run_in_executor(None, parent.recv)
    elapsed = time.monotonic() - started
    await asyncio.sleep(0.5)
    latencies: list[list[float]] = []
    seqs: list[list[int]] = []
    counts: list[dict[str, int]] = []
    for proc, pipe in workers:
        pipe.send("stop")
        lat, sq, cn = await loop.run_in_executor(None, pipe.recv)
        latencies += lat
        seqs += sq
        counts += cn
        await loop.run_in_executor(None, proc.join, 10)
    parent.send("stop")
    await loop.run_in_executor(None, server.join, 10)

    all_ms = sorted(x * 1000 for per in latencies for x in per)
    expected = list(range(1, done["published"] + 1))
    complete = sum(1 for s in seqs if s == expected)
    q = statistics.quantiles(all_ms, n=100)
    numerics = sum(c.get("numerics", 0) for c in counts)
    print(
        f"clients {args.clients} in {args.client_procs} processes, beds {args.beds} x "
        f"{args.codes} codes, numerics throttle 1.0 s, alerts {args.alerts} every "
        f"{args.interval * 1000:.0f} ms, store writes {'on' if args.store_writes else 'off'}, "
        f"permessage-deflate {'on' if args.compression else 'off'}"
    )
    print(f"alert latency (commit+publish -> client receipt), {len(all_ms)} samples:")
    print(
        f"  p50 {q[49]:.1f} ms   p90 {q[89]:.1f} ms   p99 {q[98]:.1f} ms   max {all_ms[-1]:.1f} ms"
    )
    commit_ms = sorted(x * 1000 for x in done["commit_s"])
    cq = statistics.quantiles(commit_ms, n=100)
    print(
        f"  of which commit (database + enqueue to all clients): p50 {cq[49]:.1f} ms   "
        f"p99 {cq[98]:.1f} ms   max {commit_ms[-1]:.1f} ms"
    )
    print(f"clients that saw every alert seq exactly once, in order: {complete}/{args.clients}")
    print(
        f"numerics messages received: {numerics} "
        f"({numerics / elapsed / args.clients:.0f}/s per client over {elapsed:.1f} s)"
    )
    ok = q[98] < args.target_ms and complete == args.clients
    print(f"target p99 < {args.target_ms:.0f} ms: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--client-procs", type=int, default=4, help="processes holding the clients")
    p.add_argument("--beds", type=int, default=100)
    p.add_argument("--codes", type=int, default=10, choices=range(1, len(CODES) + 1))
    p.add_argument("--alerts", type=int, default=300)
    p.add_argument("--interval", type=float, default=0.03)
    p.add_argument("--target-ms", type=float, default=100.0)
    p.add_argument(
        "--no-store-writes",
        dest="store_writes",
        action="store_false",
        help="publish numerics to the hub only, without writing them to the database",
    )
    p.add_argument(
        "--no-compression",
        dest="compression",
        action="store_false",
        help="clients do not offer permessage-deflate",
    )
    raise SystemExit(asyncio.run(_run(p.parse_args())))


if __name__ == "__main__":
    main()
