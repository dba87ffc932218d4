"""The real service with one simulated IntelliVue monitor, as a process a test can `kill -9`
(`tests/app/test_restart_kill.py`): `python -m tests.app.restart_service DIR`.

DIR holds the migrated SQLite database (`station.db`). Once the service listens, its HTTP
port is written to `DIR/port`. The monitor's values and rhythm alarms follow
`DIR/control.json` ({"set": {code: value}, "drop": [code], "rhythms": ["VT"]} over the
default adult ARDS patient), read every 0.2 s, so a test steers the patient of a process it
cannot reach otherwise, and a restarted process finds the patient as it was.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from app.config import BedConfig, DeviceConfig, IcuConfig
from app.runner import build_service, uvicorn_server
from app.settings import Mode, Settings
from core.clock import RealClock
from drivers.transport import SerialSettings
from simulators.intellivue_monitor import IntellivueSimulator
from simulators.source import DEFAULT_ADULT_ARDS, FixedVitals

BED = "ICU-1"


def _steer(control: Path, vitals: FixedVitals) -> None:
    try:
        wanted = json.loads(control.read_text())
    except (OSError, ValueError):
        return  # absent, or caught half-written: the next read will do
    values = {**DEFAULT_ADULT_ARDS, **wanted.get("set", {})}
    for code in wanted.get("drop", []):
        values.pop(code, None)
    vitals.values.clear()
    vitals.values.update(values)
    vitals.rhythms[:] = [str(r) for r in wanted.get("rhythms", [])]


async def main(folder: Path) -> None:
    clock = RealClock()
    vitals = FixedVitals(dict(DEFAULT_ADULT_ARDS))
    control = folder / "control.json"
    _steer(control, vitals)
    monitor = IntellivueSimulator(vitals, clock)
    monitor_port = await monitor.serve_tcp("127.0.0.1", 0)
    device = DeviceConfig(
        bed=BED,
        id="monitor",
        kind="monitor",
        protocol="intellivue",
        address=f"socket://127.0.0.1:{monitor_port}",
        line=1,
        serial=SerialSettings(baudrate=115200, parity="N"),
        poll_interval=1.0,
        stale_after=5.0,
    )
    icu = IcuConfig(beds=(BedConfig(bed=BED, label=BED, devices=(device,)),), source="<kill test>")
    url = f"sqlite+aiosqlite:///{folder / 'station.db'}"
    settings = Settings(mode=Mode.TEST, database_url=url, numerics_throttle_s=0.2)
    server = uvicorn_server(build_service(settings, icu, clock=clock), "127.0.0.1", 0)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
            raise RuntimeError("the service stopped while starting")
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    (folder / "port.tmp").write_text(str(port))
    (folder / "port.tmp").rename(folder / "port")
    while not serving.done():  # until killed
        _steer(control, vitals)
        await asyncio.sleep(0.2)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
