"""`MedibusDriver`: a Dräger ventilator over MEDIBUS, as a thin async loop over the codec.

One session (see `session.py` for the table): open the link, ICC, device identification,
`device_connected`, then every `poll_interval` the poll cycle (measured data CP1 and CP2,
alarms CP1, settings, text messages), with a NOP whenever the link has been quiet for
`keepalive` seconds so it never reaches the 3 s that ends a MEDIBUS link.

- One command outstanding at a time; each reply waits at most `reply_timeout` on the injected
  clock and a missing reply raises `NoReply` (the base class then reconnects).
- A reader task decodes everything that arrives and answers the ventilator's own commands at
  once (ICC, NOP, time changed, unknown: empty echo; device-id request: our identification;
  a command with a bad checksum: the NAK response).
- A reply with a bad checksum is counted and dropped, and the poll moves on (MEDIBUS has no
  resend); a NAK for our command gets one resend. Junk and truncated frames are counted.
- No valid measured data for `stale_after` seconds: a `device_stale` event, then the session
  ends so the base class reconnects.
- Alarms become `device_alarm` events when they start or end, not on every poll. The alarm
  list outlives a reconnect, so an alarm still active afterwards is not announced twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from core.clock import Clock
from core.errors import ConnectionLost, DecodeError, DeviceError, NoReply, ProtocolError
from core.model import EventSource, ValueStatus
from core.params import parameter
from drivers.base import Backoff, Driver, DriverOutput
from drivers.medibus.codec import (
    ESC,
    NAK_RESPONSE,
    SOH,
    BadFrame,
    Cmd,
    Command,
    Event,
    FrameDecoder,
    RealtimeData,
    Response,
    code_name,
    encode_command,
)
from drivers.medibus.layouts import (
    Alarm,
    DataItem,
    DeviceIdentity,
    parse_alarms,
    parse_device_id,
    parse_measured,
    parse_settings,
    parse_text_messages,
)
from drivers.medibus.session import (
    HOST_IDENTITY,
    KEEPALIVE_S,
    LINK_TIMEOUT_S,
    POLL_CYCLE,
    REPLY_TIMEOUT_S,
    Ev,
    HostSession,
    State,
)
from drivers.medibus.vocab import readings
from drivers.transport import Link, Opener, SerialSettings, open_link

log = logging.getLogger(__name__)

_ATTEMPTS = 3  # tries for ICC / identification when the answer comes back garbled
_STOP_WAIT_S = 1.0  # how long a stopping driver waits for the stop command's echo
_CODEPAGE = {Cmd.DATA_CP1: 1, Cmd.DATA_CP2: 2}

_Inbox = Response | BadFrame | DeviceError


class MedibusDriver(Driver):
    """One MEDIBUS ventilator on a serial URL (or a TCP serial server).

    `open_link` opens `url` (default: `drivers.transport.open_link`; a test passes an
    in-memory link's opener)."""

    protocol = "medibus"

    def __init__(
        self,
        *,
        bed: str,
        device_id: str,
        url: str,
        clock: Clock,
        serial_settings: SerialSettings = SerialSettings(baudrate=19200, parity="E"),
        poll_interval: float = 1.0,
        stale_after: float = 10.0,
        backoff: Backoff | None = None,
        reply_timeout: float = REPLY_TIMEOUT_S,
        keepalive: float = KEEPALIVE_S,
        identity: DeviceIdentity = HOST_IDENTITY,
        open_link: Opener = open_link,
    ) -> None:
        super().__init__(
            bed=bed, device_id=device_id, clock=clock, backoff=backoff, stale_after=stale_after
        )
        if poll_interval <= 0 or reply_timeout <= 0 or stale_after <= 0:
            raise ValueError("poll_interval, reply_timeout and stale_after must be positive")
        if not 0 < keepalive < LINK_TIMEOUT_S:
            raise ValueError(f"keepalive must be between 0 and {LINK_TIMEOUT_S} s")
        self.url = url
        self.serial_settings = serial_settings
        self.poll_interval = poll_interval
        self.reply_timeout = reply_timeout
        self.keepalive = keepalive
        self.identity = identity
        self._open_link = open_link
        self.device_identity: DeviceIdentity | None = None
        self.realtime_bytes = 0
        self._alarms: dict[tuple[int, int], Alarm] = {}
        self._settings: dict[str, float | str | None] | None = None
        self._texts: dict[str, str] | None = None
        self._best_rank: dict[str, int] = {}
        self._last_valid = 0.0

    # -- the session ----------------------------------------------------------------------
    async def _session(self) -> AsyncIterator[DriverOutput]:
        link = await self._open_link(self.url, self.serial_settings)
        session = HostSession(self.identity)
        chan = _Channel(link, self, session)
        chan.start()
        polite = False
        try:
            session.handle(Ev.OPEN)
            await self._initialise(chan, session)
            ident = await self._identify(chan, session)
            yield self.connected_event(
                device_id=ident.device_id, name=ident.name, revision=ident.revision
            )
            self._last_valid = self.clock.monotonic()
            while True:
                cycle_start = self.clock.monotonic()
                if session.state is State.IDENTIFYING:  # the ventilator sent ICC again
                    await self._identify(chan, session)
                for code in POLL_CYCLE:
                    resp = await chan.request(code)
                    if resp is not None:
                        for item in self._on_response(code, resp):
                            yield item
                if session.state is State.POLLING:
                    session.handle(Ev.CYCLE_DONE)
                quiet_for = self.clock.monotonic() - self._last_valid
                if quiet_for >= self.stale_after:
                    yield self.event(
                        "device_stale",
                        EventSource.DRIVER,
                        device=self.device_id,
                        seconds=round(quiet_for, 1),
                    )
                    raise DeviceError(f"no valid data for {quiet_for:.1f} s")
                await self._idle_until(chan, cycle_start + self.poll_interval)
        except (GeneratorExit, asyncio.CancelledError):
            polite = True  # we are being stopped: tell the ventilator
            raise
        finally:
            if polite and not chan.dead.is_set() and session.state is not State.CLOSED:
                session.handle(Ev.STOP)
                with contextlib.suppress(Exception):
                    await self.clock.wait_for(chan.request(Cmd.STOP), _STOP_WAIT_S)
                    session.handle(Ev.STOPPED)
            if session.state is not State.CLOSED:
                session.handle(Ev.FAILED)
            await chan.close()

    async def _initialise(self, chan: _Channel, session: HostSession) -> None:
        for _ in range(_ATTEMPTS):
            if await chan.request(Cmd.ICC) is not None:
                session.handle(Ev.ICC_ANSWERED)
                return
        raise ProtocolError(f"ICC answered garbled {_ATTEMPTS} times")

    async def _identify(self, chan: _Channel, session: HostSession) -> DeviceIdentity:
        for _ in range(_ATTEMPTS):
            resp = await chan.request(Cmd.DEVICE_ID)
            if resp is None:
                continue
            try:
                ident = parse_device_id(resp.data)
            except DecodeError as exc:
                self.count_bad_frame(f"device id: {exc}")
                continue
            if self.device_identity is not None and ident != self.device_identity:
                self._best_rank.clear()  # another ventilator on this port
            self.device_identity = ident
            self.status.identification.update(
                device_id=ident.device_id, name=ident.name, revision=ident.revision
            )
            if session.state is State.IDENTIFYING:
                session.handle(Ev.IDENTIFIED)
            return ident
        raise ProtocolError(f"no usable identification in {_ATTEMPTS} tries")

    async def _idle_until(self, chan: _Channel, next_poll: float) -> None:
        """Wait for the next poll, sending NOP whenever the link has been quiet `keepalive` s."""
        while (now := self.clock.monotonic()) < next_poll:
            quiet = now - chan.last_tx
            if quiet >= self.keepalive:
                await chan.request(Cmd.NOP)
                continue
            await chan.idle(min(next_poll - now, self.keepalive - quiet))

    # -- responses → observations and events ----------------------------------------------
    def _on_response(self, code: Cmd, resp: Response) -> list[DriverOutput]:
        try:
            if code in _CODEPAGE:
                items = parse_measured(resp.data)
                self._last_valid = self.clock.monotonic()
                return self._observations(_CODEPAGE[code], items)
            if code == Cmd.ALARMS_CP1:
                return self._alarm_events(1, parse_alarms(resp.data))
            if code == Cmd.SETTINGS:
                return self._settings_event(resp.data)
            if code == Cmd.TEXT:
                return self._text_event(resp.data)
        except DecodeError as exc:
            self.count_bad_frame(f"{code_name(code)}: {exc}")
        return []

    def _observations(self, codepage: int, items: list[DataItem]) -> list[DriverOutput]:
        found = readings(codepage, items)
        for r in found:
            self._best_rank[r.param] = min(self._best_rank.get(r.param, r.rank), r.rank)
        out: list[DriverOutput] = []
        for r in found:
            if r.rank > self._best_rank[r.param]:
                continue  # a better code for this parameter is on offer
            if r.value is None:
                status = ValueStatus.UNAVAILABLE
            else:
                param = parameter(r.param)
                ok = param is None or param.plausible(r.value)
                status = ValueStatus.VALID if ok else ValueStatus.QUESTIONABLE
            out.append(self.observation(r.param, r.value, r.unit, status=status))
        return out

    def _alarm_events(self, codepage: int, alarms: list[Alarm]) -> list[DriverOutput]:
        now = {(codepage, a.code): a for a in alarms}
        before = {k: a for k, a in self._alarms.items() if k[0] == codepage}
        out: list[DriverOutput] = []
        for key, a in now.items():
            if key not in before:
                out.append(self._alarm_event(codepage, a, "start"))
        for key, a in before.items():
            if key not in now:
                out.append(self._alarm_event(codepage, a, "end"))
                del self._alarms[key]
        self._alarms.update(now)
        return out

    def _alarm_event(self, codepage: int, alarm: Alarm, phase: str) -> DriverOutput:
        return self.event(
            "device_alarm",
            EventSource.DEVICE,
            code=f"{alarm.code:02X}",
            priority=alarm.priority,
            text=alarm.text,
            phase=phase,
            codepage=codepage,
        )

    def _settings_event(self, data: bytes) -> list[DriverOutput]:
        settings: dict[str, float | str | None] = {
            f"{i.code:02X}": i.value if i.value is not None else (i.raw.strip() or None)
            for i in parse_settings(data)
        }
        if settings == self._settings:
            return []
        self._settings = settings
        return [self.event("ventilator_settings", EventSource.DEVICE, settings=settings)]

    def _text_event(self, data: bytes) -> list[DriverOutput]:
        texts = {f"{m.code:02X}": m.text for m in parse_text_messages(data)}
        if texts == self._texts:
            return []
        self._texts = texts
        # `messages` is a list (core.vocabulary): one {code, text} per message, in code order
        messages = [{"code": code, "text": text} for code, text in sorted(texts.items())]
        return [self.event("ventilator_text", EventSource.DEVICE, messages=messages)]


class _Channel:
    """One open link: the reader task, the write lock, and request/reply matching."""

    def __init__(self, link: Link, driver: MedibusDriver, session: HostSession) -> None:
        self.link = link
        self.driver = driver
        self.clock = driver.clock
        self.session = session
        self.decoder = FrameDecoder()
        self.inbox: asyncio.Queue[_Inbox] = asyncio.Queue()
        self.dead = asyncio.Event()
        self.error: DeviceError | None = None
        self.last_tx = self.clock.monotonic()
        self._write_lock = asyncio.Lock()
        self._reader: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._reader = asyncio.create_task(self._read_loop(), name=f"medibus-read {self.link.name}")

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.wait([self._reader])
            if not self._reader.cancelled() and self._reader.exception() is not None:
                log.error("medibus reader failed", exc_info=self._reader.exception())
        await self.link.close()

    async def send(self, frame: bytes) -> None:
        async with self._write_lock:
            await self.link.write(frame)
            self.last_tx = self.clock.monotonic()

    # -- reading ----------------------------------------------------------------------------
    async def _read_loop(self) -> None:
        try:
            while True:
                data = await self.link.read()
                for event in self.decoder.feed(data):
                    await self._dispatch(event)
        except DeviceError as exc:
            self.error = exc
        finally:
            if self.error is None:
                self.error = ConnectionLost(f"{self.link.name}: reader stopped")
            self.dead.set()
            self.inbox.put_nowait(self.error)

    async def _dispatch(self, event: Event) -> None:
        d = self.driver
        if isinstance(event, Command):
            d.count_frame()
            await self.send(self.session.answer_device_command(event).encode())
        elif isinstance(event, Response):
            d.count_frame()
            self.inbox.put_nowait(event)
        elif isinstance(event, BadFrame):
            d.count_bad_frame(event.reason)
            if event.complete and event.start == ESC:
                await self.send(NAK_RESPONSE)  # a corrupt command is answered with NAK
            elif event.complete and event.start == SOH:
                self.inbox.put_nowait(event)  # may be the garbled answer we wait for
        elif isinstance(event, RealtimeData):
            d.realtime_bytes += len(event.data)

    # -- requests ---------------------------------------------------------------------------
    async def request(self, code: Cmd) -> Response | None:
        """Send `code` and wait for its reply; None when the reply came back garbled."""
        frame = encode_command(code)
        for _ in range(2):  # one resend after a NAK
            self._drain()
            await self.send(frame)
            deadline = self.clock.monotonic() + self.driver.reply_timeout
            while True:
                item = await self._next(code, deadline)
                if isinstance(item, DeviceError):
                    raise item
                if isinstance(item, BadFrame):
                    if item.code == code:
                        return None  # answered, but garbled; counted by the reader
                    continue
                if item.code == code:
                    return item
                if item.code == Cmd.NAK:
                    self.driver.count_bad_frame(f"ventilator refused {code_name(code)} (NAK)")
                    break
                log.debug("%s: unexpected response %s", self.link.name, code_name(item.code))
        raise ProtocolError(f"ventilator refused {code_name(code)} twice (NAK)")

    async def _next(self, code: Cmd, deadline: float) -> _Inbox:
        remaining = deadline - self.clock.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError
            return await self.clock.wait_for(self.inbox.get(), remaining)
        except TimeoutError:
            raise NoReply(
                f"no reply to {code_name(code)} within {self.driver.reply_timeout:g} s"
            ) from None

    def _drain(self) -> None:
        """Forget replies to earlier, abandoned commands; raise if the link is gone."""
        while not self.inbox.empty():
            item = self.inbox.get_nowait()
            if isinstance(item, DeviceError):
                raise item

    async def idle(self, seconds: float) -> None:
        """Wait `seconds`, raising at once if the link drops meanwhile."""
        if not self.dead.is_set():
            try:
                await self.clock.wait_for(self.dead.wait(), seconds)
            except TimeoutError:
                return
        raise self.error or ConnectionLost(f"{self.link.name}: closed")
