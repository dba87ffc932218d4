"""`kill -9` of the service with 20 alerts in its outbox (the alarm manager is down): after a
restart, with the alarm manager back, every transition arrives once, in seq order."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from realtime import free_port

from app.store import Store
from app.store.migrate import upgrade
from core.clock import RealClock
from simulators.alarm_manager import AlarmManager

ROOT = Path(__file__).parents[3]


def _start(folder: Path, port: int, count: int) -> subprocess.Popen[bytes]:
    (folder / "raised").unlink(missing_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "tests.app.outbound.outbound_service", str(folder), str(port),
         str(count)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=open(folder / "service.log", "ab"),
    )  # fmt: skip


async def _until(what: str, check: object, timeout: float, proc: subprocess.Popen[bytes]) -> None:
    """Poll `check` (a bound on a hung service, not a verdict)."""
    async with asyncio.timeout(timeout):
        while not await check():  # type: ignore[operator]
            assert proc.poll() is None, f"the service exited while waiting for {what}"
            await asyncio.sleep(0.05)


async def test_kill_9_with_a_full_outbox_then_restart_delivers_all_in_order_once(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'station.db'}"
    await upgrade(url)
    store = await Store.open(url)
    port = free_port()  # nothing listens: the alarm manager is down
    am = AlarmManager(RealClock())
    first = _start(tmp_path, port, 20)
    try:

        async def raised() -> bool:
            return (tmp_path / "raised").exists()

        await _until("20 alerts", raised, 60, first)
        depths = await store.outbox_depths()
        assert depths["am"].depth == 20
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        assert (await store.outbox_depths())["am"].depth == 20  # nothing lost by the kill

        await am.serve("127.0.0.1", port)
        second = _start(tmp_path, port, 0)
        try:

            async def drained() -> bool:
                return await store.outbox_depths() == {}

            await _until("the outbox to drain", drained, 60, second)
        finally:
            second.kill()
            second.wait(10)
        seqs = [a.seq for a in await store.transitions_after(0)]
        assert len(seqs) == 20
        assert am.accepted == [f"A{s}" for s in seqs]  # all, in seq order
        assert am.duplicates == 0
        assert [m.control_id for m in am.received] == am.accepted  # each sent once
    finally:
        if first.poll() is None:
            first.kill()
        await am.close()
        await store.close()
