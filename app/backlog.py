"""The pipeline's backlog: bus messages taken off the subscription and not yet handled.

Messages leave in arrival order (`take`), except when the pipeline is behind: then
`take_events` hands out every waiting event first, each with the observations of its own
bed that arrived before it (so a bed's messages still reach the engine in order), leaving
the numerics of the other beds waiting in their order. Nothing is dropped.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from core.model import Message, Observation


class Backlog:
    """Messages waiting, in arrival order, with a count of the events among them."""

    def __init__(self) -> None:
        self._q: deque[Message] = deque()
        self.events = 0

    def __len__(self) -> int:
        return len(self._q)

    def add(self, msgs: Iterable[Message]) -> None:
        for m in msgs:
            self._q.append(m)
            if type(m) is not Observation:
                self.events += 1

    def oldest(self) -> Message:
        """The message waiting longest (IndexError when none is)."""
        return self._q[0]

    def take(self, n: int) -> list[Message]:
        """The first `n` messages waiting, in arrival order."""
        q = self._q
        out = [q.popleft() for _ in range(min(n, len(q)))]
        self.events -= sum(1 for m in out if type(m) is not Observation)
        return out

    def take_events(self) -> list[Message]:
        """Every waiting event with its bed's earlier observations, in arrival order; the
        other messages keep waiting, in theirs."""
        if not self.events:
            return []
        last_event: dict[str, int] = {}
        for i, m in enumerate(self._q):
            if type(m) is not Observation:
                last_event[m.bed] = i
        urgent: list[Message] = []
        rest: deque[Message] = deque()
        for i, m in enumerate(self._q):
            (urgent if i <= last_event.get(m.bed, -1) else rest).append(m)
        self._q = rest
        self.events = 0
        return urgent
