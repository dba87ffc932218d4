"""What every driver shares: connection state, status counters, backoff, the reconnect loop.

A driver subclass implements `_session()`: connect, identify, then yield observations and
events until the link fails (raising a `DeviceError` or `ProtocolError`). `Driver.stream()`
wraps it in the reconnect loop: a `device_connected` event when a session starts, a
`device_disconnected` event (a technical alert downstream) when it ends, then a capped
exponential backoff on the injected clock before the next try. `stream()` never raises for
device trouble; cancel its task to stop it.
"""

from __future__ import annotations

import contextlib
import logging
import random
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
        self._first_error_logged = False

    # -- for subclasses -------------------------------------------------------------------
    @abstractmethod
    def _session(self) -> AsyncIterator[DriverOutput]:
        """Connect and yield until the link fails (raise DeviceError / ProtocolError)."""

    def count_frame(self) -> None:
        self.status.frames += 1
        self.status.last_frame = self.clock.now()

    def count_bad_frame(self, reason: str) -> None:
        self.status.bad_frames += 1
        log.warning(
            "%s %s: bad frame (%d so far): %s",
            self.bed,
            self.device_id,
            self.status.bad_frames,
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
        while True:
            self._set_state(ConnectionState.CONNECTING)
            connected = False
            try:
                # aclosing: a consumer that stops must close the session (link, tasks) at once
                session_gen = cast(AsyncGenerator[DriverOutput, None], self._session())
                async with contextlib.aclosing(session_gen) as session:
                    async for item in session:
                        if not connected and self.status.state is ConnectionState.CONNECTED:
                            connected = True
                            self.backoff.reset()
                            if self._first_error_logged:
                                log.info("%s %s: recovered", self.bed, self.device_id)
                            self._first_error_logged = False
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
                yield self.event(
                    "device_disconnected",
                    EventSource.DRIVER,
                    device=self.device_id,
                    reason=self.status.last_error or "",
                )
            else:
                self._set_state(ConnectionState.DISCONNECTED)
            await self.clock.sleep(self.backoff.next_delay())

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
