"""The bus that carries observations and events from producers to consumers.

`Bus` is the interface; `InProcessBus` is the default. An MQTT bus between bedside gateways
and the station implements the same interface in `app/`.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator

from core.model import Message


class Subscription:
    """One consumer's queue. A full bounded queue drops its oldest message and counts it."""

    def __init__(self, bus: InProcessBus, maxsize: int) -> None:
        self._bus = bus
        self._queue: asyncio.Queue[Message | None] = asyncio.Queue(maxsize)
        self.dropped = 0
        self.closed = False

    def put(self, msg: Message) -> None:
        if self.closed:
            return
        while True:
            try:
                self._queue.put_nowait(msg)
                return
            except asyncio.QueueFull:
                self._queue.get_nowait()
                self.dropped += 1

    async def get(self) -> Message:
        """The next message; raises `EOFError` once the subscription is closed and drained."""
        msg = await self._queue.get()
        if msg is None:
            raise EOFError("subscription closed")
        return msg

    def get_ready(self) -> list[Message]:
        """Every message queued now, in order, without waiting (none once closed)."""
        out: list[Message] = []
        queue = self._queue
        while not queue.empty():
            msg = queue.get_nowait()
            if msg is None:  # closed: leave the mark for `get`
                queue.put_nowait(None)
                break
            out.append(msg)
        return out

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._bus._remove(self)
            self._queue._queue.clear()  # type: ignore[attr-defined]
            self._queue.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[Message]:
        while True:
            try:
                yield await self.get()
            except EOFError:
                return


class Bus(ABC):
    """Publish/subscribe for `Message`s. Publishing never blocks on a slow consumer."""

    @abstractmethod
    async def publish(self, msg: Message) -> None: ...

    @abstractmethod
    def subscribe(self, maxsize: int = 0) -> Subscription:
        """A new subscription; `maxsize` 0 means unbounded (for consumers that must see all)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources."""


class InProcessBus(Bus):
    """Fan-out inside one process."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        self.published = 0

    async def publish(self, msg: Message) -> None:
        self.publish_nowait(msg)

    def publish_nowait(self, msg: Message) -> None:
        self.published += 1
        for sub in list(self._subs):
            sub.put(msg)

    def subscribe(self, maxsize: int = 0) -> Subscription:
        sub = Subscription(self, maxsize)
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
