"""The bus that carries observations and events from producers to consumers.

`Bus` is the interface; `InProcessBus` is the default. An MQTT bus between bedside gateways
and the station implements the same interface in `app/`.

A bus may also carry a `WireBatch`: a bed's observations still in their wire form, decoded
only when a consumer takes them. `get` and `get_ready` hand out decoded messages;
`get_item` and `get_ready_items` hand the batches out undecoded, to a consumer that decodes
them when it reaches them (the pipeline: an alarm read right behind a burst of numerics need
not wait for all of them to be decoded first).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from core.model import Message, Observation


class WireBatch:
    """Observations of one bed (`bed`, the first at `t`, about `size` of them) in the form
    they travelled in; `messages()` decodes them (a payload that cannot be decoded gives
    none: its producer counts and logs it)."""

    __slots__ = ("_decode", "_payload", "bed", "size", "t")

    def __init__(
        self,
        bed: str,
        t: datetime,
        size: int,
        payload: bytes,
        decode: Callable[[bytes], list[Message]],
    ) -> None:
        self.bed = bed
        self.t = t
        self.size = size
        self._payload = payload
        self._decode = decode

    def messages(self) -> list[Message]:
        return self._decode(self._payload)

    def __repr__(self) -> str:
        return f"WireBatch(bed={self.bed!r}, t={self.t.isoformat()}, size={self.size})"


Item = Message | WireBatch
"""What a subscription queues: a message, or a batch of observations not yet decoded."""


class Subscription:
    """One consumer's queue. A full bounded queue drops its oldest item and counts it.
    `events_only`: observations are not queued at all (a consumer of events alone)."""

    def __init__(self, bus: InProcessBus, maxsize: int, *, events_only: bool = False) -> None:
        self._bus = bus
        self._queue: asyncio.Queue[Item | None] = asyncio.Queue(maxsize)
        self._decoded: deque[Message] = deque()  # the rest of a batch `get` decoded
        self.events_only = events_only
        self.dropped = 0
        self.closed = False

    def put(self, item: Item) -> None:
        if self.closed or (self.events_only and type(item) in _NUMERICS):
            return
        while True:
            try:
                self._queue.put_nowait(item)
                return
            except asyncio.QueueFull:
                self._queue.get_nowait()
                self.dropped += 1

    async def get(self) -> Message:
        """The next message; raises `EOFError` once the subscription is closed and drained."""
        while not self._decoded:
            item = await self.get_item()
            if not isinstance(item, WireBatch):
                return item
            self._decoded.extend(item.messages())
        return self._decoded.popleft()

    def get_ready(self) -> list[Message]:
        """Every message queued now, in order, without waiting (none once closed)."""
        out: list[Message] = []
        for item in self.get_ready_items():
            if isinstance(item, WireBatch):
                out += item.messages()
            else:
                out.append(item)
        return out

    async def get_item(self) -> Item:
        """`get`, with a batch handed out undecoded."""
        if self._decoded:
            return self._decoded.popleft()
        item = await self._queue.get()
        if item is None:
            self._queue.put_nowait(None)  # leave the mark for the next call
            raise EOFError("subscription closed")
        return item

    def get_ready_items(self) -> list[Item]:
        """`get_ready`, with the batches handed out undecoded."""
        out: list[Item] = list(self._decoded)
        self._decoded.clear()
        queue = self._queue
        while not queue.empty():
            item = queue.get_nowait()
            if item is None:  # closed: leave the mark for `get`
                queue.put_nowait(None)
                break
            out.append(item)
        return out

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._bus._remove(self)
            self._queue._queue.clear()  # type: ignore[attr-defined]
            self._decoded.clear()
            self._queue.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[Message]:
        while True:
            try:
                yield await self.get()
            except EOFError:
                return


_NUMERICS = (Observation, WireBatch)


class Bus(ABC):
    """Publish/subscribe for `Message`s. Publishing never blocks on a slow consumer."""

    @abstractmethod
    async def publish(self, msg: Message) -> None: ...

    @abstractmethod
    def subscribe(self, maxsize: int = 0, *, events_only: bool = False) -> Subscription:
        """A new subscription; `maxsize` 0 means unbounded (for consumers that must see all);
        `events_only`: no observations."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources."""


class InProcessBus(Bus):
    """Fan-out inside one process."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        self.published = 0

    async def publish(self, msg: Message) -> None:
        self.publish_nowait(msg)

    def publish_nowait(self, item: Item) -> None:
        self.published += 1
        for sub in list(self._subs):
            sub.put(item)

    def subscribe(self, maxsize: int = 0, *, events_only: bool = False) -> Subscription:
        sub = Subscription(self, maxsize, events_only=events_only)
        self._subs.append(sub)
        return sub

    @property
    def subscribed(self) -> bool:
        """Whether anyone listens (a message published to no one is gone)."""
        return bool(self._subs)

    def _remove(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)

    async def close(self) -> None:
        for sub in list(self._subs):
            sub.close()
