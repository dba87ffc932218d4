"""`kill -9` of the real service (issue #12, "Done when" 1 and 2).

The service runs in a subprocess (`tests/app/restart_service.py`: `app.runner.build_service`,
as `iaewatch serve` runs it, with a simulated IntelliVue monitor over TCP) on a SQLite file.
A clinician starts the infusion; the patient then desaturates (SpO2 85 %) and the monitor lists
VT. Once both alerts are committed and the hypoxemia acknowledged, the process is killed with
SIGKILL and started again on the same database, the patient unchanged. After the restart:
- the VT the new driver reports again continues the same episode (same id, an update): an IAE
  with the recorded infusion start in its evidence;
- the hypoxemia lasting across the restart raises nothing new, and stays acknowledged;
- `baseline_missing` (no pre-infusion data) is not raised again; one infusion record.
Killed during the pre-infusion baseline instead, the restarted service (whose monitor no
longer sends a heart rate) takes the heart-rate baseline from the samples the first stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from app.report.data import build_report
from app.security import hash_password
from app.store import Store
from app.store.migrate import upgrade
from core.model import Alert, Phase
from core.records import format_time
from monitors import default_ruleset

ROOT = Path(__file__).parents[2]
BED = "ICU-1"
STUDY_ID = "S-KILL"
SPO2 = "MDC_PULS_OXIM_SAT_O2"
HR_CODES = ["MDC_ECG_HEART_RATE", "MDC_PULS_OXIM_PULS_RATE"]
T = TypeVar("T")


def write_control(folder: Path, **wanted: object) -> None:
    tmp = folder / "control.tmp"
    tmp.write_text(json.dumps(wanted))
    tmp.rename(folder / "control.json")


async def until(what: str, check: Callable[[], Awaitable[T | None]], timeout: float) -> T:
    """Poll `check` until it gives a value (a bound on a hung service, not a verdict)."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                got = await check()
                if got is not None:
                    return got
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}") from None


class Service:
    """One run of the service process."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        (folder / "port").unlink(missing_ok=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.app.restart_service", str(folder)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(folder / "service.log", "ab"),  # noqa: SIM115 - closed with the process
        )

    async def url(self) -> str:
        async def port() -> str | None:
            if self.proc.poll() is not None:
                log = (self.folder / "service.log").read_text()[-2000:]
                raise AssertionError(f"the service exited ({self.proc.returncode}):\n{log}")
            p = self.folder / "port"
            return p.read_text() if p.exists() else None

        return f"http://127.0.0.1:{await until('the service to listen', port, 30)}"

    def kill9(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'station.db'}"
    await upgrade(url)
    s = await Store.open(url)
    await s.add_user("nurse1", "nurse", hash_password("night-shift-nurse"))
    try:
        yield s
    finally:
        await s.close()


@contextlib.asynccontextmanager
async def nurse(base: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client signed in as a nurse."""
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        r = await http.post(
            "/api/auth/login", json={"username": "nurse1", "password": "night-shift-nurse"}
        )
        r.raise_for_status()
        http.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        yield http


async def start_infusion(http: httpx.AsyncClient) -> None:
    body = {
        "weight_kg": 70,
        "volume_ml": 100,
        "planned_min": 45,
        "override_reason": "kill -9 restart test",
    }
    r = await http.post(f"/api/beds/{BED}/infusion/start", json=body)
    assert r.status_code == 201, r.text


async def alerts_of(store: Store, rule: str) -> list[Alert]:
    return [a for a in await store.alerts(bed=BED) if a.rule == rule]


async def transitions(store: Store, alert_id: str, after: datetime) -> list[Alert]:
    return [a for a in await store.alert_history(alert_id) if a.t > after]


