"""The pipeline's backlog: bus messages taken off the subscription and not yet handled.

Messages leave in arrival order (`take`), except when the pipeline is behind: then
`take_events` hands out every waiting event first, each with the observations of its own
bed that arrived before it (so a bed's messages still reach the engine in order), leaving
the numerics of the other beds waiting in their order. Nothing is dropped.

Observations may wait as `WireBatch`es (a bed's, still in wire form): a batch is decoded
when it is taken, so an event that passes a burst of numerics costs the decoding of its own
bed's batches only.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from core.bus import Item, WireBatch
from core.model import Message, Observation


class Backlog:
    """Items waiting, in arrival order, with a count of the events among them and of the
    messages in all (a batch counted at its size)."""

    def __init__(self) -> None:
        self._q: deque[Item] = deque()
        self.events = 0
        self.waiting = 0

    def __len__(self) -> int:
        return len(self._q)

    def add(self, items: Iterable[Item]) -> None:
        for m in items:
            self._q.append(m)
            if isinstance(m, WireBatch):
                self.waiting += m.size
            else:
                self.waiting += 1
                if type(m) is not Observation:
                    self.events += 1

    def oldest(self) -> Item:
        """The item waiting longest (IndexError when none is)."""
        return self._q[0]

    def take(self, n: int) -> list[Message]:
        """The first `n` messages waiting, in arrival order (a batch decoded on the way; what
        of it does not fit waits, first)."""
        q = self._q
        out: list[Message] = []
        while q and len(out) < n:
            m = q.popleft()
            if not isinstance(m, WireBatch):
                out.append(m)
                self.waiting -= 1
                continue
            self.waiting -= m.size
            msgs = m.messages()  # observations only (`app.mqtt.codec`)
            room = n - len(out)
            if len(msgs) > room:
                q.extendleft(reversed(msgs[room:]))
                self.waiting += len(msgs) - room
                msgs = msgs[:room]
            out += msgs
        self.events -= sum(1 for m in out if type(m) is not Observation)
        return out

    def take_events(self) -> list[Message]:
        """Every waiting event with its bed's earlier observations, in arrival order; the
        other items keep waiting, in theirs."""
        if not self.events:
            return []
        last_event: dict[str, int] = {}
        for i, m in enumerate(self._q):
            if type(m) is not Observation and type(m) is not WireBatch:
                last_event[m.bed] = i
        urgent: list[Message] = []
        rest: deque[Item] = deque()
        for i, m in enumerate(self._q):
            if i > last_event.get(m.bed, -1):
                rest.append(m)
            elif isinstance(m, WireBatch):
                self.waiting -= m.size
                urgent += m.messages()
            else:
                self.waiting -= 1
                urgent.append(m)
        self._q = rest
        self.events = 0
        return urgent
