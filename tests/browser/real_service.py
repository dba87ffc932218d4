"""The real iaewatch service with simulated devices, run in a background thread for the browser
tests (Playwright's sync API owns the main thread and marks its event loop as running).

One bed, ICU-1: a study pump behind a simulated Modbus TCP gateway and a simulated Philips
IntelliVue monitor over TCP (`socket://127.0.0.1:PORT`), a migrated SQLite database in a temp
folder, a nurse and an engineer account, and an enrolled patient. Everything async (service,
simulators, store) lives on the thread's own event loop; tests change the simulated devices
through `RealStation.run`, which executes on that loop so no simulator state is touched from
two threads at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI

from app.config import BedConfig, DeviceConfig, IcuConfig, SiteConfig
from app.context import AppContext
from app.runner import build_service, uvicorn_server
from app.security import hash_password
from app.settings import Mode, Settings
from app.store import Store
from app.store.migrate import upgrade
from core.clock import RealClock
from drivers.modbus.profile import load_profile
from drivers.transport import SerialSettings
from simulators.faults import Faults
from simulators.intellivue_monitor import IntellivueSimulator
from simulators.pump import PumpSimulator
from simulators.pump_state import PumpState
from simulators.source import DEFAULT_ADULT_ARDS, FixedVitals

T = TypeVar("T")

THREAD_NAME = "real-station"
BED = "ICU-1"
STUDY_ID = "S-001"
PUMP_ID = "pump-study"
MONITOR_ID = "monitor"
USERS = {
    "nurse1": ("night-shift-nurse", "nurse"),
    "eng1": ("wires-and-frames", "engineer"),
}
SITE = SiteConfig(name="Guangzhou ICU", timezone="Asia/Shanghai")
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 15.0


@dataclass
class RealStation:
    """A running service: its URL, the simulated devices, and the loop they live on."""

    url: str
    db_url: str
    pump: PumpState
    pump_faults: Faults
    monitor_faults: Faults
    vitals: FixedVitals
    loop: asyncio.AbstractEventLoop
    app: FastAPI
    stop_http: Callable[[], None]

    @property
    def ctx(self) -> AppContext:
        """The running service's context (use it on the service's loop only)."""
        ctx: AppContext = self.app.state.ctx
        return ctx

    def stop_server(self, timeout: float = 10.0) -> None:
        """Stop the HTTP server (the page loses its websocket); the simulators go on."""
        self.call(self._stop, timeout)

    async def _stop(self) -> None:
        self.stop_http()

    def run(self, fn: Callable[[], T], timeout: float = 5.0) -> T:
        """Call `fn` on the service's event loop (to change a simulator) and return its result."""

        async def call() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(timeout)

    def call(self, make: Callable[[], Awaitable[T]], timeout: float = 10.0) -> T:
        """Await the coroutine `make()` on the service's event loop; return its result."""

        async def call() -> T:
            return await make()

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(timeout)

    def token(self, username: str) -> str:
        """A bearer token from the real login endpoint."""
        password = USERS[username][0]
        r = httpx.post(
            f"{self.url}/api/auth/login",
            json={"username": username, "password": password},
            timeout=5.0,
        )
        r.raise_for_status()
        return str(r.json()["access_token"])

    def get(self, path: str, username: str, **params: Any) -> Any:
        """GET an API path with a token of `username`; the decoded JSON."""
        r = httpx.get(
            f"{self.url}{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.token(username)}"},
            timeout=5.0,
        )
        r.raise_for_status()
        return r.json()

    def stored_alert(self, alert_id: str) -> Any:
        """The alert's current state as the store has it (read on the service loop)."""

        async def read() -> Any:
            store = await Store.open(self.db_url)
            try:
                return await store.alert(alert_id)
            finally:
                await store.close()

        return self.call(read)


async def _prepare_database(url: str, clock: RealClock) -> None:
    await upgrade(url)
    store = await Store.open(url)
    try:
        for name, (password, role) in USERS.items():
            await store.add_user(name, role, hash_password(password))
        await store.enrol_patient(
            bed=BED,
            study_id=STUDY_ID,
            weight_kg=70,
            arm="cells",
            ards_onset=clock.now() - timedelta(hours=30),
        )
    finally:
        await store.close()