@pytest.mark.timeout(150)
async def test_kill_9_mid_window_continues_the_episodes(tmp_path: Path, store: Store) -> None:
    await store.enrol_patient(
        bed=BED, study_id=STUDY_ID, weight_kg=70, arm="unknown", ards_onset=None
    )
    write_control(tmp_path)
    first = Service(tmp_path)
    second: Service | None = None
    try:
        async with nurse(await first.url()) as http:
            await start_infusion(http)
            write_control(tmp_path, set={SPO2: 85}, rhythms=["VT"])

            async def both() -> tuple[Alert, Alert] | None:
                vt, hyp = (
                    await alerts_of(store, "arrhythmia"),
                    await alerts_of(store, "hypoxemia_spo2"),
                )
                return (vt[0], hyp[0]) if vt and hyp else None

            vt, hyp = await until("the VT and hypoxemia alerts", both, 60)
            r = await http.post(f"/api/alerts/{hyp.id}/ack")
            assert r.status_code == 200, r.text
        infusion = await store.current_infusion(BED)
        assert infusion is not None
        assert vt.iae is True and vt.evidence["infusion_start"] == format_time(infusion.started_at)
        missing_before = await alerts_of(store, "baseline_missing")

        first.kill9()
        killed_at = datetime.now().astimezone()
        second = Service(tmp_path)
        await second.url()

        # the restarted service has watched the patient longer than the hypoxemia's
        # persistence (15 s), and the monitor has reported the VT to its new driver
        async def watched() -> bool | None:
            newest = await store.latest_values(BED)
            spo2 = newest.get(SPO2)
            late = spo2 is not None and spo2.t > killed_at + timedelta(seconds=20)
            reported = [a for a in await alerts_of(store, "arrhythmia") if a.t > killed_at]
            return True if late and reported else None

        await until("20 s of data after the restart and the VT reported again", watched, 60)
    finally:
        first.kill9()
        if second is not None:
            second.kill9()

    vts = await alerts_of(store, "arrhythmia")
    assert [a.id for a in vts] == [vt.id]  # the VT continued: no second alert
    after = await transitions(store, vt.id, killed_at)
    assert after and all(a.phase is not Phase.START for a in after)
    assert after[0].iae is True
    assert after[0].evidence["infusion_start"] == format_time(infusion.started_at)
    hyps = await alerts_of(store, "hypoxemia_spo2")
    assert [a.id for a in hyps] == [hyp.id]
    assert hyps[0].acked_by == "nurse1" and hyps[0].ended_at is None
    assert await transitions(store, hyp.id, killed_at) == []
    missing_after = await alerts_of(store, "baseline_missing")
    assert [a.id for a in missing_after] == [a.id for a in missing_before]
    for a in missing_after:
        assert await transitions(store, a.id, killed_at) == []
    assert len(await store.infusions(bed=BED)) == 1

    # the 24 h report shows one episode where there was one, an IAE from the true start
    report = await build_report(
        store, STUDY_ID, datetime.now().astimezone(), ruleset=default_ruleset()
    )
    listed = [a for a in report.alerts if a["rule"] in ("arrhythmia", "hypoxemia_spo2")]
    assert sorted(a["id"] for a in listed) == sorted([vt.id, hyp.id])
    (reported_vt,) = [a for a in listed if a["rule"] == "arrhythmia"]
    assert reported_vt["iae"] is True
    assert reported_vt["evidence"]["infusion_start"] == format_time(infusion.started_at)


@pytest.mark.timeout(120)
async def test_kill_9_during_the_baseline_rebuilds_it_from_stored_data(
    tmp_path: Path, store: Store
) -> None:
    write_control(tmp_path)
    first = Service(tmp_path)
    second: Service | None = None
    try:
        await first.url()

        async def stored() -> int | None:
            n = len(await store.observations(BED, HR_CODES[:1]))
            return n if n >= 8 else None

        await until("heart rates stored before the start", stored, 30)
        first.kill9()
        killed_at = datetime.now().astimezone()
        write_control(tmp_path, drop=HR_CODES)
        second = Service(tmp_path)
        async with nurse(await second.url()) as http:
            await start_infusion(http)

        async def raised() -> Alert | None:
            found = await alerts_of(store, "baseline_missing")
            return found[0] if found else None

        missing = await until("the baseline check at the infusion start", raised, 30)
    finally:
        first.kill9()
        if second is not None:
            second.kill9()
    rates = await store.observations(BED, HR_CODES[:1])
    assert rates and all(o.t < killed_at for o in rates)  # only the killed run measured it
    assert "hr" not in missing.evidence["missing"]  # the baseline took the stored samples
    assert "pf" in missing.evidence["missing"]  # no blood gas: that one is truly missing
