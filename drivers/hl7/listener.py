"""`Hl7MllpDriver`: listens for HL7 v2 over MLLP from a central station or bedside monitors.

Unlike the other drivers this one is a server: senders connect to it. The asyncio server
starts with the first session (or `start()`) and keeps listening across sessions until
`aclose()`; with `listen=None` there is no TCP server and connections come only through
`serve_connection(reader, writer)` (a test's in-memory link). Each connection has its own MLLP
decoder, every message is answered (AA / AE / AR, see `drivers.hl7.receiver`) and accepted
messages go to the session through a queue.

Session (one `_session()` of `Driver.stream()`):
- starts with the first accepted message; `device_connected` carries the sending
  application/facility and the peer address; a later, different sender in the same session
  gives a `device_identified` event;
- ends, giving `device_disconnected`, when the last connection closes, or when nothing is
  accepted for `stale_after` seconds (a `device_stale` event first; the connection is left
  open, and its next message starts a new session).

Hardening (docs/security.md): at most `max_connections` senders at once (more are closed at
connect); a connection that completes no message for `idle_timeout` seconds is closed (idle
and slowloris senders); a message is cut as soon as more than `max_message` bytes of it are
read (the reader never fetches past the limit, and the rest is skipped, not kept); messages
over `inline_parse` bytes are parsed on a worker thread, so no sender stalls the event loop
(parsing is serialised, one message at a time); `senders` (`drivers.hl7.senders`) allows each
bed's sender by source address and MSH-3 / MSH-4, anything else gets AR and a
`device_sender_rejected` event (a technical alert; one per bed, address and sender a minute);
`ssl` serves MLLP over TLS (client certificates when the context requires them).

Pump servers: `pumps` (bed → its `hl7-pump` sources) makes the listener also take a pump
server's PCD-01 / PCD-10 / PCD-04 messages for those beds (`drivers.hl7.pump_feed`); their
outputs carry the pump's own device id.

Beds: one listener serves many beds. Each observation and event from a message carries the
bed its sender maps to in `bed_map`; the driver's own events (connected / stale /
disconnected) use `bed="*"` — "every bed this feed serves" — since `Driver.bed` is one string.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import ssl
from collections.abc import AsyncIterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, tzinfo
from typing import Literal

from core.clock import Clock
from core.errors import ConfigError, ConnectionLost, DecodeError, NoReply
from core.model import EventSource
from drivers.base import Backoff, Driver, DriverOutput
from drivers.hl7.mllp import DEFAULT_MAX_SIZE, MllpDecoder, frame
from drivers.hl7.pcd import Report
from drivers.hl7.pump_feed import PumpSource
from drivers.hl7.receiver import Hl7Receiver, Outcome
from drivers.hl7.senders import SenderPolicy

log = logging.getLogger(__name__)

ALL_BEDS = "*"
_QUEUE_SIZE = 10_000  # accepted messages waiting for the session; senders wait when full
_READ_CHUNK = 65536
DEFAULT_MAX_CONNECTIONS = 32
DEFAULT_IDLE_TIMEOUT = 300.0
INLINE_PARSE = 16 * 1024
"""Messages up to this size are parsed on the loop (well under 50 ms); larger, on a thread."""
REJECT_EVENT_EVERY = 60.0


@dataclass(frozen=True, slots=True)
class _Item:
    kind: Literal["msg", "close", "rejected"]
    conn: int
    peer: str
    outcome: Outcome | None = None


def parse_listen(listen: str) -> tuple[str, int]:
    """`host:port` (port 0 = any free port) → (host, port); ConfigError when malformed."""
    host, sep, port_text = listen.removeprefix("tcp://").rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise ConfigError(f"not a host:port to listen on: {listen!r}", field="listen")
    return (host.strip("[]") or "0.0.0.0"), int(port_text)


class Hl7MllpDriver(Driver):
    """HL7 v2 ORU^R01 / ORU^R40 / ORU^R42 (IHE PCD-01 / PCD-04 / PCD-10) over MLLP, as a
    listener."""

    protocol = "hl7-mllp"

    def __init__(
        self,
        *,
        bed_map: Mapping[str, str],
        clock: Clock,
        listen: str | None,
        device_id: str = "hl7",
        stale_after: float = 60.0,
        backoff: Backoff | None = None,
        assume_tz: tzinfo = UTC,
        max_message: int = DEFAULT_MAX_SIZE,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        senders: SenderPolicy | None = None,
        ssl_context: ssl.SSLContext | None = None,
        inline_parse: int = INLINE_PARSE,
        pcd04_reply: Mapping[str, str] | None = None,
        pumps: Mapping[str, Sequence[PumpSource]] | None = None,
    ) -> None:
        if not bed_map:
            raise ConfigError("an HL7 listener needs at least one bed_map entry", field="bed_map")
        super().__init__(
            bed=ALL_BEDS,
            device_id=device_id,
            clock=clock,
            backoff=backoff or Backoff(initial=0.1, factor=2.0, cap=1.0),
            stale_after=stale_after,
        )
        self.listen = listen
        if pumps:
            self.protocol = "hl7-pump"  # a pump server's listener says so in its events
        self.host, self._requested_port = parse_listen(listen) if listen is not None else ("", 0)
        self.receiver = Hl7Receiver(
            bed_map=bed_map,
            device_id=device_id,
            assume_tz=assume_tz,
            pcd04_reply=pcd04_reply,
            pumps=pumps,
        )
        self.max_message = max_message
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.senders = senders or SenderPolicy({})
        self.ssl_context = ssl_context
        self.inline_parse = inline_parse
        self.rejected = 0  # messages answered AR (unknown sender, unsupported type)
        self.refused_connections = 0  # closed at connect: over the cap, or address not allowed
        self.idle_closed = 0
        self._parse_lock = asyncio.Lock()
        self._parser: ThreadPoolExecutor | None = None
        self._reject_seen: dict[tuple[str, ...], float] = {}
        self._server: asyncio.Server | None = None
        self._port: int | None = None
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=_QUEUE_SIZE)
        self._handlers: set[asyncio.Task[None]] = set()
        self._conn_ids = itertools.count(1)
        self._open: set[int] = set()

    # -- server lifetime ------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The bound TCP port (after `start()` or the first session)."""
        if self._port is None:
            raise RuntimeError("the HL7 listener is not started")
        return self._port

    @property
    def connections(self) -> int:
        return len(self._open)

    async def start(self) -> int:
        """Bind and listen (idempotent); returns the bound port (0 when `listen` is None)."""
        if self.listen is None:
            return 0
        if self._server is None:
            try:
                self._server = await asyncio.start_server(
                    self.serve_connection, self.host, self._requested_port, ssl=self.ssl_context
                )
            except OSError as exc:
                raise ConfigError(
                    f"cannot listen on {self.host}:{self._requested_port}: {exc}", field="listen"
                ) from exc
            self._port = self._server.sockets[0].getsockname()[1]
            log.info(
                "HL7 MLLP%s listener on %s:%d (at most %d senders)",
                " over TLS" if self.ssl_context is not None else "",
                self.host,
                self._port,
                self.max_connections,
            )
            if self.senders.open_to_any_address:
                log.warning("HL7 listener on port %d takes senders from any address", self._port)
        return self.port

    async def aclose(self) -> None:
        """Stop listening and close every sender's connection."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        for task in handlers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1.0)
        parser, self._parser = self._parser, None
        if parser is not None:
            parser.shutdown(wait=False, cancel_futures=True)

    async def __aenter__(self) -> Hl7MllpDriver:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- one connection -------------------------------------------------------------------
    async def serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Serve one sender's stream connection until it closes (what the TCP server runs)."""
        addr = writer.get_extra_info("peername")
        host = str(addr[0]) if isinstance(addr, tuple) else str(addr)
        peer = f"{addr[0]}:{addr[1]}" if isinstance(addr, tuple) else str(addr)
        if len(self._open) >= self.max_connections or not self.senders.connection_ok(host):
            self.refused_connections += 1
            if self.refused_connections == 1 or self.refused_connections % 100 == 0:
                log.warning(
                    "HL7 connection from %s refused (%d so far): %s",
                    peer,
                    self.refused_connections,
                    "address not allowed"
                    if not self.senders.connection_ok(host)
                    else f"{self.max_connections} senders already connected",
                )
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        conn = next(self._conn_ids)
        self._open.add(conn)
        decoder = MllpDecoder(self.max_message)
        log.info("HL7 sender connected from %s", peer)
        try:
            last_message = self.clock.monotonic()
            while True:
                remaining = last_message + self.idle_timeout - self.clock.monotonic()
                try:
                    data = await self.clock.wait_for(
                        reader.read(min(_READ_CHUNK, decoder.room)), max(remaining, 0.0)
                    )
                except TimeoutError:
                    self.idle_closed += 1
                    log.info("HL7 sender %s closed: no message for %g s", peer, self.idle_timeout)
                    break
                if not data:
                    break
                decoder.feed(data)
                if await self._drain(decoder, writer, conn, peer, host):
                    last_message = self.clock.monotonic()
        except (OSError, ConnectionError) as exc:
            log.info("HL7 sender %s: %s", peer, exc)
        except asyncio.CancelledError:
            # Shutting down. End normally: asyncio's server callback calls exception() on
            # this task and would log a cancelled one as an error with a traceback.
            pass
        finally:
            self._open.discard(conn)
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                self._queue.put_nowait(_Item("close", conn, peer))
            log.info("HL7 sender %s disconnected", peer)

    async def _drain(
        self, decoder: MllpDecoder, writer: asyncio.StreamWriter, conn: int, peer: str, host: str
    ) -> bool:
        """Answer every complete message buffered; True when there was one."""
        got = False
        while True:
            try:
                payload = decoder.next_frame()
            except DecodeError as exc:
                self.count_bad_frame(f"{peer}: {exc}")
                continue
            if payload is None:
                return got
            got = True
            self.count_frame()
            outcome = await self._receive(payload, host)
            if outcome.code == "AE":
                self.count_bad_frame(f"{peer}: message {outcome.control_id!r}: {outcome.reason}")
            elif outcome.code == "AR":
                self.rejected += 1
                if outcome.identification and self._first_reject(outcome, host):
                    await self._queue.put(_Item("rejected", conn, peer, outcome))
            else:
                await self._queue.put(_Item("msg", conn, peer, outcome))
            for ack in outcome.acks:  # none, or accept and application acks (enhanced mode)
                writer.write(frame(ack))
            await writer.drain()

    async def _receive(self, payload: bytes, host: str) -> Outcome:
        """The receiver's answer, one message at a time; a large one parsed off the loop."""

        def admit(bed: str, report: Report) -> str | None:
            h = report.header
            return self.senders.refusal(
                bed,
                host,
                h.sending_application,
                h.sending_facility,
                report.message.encoding.component,
            )

        async with self._parse_lock:
            now = self.clock.now()
            if len(payload) <= self.inline_parse:
                return self.receiver.receive(payload, now, admit)
            if self._parser is None:
                self._parser = ThreadPoolExecutor(1, thread_name_prefix="hl7-parse")
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self._parser, self.receiver.receive, payload, now, admit
            )

    def _first_reject(self, outcome: Outcome, host: str) -> bool:
        """Whether this refused sender is news (one event per bed, address, sender a minute)."""
        key = (outcome.bed or ALL_BEDS, host, *sorted(outcome.identification.values()))
        now = self.clock.monotonic()
        last = self._reject_seen.get(key)
        if last is not None and now - last < REJECT_EVENT_EVERY:
            return False
        if len(self._reject_seen) > 1000:
            self._reject_seen.clear()
        self._reject_seen[key] = now
        return True

    def _rejected_event(self, item: _Item) -> DriverOutput:
        assert item.outcome is not None
        event = self.event(
            "device_sender_rejected",
            EventSource.DRIVER,
            device=self.device_id,
            peer=item.peer,
            reason=item.outcome.reason,
            **item.outcome.identification,
        )
        return replace(event, bed=item.outcome.bed or ALL_BEDS)

    # -- the session ----------------------------------------------------------------------
    async def _session(self) -> AsyncIterator[DriverOutput]:
        await self.start()
        try:
            first = await self._queue.get()
            while first.kind != "msg" or first.outcome is None:
                if first.kind == "rejected":
                    yield self._rejected_event(first)
                first = await self._queue.get()
            senders = {self._sender_key(first.outcome)}
            yield self.connected_event(peer=first.peer, **first.outcome.identification)
            for out in first.outcome.outputs:
                yield out
            while True:
                try:
                    item = await self.clock.wait_for(self._queue.get(), self.stale_after)
                except TimeoutError:
                    yield self.event(
                        "device_stale",
                        EventSource.DRIVER,
                        device=self.device_id,
                        silent_s=self.stale_after,
                    )
                    raise NoReply(f"no HL7 message accepted for {self.stale_after:g} s") from None
                if item.kind == "close":
                    if not self._open:
                        raise ConnectionLost(f"last HL7 sender ({item.peer}) disconnected")
                    continue
                if item.kind == "rejected":
                    yield self._rejected_event(item)
                    continue
                assert item.outcome is not None
                key = self._sender_key(item.outcome)
                if key not in senders:
                    senders.add(key)
                    yield self.event(
                        "device_identified",
                        EventSource.DRIVER,
                        device=self.device_id,
                        peer=item.peer,
                        **item.outcome.identification,
                    )
                for out in item.outcome.outputs:
                    yield out
        except asyncio.CancelledError:
            await self.aclose()
            raise

    @staticmethod
    def _sender_key(outcome: Outcome) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(outcome.identification.items()))
