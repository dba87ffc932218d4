"""One station client's bounded outgoing queue.

Publishing never waits on a client. The queue has two lanes, and the first is always sent
first:

- ordered: alert transitions, heartbeats, replies — in the order they were put, so a
  heartbeat's seq never runs ahead of an alert still waiting;
- state: a bed's numerics, a bed, a device, each with a `key`. A newer message replaces the
  one still waiting in place, so a slow reader gets the latest values rather than a backlog,
  and numerics alone never fill its queue. An alert never waits behind a burst of numerics.

When the two lanes together hold `maxsize` messages (an alert storm, a stalled reader),
everything is dropped and a single `RESYNC` marker left, so the client's sender answers with a
resync (missed alert transitions by seq, then a fresh snapshot).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Item:
    """A message serialised once for every client.

    `seq` is set for alert transitions; `key` for state that a newer message supersedes."""

    text: str
    seq: int | None = None
    key: str | None = None


RESYNC = Item("")
CLOSE = Item("")


class _Slot:
    __slots__ = ("item",)

    def __init__(self, item: Item) -> None:
        self.item = item


class ClientQueue:
    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._ordered: deque[Item] = deque()
        self._state: deque[_Slot] = deque()
        self._keyed: dict[str, _Slot] = {}
        self._ready = asyncio.Event()
        self.overflows = 0

    def put(self, item: Item) -> bool:
        """Queue `item`; False when the queue overflowed and was replaced by `RESYNC`."""
        if item is CLOSE:
            self._reset(CLOSE)
            return True
        if self._ordered and self._ordered[0] is CLOSE:
            return True
        if item.key is not None and (slot := self._keyed.get(item.key)) is not None:
            slot.item = item
            return True
        if len(self) >= self.maxsize:
            self._reset(RESYNC)
            self.overflows += 1
            return False
        if item.key is None:
            self._ordered.append(item)
        else:
            slot = _Slot(item)
            self._state.append(slot)
            self._keyed[item.key] = slot
        self._ready.set()
        return True

    async def get(self) -> Item:
        while not (self._ordered or self._state):
            self._ready.clear()
            await self._ready.wait()
        if self._ordered:
            return self._ordered.popleft()
        item = self._state.popleft().item
        if item.key is not None:
            self._keyed.pop(item.key, None)
        return item

    def _reset(self, marker: Item) -> None:
        self._ordered.clear()
        self._state.clear()
        self._keyed.clear()
        self._ordered.append(marker)
        self._ready.set()

    def __len__(self) -> int:
        return len(self._ordered) + len(self._state)
