"""The order check against a simulated study pump programmed wrongly, over Modbus TCP: the
real driver reads the pump, its `pump_program` events go through the trial engine."""

from __future__ import annotations

import asyncio
import contextlib

from core.clock import RealClock
from core.model import Alert, DeviceEvent, Phase
from drivers.base import DriverOutput
from drivers.modbus.driver import ModbusPumpDriver
from drivers.modbus.profile import load_profile
from monitors import default_ruleset
from monitors.trial.order_check import PAUSE_RULE, PROGRAMME_RULE, OrderCheck, TrialEngine
from simulators.pump import PumpSimulator
from simulators.pump_state import PumpState


async def test_a_wrongly_programmed_pump_raises_an_infusion_problem() -> None:
    clock = RealClock()
    pump = PumpState(role="study", rate_ml_h=300.0, vtbi_ml=150.0)  # both off the order
    sim = PumpSimulator({1: pump}, clock)
    port = await sim.serve_tcp("127.0.0.1", 0)
    driver = ModbusPumpDriver(
        bed="ICU-1",
        device_id="pump-study",
        clock=clock,
        profile=load_profile(),
        transport="tcp",
        address=f"127.0.0.1:{port}",
        weight_kg=lambda: 70.0,
        poll_interval=0.05,
    )
    # pauses of 0.3 s count as long, so the test runs in real time, fast
    engine = TrialEngine(default_ruleset(), order_check=OrderCheck(pause_s=0.3))
    alerts: list[Alert] = []
    seen: list[DriverOutput] = []
    changed = asyncio.Event()

    async def run() -> None:
        async for item in driver.stream():
            seen.append(item)
            if isinstance(item, DeviceEvent):
                alerts.extend(engine.feed(item))
            changed.set()

    async def until(cond: object, timeout: float = 5.0) -> None:
        assert callable(cond)
        async with asyncio.timeout(timeout):
            while not cond():
                changed.clear()
                alerts.extend(engine.tick(clock.now()))
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.05):
                        await changed.wait()

    task = asyncio.create_task(run())
    try:

        def programme_alerts(phase: Phase) -> list[Alert]:
            return [a for a in alerts if a.rule == PROGRAMME_RULE and a.phase is phase]

        await until(lambda: programme_alerts(Phase.START))
        [start] = programme_alerts(Phase.START)
        assert start.bed == "ICU-1" and start.iae is False
        assert start.evidence["programme"] == {
            "state": "stopped",
            "rate_ml_h": 300.0,
            "vtbi_ml": 150.0,
        }
        assert len(start.evidence["problems"]) == 2 and start.evidence["device"] == "pump-study"

        # the nurse corrects the programme: the alert ends
        pump.rate_ml_h, pump.vtbi_ml = 133.0, 100.0
        await until(lambda: programme_alerts(Phase.END))
        assert programme_alerts(Phase.END)[0].id == start.id

        # started, then paused (the pump keeps reporting its programmed rate)
        pump.start(rate_ml_h=133.0)
        await until(
            lambda: any(isinstance(i, DeviceEvent) and i.event == "infusion_start" for i in seen)
        )
        pump.volume_infused_ml = 12.0
        pump.stop()
        await until(lambda: any(a.rule == PAUSE_RULE for a in alerts))
        [pause] = [a for a in alerts if a.rule == PAUSE_RULE]
        assert pause.phase is Phase.START and pause.evidence["pump_state"] == "paused"
        pump.start(rate_ml_h=133.0)
        await until(lambda: any(a.rule == PAUSE_RULE and a.phase is Phase.END for a in alerts))
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await sim.close()
