"""A Dräger-style MEDIBUS ventilator, served over TCP, a pseudo-terminal or a memory link.

Built on the driver's own sans-IO modules (`drivers.medibus.codec`, `layouts`, `vocab`), so the
bytes it speaks are the codec's. Behaviour, as the references describe a ventilator:

- While it has no link it sends ICC itself every `icc_interval` seconds; a host's ICC (or the
  host's answer to its ICC) opens the link. Until then it ignores other commands.
Any stream connection can be served with `serve_connection` (what `serve_tcp` accepts; a test
gives it to `simulators.memlink.MemoryServer`).

- Linked, it answers every command: measured data CP1/CP2, alarms CP1 (CP2/CP3 empty),
  settings, text messages, device identification, empty echoes for control and unknown
  commands, and the NAK response to a command with a bad checksum.
- After `link_timeout` (3 s) without bytes from the host it drops the link: a TCP connection
  is closed; a pty line goes back to sending ICC.
- Values come from `vitals.vitals()` in our canonical units and go out in the units and
  formats the device uses (`drivers.medibus.vocab` patterns: whole-mbar pressures " 12 ",
  left-justified rates "24  "); the rate goes out three times, as an Evita sends it (D6, D9
  derived, D5 from CO2). PAW HIGH (code 10, priority 27) is raised while the peak pressure is
  above `paw_high_mbar`; `extra_alarms` lets a scenario raise any other alarm.
- Settings (0x29) are the set points: the source's `ventilator_settings()` when it has one (a
  `PatientModel`: what the scenario set, without noise), else its current values (a test's
  `FixedVitals`, which only change when the test changes them). They change only when the
  scenario changes them, never with measurement noise.
- Date and time (0x28) is the clock's time in the device's zone `tz`; low and high alarm
  limits (0x25, 0x26) come from `low_limits` / `high_limits` (Evita-like defaults).

Faults (`simulators.faults.Faults`, read before every answer): `drop` closes TCP connections
and refuses new ones (on a pty: the line goes silent and the link is forgotten, as an unplugged
cable); `stall` keeps the link but answers nothing; `corrupt_checksum` sends every frame with a
wrong checksum; `garbage` sends random bytes before each frame; `slow_s` delays each answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Mapping
from datetime import UTC, tzinfo

from core.clock import Clock
from core.params import parameter
from core.units import convert
from drivers.medibus.codec import (
    ESC,
    NAK_RESPONSE,
    BadFrame,
    Cmd,
    Command,
    FrameDecoder,
    Response,
    checksum,
    encode_command,
)
from drivers.medibus.layouts import (
    Alarm,
    DeviceIdentity,
    TextMessage,
    encode_alarms,
    encode_date_time,
    encode_device_id,
    encode_measured,
    encode_settings,
    encode_text_messages,
)
from drivers.medibus.session import LINK_TIMEOUT_S
from drivers.medibus.vocab import BY_CODE, PATTERNS
from simulators.faults import Faults
from simulators.medibus_links import ByteLink, PtyLink, StreamLink
from simulators.source import VitalsSource

log = logging.getLogger(__name__)

# What this ventilator sends in each codepage (an Evita-like subset; codes in drivers.medibus.vocab)
SENT_CODES: Mapping[int, tuple[int, ...]] = {
    1: (0xF0, 0x78, 0x7D, 0x74, 0x73, 0x88, 0xB9, 0xD5, 0xD6, 0xD9, 0xE6),
    2: (0x21,),
}
# Device settings sent for 0x29 (OICE setting.map): (code, vitals code, wire unit, decimals)
SETTINGS: tuple[tuple[int, str, str, int], ...] = (
    (0x01, "MDC_VENT_CONC_AWAY_O2_INSP", "%", 0),  # Oxygen, %
    (0x0B, "MDC_PRESS_AWAY_END_EXP_POS", "mbar", 0),  # PEEP, mbar
    (0x0A, "MDC_VENT_RESP_RATE", "/min", 0),  # frequency IPPV, 1/min
)
# Alarm limits (0x25 / 0x26), in the wire unit, as an adult ICU Evita might be set: code → limit
LOW_LIMITS: Mapping[int, float] = {0xB9: 4.0, 0xF0: 56.0, 0xE6: 25.0}
HIGH_LIMITS: Mapping[int, float] = {0x7D: 40.0, 0xB9: 16.0, 0xF0: 64.0, 0xD6: 40.0, 0xE6: 60.0}
PAW_HIGH = Alarm(27, 0x10, "PAW HIGH")  # Evita: code 10, priority 27 (PROTOCOLS.md §1; OICE)
_FALLBACK = {"MDC_VENT_RESP_RATE": "MDC_RESP_RATE"}


def _with_bad_checksum(frame: bytes) -> bytes:
    wrong = (checksum(frame[:-3]) + 1) & 0xFF
    return frame[:-3] + b"%02X" % wrong + frame[-1:]


class VentilatorSimulator:
    """One simulated ventilator; serve it on TCP (`serve_tcp`) and/or a pty (`serve_pty`)."""

    def __init__(
        self,
        vitals: VitalsSource,
        clock: Clock,
        faults: Faults | None = None,
        device_id: str = "0161",
        name: str = "Evita4",
        revision: str = "01.03:06.00",
        *,
        link_timeout: float = LINK_TIMEOUT_S,
        icc_interval: float = 1.0,
        paw_high_mbar: float = 40.0,
        tz: tzinfo = UTC,
    ) -> None:
        self.vitals = vitals
        self.clock = clock
        self.faults = faults or Faults()
        self.identity = DeviceIdentity(device_id, name, revision)
        self.link_timeout = link_timeout
        self.icc_interval = icc_interval
        self.paw_high_mbar = paw_high_mbar
        self.tz = tz
        self.low_limits: dict[int, float] = dict(LOW_LIMITS)
        self.high_limits: dict[int, float] = {**HIGH_LIMITS, 0x7D: paw_high_mbar}
        self.extra_alarms: dict[int, Alarm] = {}
        self.text_messages: list[TextMessage] = [TextMessage(0x01, "IPPV")]
        self.port: int | None = None
        self.pty_path: str | None = None
        # what hosts sent, newest last, bounded so a day-long run does not grow without end
        self.received: deque[tuple[float, Command]] = deque(maxlen=10_000)  # (monotonic, cmd)
        self.host_responses: deque[Response] = deque(maxlen=1_000)  # answers to our commands
        self.connections = 0  # links accepted
        self._servers: list[asyncio.Server] = []
        self._ptys: list[PtyLink] = []
        self._handlers: set[_LinkHandler] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- serving --------------------------------------------------------------------------
    async def serve_tcp(self, host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
        """Listen on `host:port` (0: any free port, then read `self.port`)."""
        server = await asyncio.start_server(self.serve_connection, host, port)
        self._servers.append(server)
        self.port = server.sockets[0].getsockname()[1]
        return server

    async def serve_pty(self) -> str:
        """Serve on a new pseudo-terminal; returns the slave path, usable as a serial URL."""
        line = PtyLink(self.clock)
        self._ptys.append(line)
        self.pty_path = line.path
        self._track(asyncio.create_task(self._serve_line(line), name=f"ventilator {line.path}"))
        return line.path

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        await asyncio.sleep(0)  # let a connection accepted just now register its task
        while self._tasks:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)
            self._tasks.difference_update(tasks)
        for server in self._servers:
            await server.wait_closed()
        for line in self._ptys:
            line.close_line()
        self._servers.clear()
        self._ptys.clear()

    def _track(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Serve one stream connection (TCP, or `simulators.memlink.MemoryServer`'s)."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            link = StreamLink(reader, writer)
            if self.faults.drop:
                await link.close()  # refused while unplugged
                return
            await self.handle(link)
        except asyncio.CancelledError:
            pass  # closing: asyncio 3.11 would log a cancelled connection callback as an error
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def _serve_line(self, line: PtyLink) -> None:
        while True:
            await self.handle(line)
            await self.clock.sleep(0.1)  # the line stays; serve it again

    async def handle(self, link: ByteLink) -> None:
        """Speak MEDIBUS on one link until it is dropped or closed."""
        self.connections += 1
        handler = _LinkHandler(self, link)
        self._handlers.add(handler)
        try:
            await handler.run()
        finally:
            self._handlers.discard(handler)
            if link.can_close:
                await link.close()

    async def send_to_host(self, code: int) -> None:
        """Send a command of the ventilator's own (NOP, device-id request, time changed ...)."""
        await self.send_raw(encode_command(code))

    async def send_raw(self, data: bytes) -> None:
        """Send bytes as they are on every link (faults still apply)."""
        for handler in list(self._handlers):
            await handler.send(data)

    def received_codes(self) -> list[int]:
        """Codes of the commands hosts sent, in order."""
        return [c.code for _, c in self.received]

    # -- the device's data ----------------------------------------------------------------
    def _value(self, code: str) -> float | None:
        v = self.vitals.vitals()
        if code in v:
            return v[code]
        fallback = _FALLBACK.get(code)
        return v.get(fallback) if fallback else None

    def measured(self, codepage: int) -> list[tuple[int, float | None, int]]:
        """(code, value in the wire unit, decimals) for one codepage, measured now."""
        items: list[tuple[int, float | None, int]] = []
        for code in SENT_CODES.get(codepage, ()):
            entry = BY_CODE[(codepage, code)]
            value = self._value(entry.param)
            if value is None:
                continue
            items.append((code, convert(value, entry.canonical_unit, entry.unit), entry.decimals))
        return items

    def limits(self, high: bool) -> list[tuple[int, float | None, int]]:
        """(code, limit in the wire unit, decimals) of the low or high alarm limits (CP1)."""
        chosen = self.high_limits if high else self.low_limits
        return [(code, v, BY_CODE[(1, code)].decimals) for code, v in sorted(chosen.items())]

    def alarms(self) -> list[Alarm]:
        """The alarms active now, highest priority first."""
        active = dict(self.extra_alarms)
        peak = self._value("MDC_PRESS_AWAY_INSP_PEAK")
        if peak is not None and convert(peak, "cm[H2O]", "mbar") > self.paw_high_mbar:
            active[PAW_HIGH.code] = PAW_HIGH
        return sorted(active.values(), key=lambda a: -a.priority)

    def response_to(self, command: Command) -> Response:
        """The answer to a host's command (data from the vitals source, now)."""
        code = command.code
        if code == Cmd.DEVICE_ID:
            return Response(code, encode_device_id(self.identity))
        if code == Cmd.DATA_CP1:
            return Response(code, _encode_measured(self.measured(1), 1))
        if code == Cmd.DATA_CP2:
            return Response(code, _encode_measured(self.measured(2), 2))
        if code in (Cmd.LOW_LIMITS_CP1, Cmd.HIGH_LIMITS_CP1):
            limits = self.limits(high=code == Cmd.HIGH_LIMITS_CP1)
            return Response(code, _encode_measured(limits, 1))
        if code == Cmd.DATE_TIME:
            return Response(code, encode_date_time(self.clock.now().astimezone(self.tz)))
        if code == Cmd.ALARMS_CP1:
            return Response(code, encode_alarms(self.alarms()))
        if code == Cmd.SETTINGS:
            return Response(code, encode_settings(self._settings()))
        if code == Cmd.TEXT:
            return Response(code, encode_text_messages(self.text_messages))
        return Response(code)  # control, CP2/CP3 alarms, unknown: an empty echo

    def set_points(self) -> dict[str, float]:
        """The settings now, by vocabulary code (see the module docstring)."""
        own = getattr(self.vitals, "ventilator_settings", None)
        if callable(own):
            return dict(own())
        values = ((param, self._value(param)) for _, param, _, _ in SETTINGS)
        return {param: v for param, v in values if v is not None}

    def _settings(self) -> list[tuple[int, float | None, int]]:
        out: list[tuple[int, float | None, int]] = []
        points = self.set_points()
        for code, param, unit, decimals in SETTINGS:
            value = points.get(param)
            p = parameter(param)
            if value is not None and p is not None:
                out.append((code, round(convert(value, p.unit, unit), decimals), decimals))
        return out


