"""The real service with a PCD-04 endpoint, as a process a test can `kill -9`
(`tests/app/outbound/test_kill.py`): `python -m tests.app.outbound.outbound_service DIR PORT N`.

DIR holds the migrated SQLite database (`station.db`); PORT is the alarm manager's MLLP port;
once the service runs, it raises N alerts through its alert desk (as the pipeline would) and
then writes `DIR/raised`.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from app.config import IcuConfig
from app.context import AppContext
from app.outbound.config import EndpointConfig, Kind
from app.runner import build_service, uvicorn_server
from app.settings import Mode, Settings
from core.clock import RealClock
from core.model import Alert, AlertState, Category, Phase, Priority


async def main(folder: Path, port: int, count: int) -> None:
    clock = RealClock()
    endpoint = EndpointConfig(
        name="am",
        kind=Kind.PCD_04,
        address=f"127.0.0.1:{port}",
        line=1,
        ack_timeout=2.0,
        retry_initial=0.2,
        retry_max=1.0,
    )
    icu = IcuConfig(beds=(), source="<outbound kill test>", outbound=(endpoint,))
    url = f"sqlite+aiosqlite:///{folder / 'station.db'}"
    settings = Settings(mode=Mode.TEST, database_url=url)
    app = build_service(settings, icu, clock=clock)
    server = uvicorn_server(app, "127.0.0.1", 0)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
            raise RuntimeError("the service stopped while starting")
        await asyncio.sleep(0.02)
    ctx: AppContext = app.state.ctx
    for n in range(count):
        t = clock.now()
        await ctx.alerts.commit(
            Alert(
                id=f"kill-{n}",
                bed="ICU-1",
                category=Category.HYPOTENSION,
                rule="map_low",
                priority=Priority.HIGH,
                phase=Phase.START,
                state=AlertState.ACTIVE,
                onset=t,
                t=t,
                message=f"MAP 52 mmHg (alert {n})",
            )
        )
    (folder / "raised").write_text(str(count))
    await serving  # until killed


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
