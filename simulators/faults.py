"""Fault injection shared by every protocol simulator.

A `Faults` object is read by a simulator each time it is about to answer or send, so a test
(or a scenario's `device unplug`) can flip faults at any moment.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Faults:
    """Faults to inject into one simulated device's link."""

    drop: bool = False  # close the connection (and refuse/ignore new ones while set)
    stall: bool = False  # keep the link open but send nothing
    corrupt_checksum: bool = False  # send frames whose checksum / FCS / CRC is wrong
    garbage: bool = False  # send random bytes before each answer
    slow_s: float = 0.0  # wait this long (on the simulator's clock) before answering
    _rng: random.Random = field(default_factory=lambda: random.Random(1234), repr=False)

    def garbage_bytes(self, n: int = 16) -> bytes:
        """Random bytes for the `garbage` fault (seeded, so tests repeat)."""
        return bytes(self._rng.randrange(256) for _ in range(n))

    def clear(self) -> None:
        self.drop = self.stall = self.corrupt_checksum = self.garbage = False
        self.slow_s = 0.0
