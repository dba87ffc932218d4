"""What every driver shares: connection state, status counters, backoff, the reconnect loop.

A driver subclass implements `_session()`: connect, identify, then yield observations and
events until the link fails (raising a `DeviceError` or `ProtocolError`). `Driver.stream()`
wraps it in the reconnect loop: a `device_connected` event when a session starts, a
`device_disconnected` event (a technical alert downstream) when it ends, then a capped
exponential backoff on the injected clock before the next try. `stream()` never raises for
device trouble; cancel its task to stop it.

A device that has delivered no valid data `stale_after` seconds after `stream()` started and
is not connected (unreachable, silent, or only garbage: every driver connects only on a valid
answer) gets the event a dropped device gives, once: `device_disconnected` with `reason`
"no data since start (N s): <last error>"; its `device_connected` ends it downstream. A
connected session times its own silence (`device_stale`), so an outage is reported once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from core.clock import Clock
from core.errors import DeviceError, ProtocolError
from core.model import DeviceEvent, EventSource, Observation, ValueStatus

log = logging.getLogger(__name__)
BAD_FRAME_LOG_EVERY_S = 60.0
_NUMBERS = re.compile(r"\d+")

DriverOutput = Observation | DeviceEvent


class ConnectionState(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    STOPPED = "stopped"


@dataclass(slots=True)
class DeviceStatus:
    """Live counters of one device, read by the API, /metrics and the station's device panel."""

    state: ConnectionState = ConnectionState.CONNECTING
    since: datetime | None = None
    last_frame: datetime | None = None
    frames: int = 0
    bad_frames: int = 0
    reconnects: int = 0
    last_error: str | None = None
    identification: dict[str, str] = field(default_factory=dict)
    bad_frame_kinds: dict[str, int] = field(default_factory=dict)
    """Bad frames by kind (the reason without its numbers)."""


@dataclass(slots=True)
class Backoff:
    """Capped exponential backoff with jitter: initial, ×factor each failure, at most `cap`,
    each delay scaled by a random factor within ±`jitter` (from `rng`; seed it to repeat)."""

    initial: float = 1.0
    factor: float = 2.0
    cap: float = 30.0
    jitter: float = 0.1
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)
    _attempt: int = 0

    def next_delay(self) -> float:
        delay = min(self.cap, self.initial * self.factor**self._attempt)
        self._attempt += 1
        return delay * (1 + self.rng.uniform(-self.jitter, self.jitter))

    def reset(self) -> None:
        self._attempt = 0


