"""A whole simulated bed: one patient, its scenario, and its devices on TCP ports or ptys.

`SimulatedBed` builds the `PatientModel` and `ScenarioRunner` of one scenario bed, starts the
protocol simulators it is asked for (monitor: IntelliVue; ventilator: MEDIBUS; pump: Modbus
gateway, one unit id per pump; hl7: a central station sending to a listener; hl7-pump: a pump
server sending the same pumps to a listener), all reading the same patient, and reports each
address. `ScaledClock` makes time run `speed`× faster.

The device simulator modules are imported when a device is started, so this module loads
(and the offline parts work) without them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.clock import Clock, RealClock
from core.model import DeviceEvent
from simulators.actions import ACTIONS
from simulators.faults import Faults
from simulators.patient import PatientModel
from simulators.pump_state import PumpState
from simulators.runner import ScenarioRunner
from simulators.scenario_types import DEVICES, BedScenario, Scenario, Step, format_offset

BED_DEVICES = ("monitor", "ventilator", "pump")
"""What `simulate bed` starts by default (hl7 only when given a listener to send to)."""


class ScaledClock(Clock):
    """A clock whose time runs `speed` times faster than its base clock (real time by default).

    `now()` starts at `start` (default: the base clock's now) and advances speed× the base;
    `sleep(s)` sleeps s/speed on the base clock.
    """

    def __init__(
        self, speed: float = 1.0, *, base: Clock | None = None, start: datetime | None = None
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self.base = base or RealClock()
        self._m0 = self.base.monotonic()
        self._start = start or self.base.now()
        if self._start.tzinfo is None:
            raise ValueError("ScaledClock start must be timezone-aware")

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self.monotonic())

    def monotonic(self) -> float:
        return (self.base.monotonic() - self._m0) * self.speed

    async def sleep(self, seconds: float) -> None:
        await self.base.sleep(max(0.0, seconds) / self.speed)


@dataclass(frozen=True, slots=True)
class DeviceAddress:
    """Where a started device can be reached (or, for hl7, where it sends)."""

    device: str
    transport: str  # "tcp", "pty", "rtu-pty" or "hl7-client"
    address: str
    detail: str = ""

    def __str__(self) -> str:
        text = f"{self.device:<10} {self.transport:<10} {self.address}"
        return text + (f"  ({self.detail})" if self.detail else "")


def parse_hostport(text: str) -> tuple[str, int]:
    """`HOST:PORT` → (host, port); ValueError when malformed."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


Printer = Callable[[str], None]


class SimulatedBed:
    """One scenario bed with its devices, running on `clock`."""

    def __init__(
        self,
        scenario: Scenario,
        clock: Clock,
        *,
        bed: str | None = None,
        start_at: float | None = None,
        out: Printer | None = None,
        on_event: Callable[[DeviceEvent], None] | None = None,
    ) -> None:
        self.scenario = scenario
        self.spec: BedScenario = scenario.bed(bed) if bed is not None else scenario.beds[0]
        self.clock = clock
        self.out: Printer = out or (lambda line: None)
        self.on_event = on_event
        self.faults: dict[str, Faults] = {d: Faults() for d in DEVICES}
        self.model: PatientModel = self.spec.build_model(clock)
        # Pumps that the timeline adds later exist from the start, idle, so the pump
        # gateway serves their unit id all along (real gateways list their channels).
        for step in self.spec.timeline:
            new_pump = ACTIONS[step.action].pump == "new"
            if new_pump and step.args["pump"] not in self.model.pumps:
                self.model.pumps[step.args["pump"]] = PumpState(role="vasopressor")
        begin = scenario.start if start_at is None else start_at
        self.runner = ScenarioRunner(
            self.spec,
            self.model,
            clock,
            self.faults,
            origin=clock.now() - timedelta(seconds=begin),
            on_step=self._on_step,
        )
        self.addresses: list[DeviceAddress] = []
        self._sims: list[Any] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._stack = contextlib.AsyncExitStack()

    @property
    def link_time_scale(self) -> float:
        """The clock's speed: link timeouts are stretched by it so that, in real time, they
        stay what the device's protocol says (`--speed 10` must not drop links 10× sooner)."""
        return float(getattr(self.clock, "speed", 1.0))

    @property
    def pump_units(self) -> dict[int, str]:
        """Modbus unit id → pump name (1, 2, ... in the scenario's order)."""
        return {i + 1: name for i, name in enumerate(self.model.pumps)}

    def label(self) -> str:
        return f"{self.spec.name} {format_offset(self.runner.scenario_time)}"

    def _on_step(self, step: Step, when: datetime) -> None:
        self.out(f"[{self.label()}] {step.describe()}")

    def _on_event(self, ev: DeviceEvent) -> None:
        if self.on_event is not None:
            self.on_event(ev)
        fields = " ".join(f"{k}={v}" for k, v in ev.fields.items())
        source = ev.device or ev.source.value
        self.out(f"[{self.label()}] event {ev.event} ({source}) {fields}".rstrip())

    # ------------------------------------------------------------------ devices

    async def start(
        self,
        devices: Sequence[str] = BED_DEVICES,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        pty: bool = False,
        hl7_to: tuple[str, int] | None = None,
        hl7_interval: float = 1.0,
        hl7_location: str | None = None,
    ) -> list[DeviceAddress]:
        """Start the devices; TCP ports are `port`, `port+1`, ... (0: each a free port)."""
        for i, device in enumerate(devices):
            dev_port = port + i if port else 0
            if device == "monitor":
                addr = await self._start_monitor(host, dev_port, pty)
            elif device == "ventilator":
                addr = await self._start_ventilator(host, dev_port, pty)
            elif device == "pump":
                addr = await self._start_pump(host, dev_port, pty)
            elif device in ("hl7", "hl7-pump"):
                if hl7_to is None:
                    raise ValueError(f"the {device} sender needs a listener address (--to)")
                start = self._start_hl7 if device == "hl7" else self._start_hl7_pump
                addr = start(hl7_to, hl7_interval, hl7_location)
            else:
                raise ValueError(f"unknown device {device!r}; expected one of {DEVICES}")
            self.addresses.append(addr)
        return list(self.addresses)

    async def _start_monitor(self, host: str, port: int, pty: bool) -> DeviceAddress:
        from simulators.intellivue_monitor import IntellivueSimulator

        sim = IntellivueSimulator(self.model, self.clock, self.faults["monitor"])
        sim.silence_timeout *= self.link_time_scale
        self._sims.append(sim)
        if pty:
            return DeviceAddress("monitor", "pty", await sim.serve_pty(), "IntelliVue serial")
        bound = await sim.serve_tcp(host, port)
        return DeviceAddress("monitor", "tcp", f"{host}:{bound}", "IntelliVue")

    async def _start_ventilator(self, host: str, port: int, pty: bool) -> DeviceAddress:
        from simulators.ventilator import VentilatorSimulator

        sim = VentilatorSimulator(self.model, self.clock, self.faults["ventilator"])
        sim.link_timeout *= self.link_time_scale
        self._sims.append(sim)
        if pty:
            return DeviceAddress("ventilator", "pty", await sim.serve_pty(), "MEDIBUS")
        await sim.serve_tcp(host, port)
        return DeviceAddress("ventilator", "tcp", f"{host}:{sim.port}", "MEDIBUS")

    async def _start_pump(self, host: str, port: int, pty: bool) -> DeviceAddress:
        from simulators.pump import PumpSimulator

        units = {unit: self.model.pumps[name] for unit, name in self.pump_units.items()}
        sim = PumpSimulator(units, self.clock, self.faults["pump"])
        self._sims.append(sim)
        detail = "Modbus, " + ", ".join(f"unit {u} = {n}" for u, n in self.pump_units.items())
        if pty:
            from simulators.nullmodem import pty_null_modem

            ours, theirs = await self._stack.enter_async_context(pty_null_modem())
            await sim.serve_rtu(ours, baudrate=19200, parity="N")  # ptys refuse parity bits
            return DeviceAddress("pump", "rtu-pty", theirs, detail + ", RTU 19200 8N1")
        bound = await sim.serve_tcp(host, port)
        return DeviceAddress("pump", "tcp", f"{host}:{bound}", detail)

    def _start_hl7(
        self, to: tuple[str, int], interval: float, location: str | None = None
    ) -> DeviceAddress:
        from simulators.hl7_sender import Hl7Sender

        sender = Hl7Sender(
            self.model,
            self.clock,
            location or self.spec.name,
            faults=self.faults["hl7"],
            interval=interval,
        )
        sender.ack_timeout *= self.link_time_scale
        self._sims.append(sender)
        task = asyncio.create_task(sender.run(*to), name=f"hl7 sender {self.spec.name}")
        self._tasks.append(task)
        return DeviceAddress("hl7", "hl7-client", f"{to[0]}:{to[1]}", "sends ORU^R01/R40")

    def _start_hl7_pump(
        self, to: tuple[str, int], interval: float, location: str | None = None
    ) -> DeviceAddress:
        from simulators.hl7_pump_sender import Hl7PumpSender

        sender = Hl7PumpSender(
            self.model.pumps,
            self.clock,
            location or self.spec.name,
            faults=self.faults["pump"],  # the pumps' link, as for the Modbus gateway
            interval=interval,
        )
        sender.ack_timeout *= self.link_time_scale
        self._sims.append(sender)
        task = asyncio.create_task(sender.run(*to), name=f"hl7-pump sender {self.spec.name}")
        self._tasks.append(task)
        pumps = ", ".join(f"{n} = {sender.eui64(n)}" for n in self.model.pumps)
        detail = f"pump server, sends ORU^R42/R40/R01; EUI-64 {pumps}"
        return DeviceAddress("hl7-pump", "hl7-client", f"{to[0]}:{to[1]}", detail)

    # ------------------------------------------------------------------ running

    async def run(self, *, tick: float = 1.0) -> None:
        """Play the scenario and keep the patient moving until cancelled.

        Every `tick` seconds of simulated time the model is brought up to date (pump volumes
        advance even when no device is polled) and new events are reported.
        """
        runner = asyncio.create_task(self.runner.run(), name=f"scenario {self.spec.name}")
        self._tasks.append(runner)
        while True:
            for ev in self.model.new_events():
                self._on_event(ev)
            await self.clock.sleep(tick)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for sim in reversed(self._sims):
            close = getattr(sim, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()
        self._sims.clear()
        await self._stack.aclose()

    async def __aenter__(self) -> SimulatedBed:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
