"""An in-memory null-modem: asyncio stream connections with no socket, and byte-level faults.

`MemoryServer(handler, clock)` stands where `asyncio.start_server(handler, ...)` would. Each
`connect()` makes a new connection, runs `handler(reader, writer)` on the far end as a task and
returns the near end's `(reader, writer)`, as `asyncio.open_connection` does. `open_link` has
the signature of `drivers.transport.open_link` and returns the same `Link` class, so a driver
built with `open_link=server.open_link` talks to a simulator with no special case.

Faults (`LinkFaults`, one per direction, read at every write so a test may change them at any
moment): a write is split into chunks of 1..`max_chunk` bytes; each chunk is delivered
`delay_s` later on the injected clock (order is kept); with probability `flip_rate` a write has
one bit of one byte flipped. `MemoryServer.drop()` cuts every open connection (both ends read
EOF) and `refuse` makes new connections fail, as an unplugged device does. Random choices come
from one seeded `random.Random`: on a `VirtualClock` a run repeats exactly.

Either end closing ends the connection, like pulling a cable: bytes already written by the
closing end are delivered first, then both ends read EOF.

Time: bytes move only when the event loop turns, so a test on a `VirtualClock` moves time with
`run_for(clock, seconds)` or `run_until(clock, condition, timeout)`, which let every exchange in
flight finish (`settle`) before each small step of the clock, rather than
`VirtualClock.advance` alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from core.clock import Clock, VirtualClock
from core.errors import DeviceUnreachable
from drivers.transport import Link, SerialSettings

log = logging.getLogger(__name__)

STEP_S = 0.01  # virtual seconds per step of `run_for`
_MAX_ROUNDS = 1000  # loop turns `settle` allows before it gives up waiting for quiet

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class LinkFaults:
    """Byte-level faults of one direction of a link."""

    max_chunk: int = 0  # split every write into chunks of 1..max_chunk bytes; 0: whole writes
    delay_s: float = 0.0  # deliver each chunk this much later on the clock
    flip_rate: float = 0.0  # probability that a write has one bit flipped

    def clear(self) -> None:
        self.max_chunk, self.delay_s, self.flip_rate = 0, 0.0, 0.0


@dataclass
class LinkStats:
    """What one end has written: bytes, writes, delivered chunks, writes with a flipped bit."""

    bytes: int = 0
    writes: int = 0
    chunks: int = 0
    flipped: int = 0


class MemoryTransport(asyncio.Transport):
    """One end of a memory connection; what it writes arrives at the peer's protocol."""

    def __init__(self, conn: MemoryConnection, faults: LinkFaults, name: str) -> None:
        super().__init__({"peername": ("memory", conn.number), "sockname": ("memory", 0)})
        self._conn = conn
        self.faults = faults
        self.name = name
        self.stats = LinkStats()
        self.protocol: asyncio.Protocol | None = None
        self.peer: MemoryTransport | None = None
        self._queue: deque[tuple[float, bytes]] = deque()
        self._last_due = float("-inf")
        self._pump: asyncio.Task[None] | None = None
        self._closing = False
        self._lost = False
        self._reading = True

    # -- asyncio.Transport ------------------------------------------------------------------
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or not data:
            return
        chunk = bytes(data)
        rng, clock = self._conn.rng, self._conn.clock
        self.stats.bytes += len(chunk)
        self.stats.writes += 1
        if self.faults.flip_rate and rng.random() < self.faults.flip_rate:
            flipped = bytearray(chunk)
            flipped[rng.randrange(len(chunk))] ^= 1 << rng.randrange(8)
            chunk = bytes(flipped)
            self.stats.flipped += 1
        for part in _split(chunk, self.faults.max_chunk, rng):
            due = max(clock.monotonic() + self.faults.delay_s, self._last_due)
            self._last_due = due
            self._queue.append((due, part))
        if self._pump is None or self._pump.done():
            self._pump = asyncio.get_running_loop().create_task(
                self._deliver(), name=f"{self.name} delivery"
            )

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if self._pump is None or self._pump.done():
            self._conn.shut()  # else the pump shuts it once the last chunk is delivered

    def abort(self) -> None:
        self._conn.shut(abort=True)

    def is_closing(self) -> bool:
        return self._closing

    def can_write_eof(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return sum(len(chunk) for _, chunk in self._queue)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        """Memory has no buffer limit; writers are never paused."""

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self.protocol is not None
        return self.protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        assert isinstance(protocol, asyncio.Protocol)
        self.protocol = protocol

    def pause_reading(self) -> None:
        self._reading = False  # bytes keep arriving: the reader's buffer simply grows

    def resume_reading(self) -> None:
        self._reading = True

    def is_reading(self) -> bool:
        return self._reading and not self._lost

    # -- delivery ---------------------------------------------------------------------------
    async def _deliver(self) -> None:
        clock = self._conn.clock
        while self._queue:
            due, _ = self._queue[0]
            wait = due - clock.monotonic()
            if wait > 0:
                await clock.sleep(wait)
            else:
                await asyncio.sleep(0)  # give the reader a turn between chunks
            if not self._queue or self.peer is None or self.peer._lost:
                return
            _, chunk = self._queue.popleft()
            self.stats.chunks += 1
            assert self.peer.protocol is not None
            self.peer.protocol.data_received(chunk)
        if self._closing:
            self._conn.shut()

    def _lose(self) -> None:
        """Mark this end closed; the protocol hears EOF and the loss on the next loop turn."""
        if self._lost:
            return
        self._lost = self._closing = True
        self._queue.clear()
        pump = self._pump
        if pump is not None and pump is not asyncio.current_task():
            pump.cancel()
        protocol = self.protocol
        if protocol is not None:
            loop = asyncio.get_running_loop()
            loop.call_soon(protocol.eof_received)
            loop.call_soon(protocol.connection_lost, None)

    async def wait_delivered(self) -> None:
        """Return once the pump has stopped (for orderly shutdown)."""
        if self._pump is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([self._pump])


def _split(data: bytes, max_chunk: int, rng: random.Random) -> list[bytes]:
    if max_chunk <= 0:
        return [data]
    parts = []
    while data:
        n = rng.randint(1, max_chunk)
        parts.append(data[:n])
        data = data[n:]
    return parts


class MemoryConnection:
    """Two connected ends: `client` (the connecting side) and `server`."""

    def __init__(
        self,
        clock: Clock,
        rng: random.Random | None = None,
        number: int = 1,
        *,
        to_server: LinkFaults | None = None,
        to_client: LinkFaults | None = None,
        name: str = "mem",
    ) -> None:
        self.clock = clock
        self.rng = rng or random.Random(0)
        self.number = number
        self.client = MemoryTransport(self, to_server or LinkFaults(), f"{name}#{number} client")
        self.server = MemoryTransport(self, to_client or LinkFaults(), f"{name}#{number} server")
        self.client.peer, self.server.peer = self.server, self.client
        self.closed = False

    def streams(self) -> tuple[Streams, Streams]:
        """(client reader, writer), (server reader, writer); call once."""
        return _attach(self.client), _attach(self.server)

    def shut(self, *, abort: bool = False) -> None:
        """End the connection for both ends (`abort`: drop bytes still in flight)."""
        if self.closed:
            return
        if not abort:
            for end in (self.client, self.server):
                pump = end._pump
                if end._closing and pump and not pump.done() and pump is not asyncio.current_task():
                    return  # still delivering what the closing end wrote
        self.closed = True
        self.client._lose()
        self.server._lose()

    async def wait_closed(self) -> None:
        await self.client.wait_delivered()
        await self.server.wait_delivered()


def _attach(transport: MemoryTransport) -> Streams:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    protocol = asyncio.StreamReaderProtocol(reader)
    transport.protocol = protocol
    protocol.connection_made(transport)
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


class MemoryServer:
    """Accepts memory connections for `handler`, as `asyncio.start_server` does for TCP."""

    def __init__(self, handler: Handler, clock: Clock, *, seed: int = 0, name: str = "mem") -> None:
        self.handler = handler
        self.clock = clock
        self.name = name
        self.to_server = LinkFaults()  # faults of the bytes the connecting side (host) sends
        self.to_client = LinkFaults()  # faults of the bytes the handler (device) sends
        self.refuse = False  # connections fail while set, as to an unplugged device
        self.accepted = 0
        self.connections: list[MemoryConnection] = []  # every connection made, oldest first
        self._rng = random.Random(seed)
        self._numbers = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def open_connections(self) -> list[MemoryConnection]:
        return [c for c in self.connections if not c.closed]

    async def connect(self) -> Streams:
        """A new connection: the handler runs on the far end; returns the near end's streams."""
        if self.refuse:
            raise ConnectionRefusedError(f"{self.name}: connection refused")
        conn = MemoryConnection(
            self.clock,
            self._rng,
            next(self._numbers),
            to_server=self.to_server,
            to_client=self.to_client,
            name=self.name,
        )
        near, far = conn.streams()
        self.connections.append(conn)
        self.accepted += 1
        task = asyncio.create_task(self._serve(*far), name=f"{self.name}#{conn.number} handler")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        await asyncio.sleep(0)  # the handler starts before the caller speaks, as after accept
        return near

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self.handler(reader, writer)
        except Exception:
            log.exception("%s: connection handler failed", self.name)
        finally:
            writer.close()

    async def open_link(self, url: str, serial_settings: SerialSettings | None = None) -> Link:
        """`drivers.transport.open_link` over this server (the settings are not used)."""
        try:
            reader, writer = await self.connect()
        except ConnectionRefusedError as exc:
            raise DeviceUnreachable(f"{url}: {exc}") from exc
        return Link(reader, writer, url)

    def drop(self) -> None:
        """Cut every open connection at once; bytes in flight are lost."""
        for conn in self.open_connections:
            conn.shut(abort=True)

    async def close(self) -> None:
        """Drop every connection and wait for the handlers and deliveries to end."""
        self.drop()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        for conn in self.connections:
            await conn.wait_closed()

    async def __aenter__(self) -> MemoryServer:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


async def settle(max_rounds: int = _MAX_ROUNDS) -> None:
    """Turn the event loop until nothing is ready to run: every exchange over memory links that
    needs no time has finished. (Peeks at the loop's ready queue, a CPython detail; without
    it, turns `max_rounds` times.)"""
    ready = getattr(asyncio.get_running_loop(), "_ready", None)
    for _ in range(max_rounds):
        await asyncio.sleep(0)
        if ready is not None and not ready:
            return


async def run_for(clock: VirtualClock, seconds: float, step: float = STEP_S) -> None:
    """Move `clock` on by `seconds` in steps of `step`, settling the loop before each."""
    end = clock.monotonic() + seconds
    while (left := end - clock.monotonic()) > 1e-9:
        await settle()
        await clock.advance(min(step, left))
    await settle()


async def run_until(
    clock: VirtualClock, cond: Callable[[], bool], timeout: float, step: float = STEP_S
) -> None:
    """Move `clock` on in steps until `cond()` holds; TimeoutError once `timeout` virtual
    seconds have passed without it."""
    deadline = clock.monotonic() + timeout
    await settle()
    while not cond():
        if clock.monotonic() >= deadline:
            raise TimeoutError(f"condition not met within {timeout:g} virtual s")
        await run_for(clock, step, step)