def _encode_measured(items: list[tuple[int, float | None, int]], codepage: int) -> bytes:
    """Like `encode_measured` in the codepage's patterns, but a value too wide for its field
    goes out as spaces."""
    patterns = PATTERNS.get(codepage, {})
    safe: list[tuple[int, float | None, int]] = []
    for code, value, decimals in items:
        try:
            encode_measured([(code, value, decimals)], patterns)
        except ValueError:
            value = None
        safe.append((code, value, decimals))
    return encode_measured(safe, patterns)


class _LinkHandler:
    """The ventilator's side of one link: a reader and a ticker (ICC beacons, link timeout)."""

    def __init__(self, sim: VentilatorSimulator, link: ByteLink) -> None:
        self.sim = sim
        self.link = link
        self.clock = sim.clock
        self.decoder = FrameDecoder()
        self.linked = False
        self.last_rx = self.clock.monotonic()
        self.last_icc = float("-inf")
        self._write_lock = asyncio.Lock()

    async def run(self) -> None:
        tasks = [
            asyncio.create_task(self._read_loop(), name=f"{self.link.name} read"),
            asyncio.create_task(self._tick_loop(), name=f"{self.link.name} tick"),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)
            for task in tasks:
                if not task.cancelled() and task.exception() is not None:
                    log.error("ventilator simulator %s failed", self.link.name,
                              exc_info=task.exception())  # fmt: skip

    async def send(self, frame: bytes) -> None:
        f = self.sim.faults
        if f.corrupt_checksum:
            frame = _with_bad_checksum(frame)
        if f.garbage:
            frame = f.garbage_bytes() + frame
        async with self._write_lock:
            await self.link.write(frame)

    async def _read_loop(self) -> None:
        while True:
            data = await self.link.read()
            if not data:
                return
            f = self.sim.faults
            if f.drop and self.link.can_close:
                return
            if f.drop or f.stall:
                continue  # unplugged or hung: the bytes go nowhere
            self.last_rx = self.clock.monotonic()
            for event in self.decoder.feed(data):
                if isinstance(event, Command):
                    self.sim.received.append((self.clock.monotonic(), event))
                    await self._answer(event)
                elif isinstance(event, Response):
                    self.sim.host_responses.append(event)
                    if event.code == Cmd.ICC:
                        self.linked = True  # the host answered our ICC
                elif isinstance(event, BadFrame) and event.complete and event.start == ESC:
                    await self.send(NAK_RESPONSE)

    async def _answer(self, command: Command) -> None:
        f = self.sim.faults
        if f.slow_s > 0:
            await self.clock.sleep(f.slow_s)
        if f.stall or f.drop:
            return
        if command.code == Cmd.ICC:
            self.linked = True
        elif not self.linked:
            return  # no link yet: only ICC opens one
        await self.send(self.sim.response_to(command).encode())
        if command.code == Cmd.STOP:
            self.linked = False

    async def _tick_loop(self) -> None:
        tick = min(0.1, self.sim.icc_interval / 2)
        while True:
            await self.clock.sleep(tick)
            f = self.sim.faults
            if f.drop:
                if self.link.can_close:
                    return
                self.linked = False
                continue
            if f.stall:
                continue
            now = self.clock.monotonic()
            if self.linked and now - self.last_rx > self.sim.link_timeout:
                self.linked = False
                if self.link.can_close:
                    return
            if not self.linked and now - self.last_icc >= self.sim.icc_interval:
                self.last_icc = now
                await self.send(encode_command(Cmd.ICC))
