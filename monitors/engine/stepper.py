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
from datetime import UTC, datetime
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
        self._next: float | None = None  # POSIX seconds of the next tick

    def feed(self, msg: Observation | DeviceEvent) -> list[Alert]:
        """The ticks due up to `msg.t`, then what `msg` causes."""
        out = self.advance(msg.t)
        out += self.engine.feed(msg)
        return out

    def advance(self, now: datetime) -> list[Alert]:
        """Tick the engine at every whole `tick_s` up to and including `now`."""
        ts = now.timestamp()
        if self._next is None:
            self._next = (math.floor(ts / self.tick_s) + 1) * self.tick_s
            return []
        out: list[Alert] = []
        while self._next <= ts:
            at = datetime.fromtimestamp(self._next, UTC)
            out += self.engine.tick(at)
            self._next += self.tick_s
        return out