class Driver(ABC):
    """One device at one bed."""

    protocol: str = "?"

    def __init__(
        self,
        *,
        bed: str,
        device_id: str,
        clock: Clock,
        backoff: Backoff | None = None,
        stale_after: float = 10.0,
    ) -> None:
        self.bed = bed
        self.device_id = device_id
        self.clock = clock
        self.backoff = backoff or Backoff()
        self.stale_after = stale_after
        self.status = DeviceStatus()
        self._bad_logged: dict[str, tuple[float, int]] = {}  # kind → (last logged, since)
        self._first_error_logged = False

    # -- for subclasses -------------------------------------------------------------------
    @abstractmethod
    def _session(self) -> AsyncIterator[DriverOutput]:
        """Connect and yield until the link fails (raise DeviceError / ProtocolError)."""

    def count_frame(self) -> None:
        self.status.frames += 1
        self.status.last_frame = self.clock.now()

    def count_bad_frame(self, reason: str) -> None:
        """Count a bad frame; log at most one line per kind of bad frame a minute (the kind:
        the reason with its numbers left out), saying how many came since the last line."""
        self.status.bad_frames += 1
        kind = _NUMBERS.sub("#", reason)[:80]
        counts = self.status.bad_frame_kinds
        counts[kind] = counts.get(kind, 0) + 1
        now = self.clock.monotonic()
        last, unlogged = self._bad_logged.get(kind, (None, 0))
        if last is not None and now - last < BAD_FRAME_LOG_EVERY_S:
            self._bad_logged[kind] = (last, unlogged + 1)
            return
        if len(self._bad_logged) > 100:  # a kind per peer address, say: keep it bounded
            self._bad_logged.clear()
        self._bad_logged[kind] = (now, 0)
        log.warning(
            "%s %s: bad frame (%d so far%s): %s",
            self.bed,
            self.device_id,
            self.status.bad_frames,
            f", {unlogged} more of this kind in the last minute" if unlogged else "",
            reason,
        )

    def event(
        self, name: str, source: EventSource = EventSource.DEVICE, /, **fields: Any
    ) -> DeviceEvent:
        return DeviceEvent(
            t=self.clock.now(),
            bed=self.bed,
            event=name,
            fields=fields,
            device=self.device_id,
            source=source,
        )

    def observation(
        self,
        code: str,
        value: float | None,
        unit: str,
        status: ValueStatus = ValueStatus.VALID,
    ) -> Observation:
        """An observation of this device, now (the status typed, so a plain string cannot
        slip through to the serialisers)."""
        return Observation(
            t=self.clock.now(),
            bed=self.bed,
            code=code,
            value=value,
            unit=unit,
            device=self.device_id,
            status=status,
        )

    # -- the loop ---------------------------------------------------------------------------
    async def stream(self) -> AsyncIterator[DriverOutput]:
        """Observations and events forever, reconnecting with backoff."""
        watch = _StartWatch(self.clock.monotonic() + self.stale_after)
        while True:
            self._set_state(ConnectionState.CONNECTING)
            connected = False
            try:
                # aclosing: a consumer that stops must close the session (link, tasks) at once
                session_gen = cast(AsyncGenerator[DriverOutput, None], self._session())
                async with (
                    contextlib.aclosing(session_gen) as session,
                    contextlib.aclosing(self._watched(session, watch)) as items,
                ):
                    async for item in items:
                        if not connected and self.status.state is ConnectionState.CONNECTED:
                            connected = True
                            self.backoff.reset()
                            if self._first_error_logged:
                                log.info("%s %s: recovered", self.bed, self.device_id)
                            self._first_error_logged = False
                        watch.saw(item)
                        yield item
            except (DeviceError, ProtocolError, TimeoutError) as exc:
                self.status.last_error = str(exc) or type(exc).__name__
                if not self._first_error_logged:
                    log.error("%s %s: %s", self.bed, self.device_id, self.status.last_error)
                    self._first_error_logged = True
                else:
                    log.debug("%s %s: %s", self.bed, self.device_id, self.status.last_error)
            if self.status.state is ConnectionState.CONNECTED:
                self._set_state(ConnectionState.DISCONNECTED)
                self.status.reconnects += 1
                event = self.event(
                    "device_disconnected",
                    EventSource.DRIVER,
                    device=self.device_id,
                    reason=self.status.last_error or "",
                )
                watch.saw(event)
                yield event
            else:
                self._set_state(ConnectionState.DISCONNECTED)
            delay = self.backoff.next_delay()
            due = watch.due(self.clock.monotonic())
            if due is not None and due < delay:
                await self.clock.sleep(due)
                delay -= due
                yield self._silent_since_start(watch)
            await self.clock.sleep(delay)

    async def _watched(
        self, session: AsyncIterator[DriverOutput], watch: _StartWatch
    ) -> AsyncGenerator[DriverOutput, None]:
        """The session's items, with the silent-since-start event at its deadline between them
        (the pending read is left running across it, so the session never notices)."""
        pending: asyncio.Future[DriverOutput] | None = None
        try:
            while True:
                # once connected, the session's own stale check times the silence
                connected = self.status.state is ConnectionState.CONNECTED
                due = None if connected else watch.due(self.clock.monotonic())
                if pending is None and due is None:  # the common case: no task in between
                    try:
                        item = await anext(session)
                    except StopAsyncIteration:
                        return
                    yield item
                    continue
                if pending is None:
                    pending = asyncio.ensure_future(anext(session))
                if due is not None:
                    timer = asyncio.ensure_future(self.clock.sleep(due))
                    try:
                        first = asyncio.FIRST_COMPLETED
                        finished, _ = await asyncio.wait((pending, timer), return_when=first)
                    finally:
                        timer.cancel()
                    if not pending.done():
                        if timer in finished:
                            yield self._silent_since_start(watch)
                        continue
                done, pending = pending, None
                try:
                    item = await done
                except StopAsyncIteration:
                    return
                yield item
        finally:
            if pending is not None and not pending.done():
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pending

    def _silent_since_start(self, watch: _StartWatch) -> DeviceEvent:
        """The one event of a device that never connected with valid data since start."""
        reason = f"no data since start ({self.stale_after:g} s)"
        if self.status.last_error:
            reason += f": {self.status.last_error}"
        event = self.event(
            "device_disconnected", EventSource.DRIVER, device=self.device_id, reason=reason
        )
        watch.fired = True
        watch.saw(event)
        log.error("%s %s: %s", self.bed, self.device_id, reason)
        return event

    def connected_event(self, **identification: str) -> DeviceEvent:
        """Mark the session connected; the returned event must be yielded by `_session`."""
        self.status.identification.update(identification)
        self._set_state(ConnectionState.CONNECTED)
        return self.event(
            "device_connected",
            EventSource.DRIVER,
            device=self.device_id,
            protocol=self.protocol,
            **identification,
        )

    def _set_state(self, state: ConnectionState) -> None:
        if state is not self.status.state:
            self.status.state = state
            self.status.since = self.clock.now()


@dataclass(slots=True)
class _StartWatch:
    """Whether a device still owes its first valid data, and when that becomes an alert.

    Armed when `stream()` starts; disarmed by an observation or a device's own event (a frame
    that decodes but is refused, e.g. an HL7 message answered AE, is not data). Its one event
    is not given while an outage is already reported (a `device_disconnected`/`device_stale`
    not yet followed by a `device_connected`).
    """

    deadline: float
    heard: bool = False
    fired: bool = False
    outage_open: bool = False

    def saw(self, item: DriverOutput) -> None:
        if isinstance(item, Observation) or item.source is not EventSource.DRIVER:
            self.heard = True
        elif item.event in ("device_disconnected", "device_stale"):
            self.outage_open = True
        elif item.event == "device_connected":
            self.outage_open = False

    def due(self, now: float) -> float | None:
        """Seconds until the event is owed (0 when it is owed now); None when it never is."""
        if self.heard or self.fired or self.outage_open:
            return None
        return max(0.0, self.deadline - now)