def _icu(pump_port: int, monitor_port: int) -> IcuConfig:
    pump = DeviceConfig(
        bed=BED,
        id=PUMP_ID,
        kind="pump",
        protocol="modbus-tcp",
        address=f"127.0.0.1:{pump_port}",
        line=1,
        profile=load_profile(),
        role="study",
        poll_interval=0.2,
        stale_after=2.0,
    )
    monitor = DeviceConfig(
        bed=BED,
        id=MONITOR_ID,
        kind="monitor",
        protocol="intellivue",
        address=f"socket://127.0.0.1:{monitor_port}",
        line=2,
        serial=SerialSettings(baudrate=115200, parity="N"),
        poll_interval=1.0,  # the monitor drops polls of one object type less than 1 s apart
        stale_after=5.0,
    )
    return IcuConfig(
        beds=(BedConfig(bed=BED, label=BED, devices=(pump, monitor)),),
        source="<browser test>",
        site=SITE,
    )


async def _serve(
    tmp: Path,
    started: concurrent.futures.Future[RealStation],
    stop: asyncio.Event,
    token_ttl_s: int,
) -> None:
    clock = RealClock()
    url = f"sqlite+aiosqlite:///{tmp / 'station.db'}"
    await _prepare_database(url, clock)

    pump = PumpState(vtbi_ml=100.0)
    faults = Faults()
    pump_sim = PumpSimulator({1: pump}, clock, faults)
    vitals = FixedVitals(dict(DEFAULT_ADULT_ARDS))
    monitor_faults = Faults()
    monitor_sim = IntellivueSimulator(vitals, clock, monitor_faults)
    async with contextlib.AsyncExitStack() as stack:
        pump_port = await pump_sim.serve_tcp("127.0.0.1", 0)
        stack.push_async_callback(pump_sim.close)
        monitor_port = await monitor_sim.serve_tcp("127.0.0.1", 0)
        stack.push_async_callback(monitor_sim.close)

        settings = Settings(
            mode=Mode.TEST, database_url=url, numerics_throttle_s=0.2, token_ttl_s=token_ttl_s
        )
        app = build_service(settings, _icu(pump_port, monitor_port), clock=clock)
        server = uvicorn_server(app, "127.0.0.1", 0)
        serving = asyncio.create_task(server.serve(), name="real-station-uvicorn")

        async def shut_down() -> None:
            server.should_exit = True
            await serving

        def stop_http() -> None:
            server.should_exit = True

        stack.push_async_callback(shut_down)
        async with asyncio.timeout(START_TIMEOUT_S):
            while not server.started:
                if serving.done():  # the lifespan failed: its exception says why
                    serving.result()
                    raise RuntimeError("the service stopped while starting")
                await asyncio.sleep(0.02)
        http_port = server.servers[0].sockets[0].getsockname()[1]
        started.set_result(
            RealStation(
                url=f"http://127.0.0.1:{http_port}",
                db_url=url,
                pump=pump,
                pump_faults=faults,
                monitor_faults=monitor_faults,
                vitals=vitals,
                loop=asyncio.get_running_loop(),
                app=app,
                stop_http=stop_http,
            )
        )
        await stop.wait()


@contextlib.contextmanager
def running_real_station(tmp: Path, *, token_ttl_s: int = 3600) -> Iterator[RealStation]:
    """Start the service and its simulators in a thread; stop and join it on exit."""
    started: concurrent.futures.Future[RealStation] = concurrent.futures.Future()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    failures: list[BaseException] = []

    def main() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(_serve(tmp, started, stop, token_ttl_s))
        except BaseException as exc:  # surfaced to the test: at start, or after the join
            if not started.done():
                started.set_exception(exc)
            else:
                failures.append(exc)
        finally:
            _cancel_leftovers(loop)
            loop.close()

    thread = threading.Thread(target=main, name=THREAD_NAME, daemon=True)
    thread.start()
    try:
        station = started.result(timeout=START_TIMEOUT_S + 10)
        yield station
    finally:
        if not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(stop.set)
        thread.join(STOP_TIMEOUT_S)
        if thread.is_alive():
            raise RuntimeError(f"the {THREAD_NAME} thread did not stop in {STOP_TIMEOUT_S} s")
        if failures:
            raise RuntimeError("the service failed while stopping") from failures[0]


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel whatever a library left running, so the loop closes without warnings."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in pending:
        t.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(loop.shutdown_default_executor())  # getaddrinfo's worker threads
