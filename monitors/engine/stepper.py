"""One loop for driving the engine through time, shared by the service and `iaewatch replay`.

The engine is pure: `feed(msg)` gives what a message causes, `tick(now)` what time alone
causes. Whoever drives it must tick as time passes. `Stepper` is that driver: time advances
to each message's time, and the engine is ticked at every whole `tick_s` (aligned on the UTC
epoch) on the way, stamped with that instant. The service (`app.pipeline`) feeds messages as
they come off the bus and calls `advance(clock.now())` once a tick; a replay feeds a file's
records and calls `advance(last_t)` at the end. The same messages therefore give the same
transitions on both paths, whatever the wall clock did.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Protocol

from core.model import Alert, DeviceEvent, Observation


class Steppable(Protocol):
    """What the stepper drives (`monitors.build_engine`'s engine)."""

    def feed(self, msg: Observation | DeviceEvent) -> list[Alert]: ...

    def tick(self, now: datetime) -> list[Alert]: ...


class Stepper:
    """Feeds an engine and ticks it at whole `tick_s` instants as time advances."""

    def __init__(self, engine: Steppable, *, tick_s: float = 1.0) -> None:
        if not tick_s > 0 or not math.isfinite(tick_s):
            raise ValueError("tick_s must be a positive number")
        self.engine = engine
        self.tick_s = tick_s
        self._step = timedelta(seconds=tick_s)
        self._next: datetime | None = None  # the next tick, in UTC

    def feed(self, msg: Observation | DeviceEvent) -> list[Alert]:
        """The ticks due up to `msg.t`, then what `msg` causes."""
        nxt = self._next
        if nxt is not None and msg.t < nxt:  # the common case: no tick due (one comparison)
            return self.engine.feed(msg)
        out = self.advance(msg.t)
        out += self.engine.feed(msg)
        return out

    def advance(self, now: datetime) -> list[Alert]:
        """Tick the engine at every whole `tick_s` up to and including `now`."""
        if self._next is None:
            ts = now.timestamp()
            first = (math.floor(ts / self.tick_s) + 1) * self.tick_s
            self._next = datetime.fromtimestamp(first, UTC)
            return []
        out: list[Alert] = []
        while self._next <= now:
            out += self.engine.tick(self._next)
            self._next += self._step
        return out
