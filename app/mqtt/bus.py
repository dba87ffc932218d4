"""`MqttBus`: the bus over MQTT (aiomqtt + Mosquitto), between bedside gateways and the station.

Publishing (gateways; the station's own drivers too):
- `publish()` never waits on the network: it encodes the message, appends it to a bounded
  in-memory outbox and returns. A sender task drains the outbox in order, QoS 1, and forgets
  a message only once the broker has confirmed it (PUBACK).
- Observations travel in batches: those of one bed published in one turn of the event loop
  (a device frame, a poll), up to `OBS_BATCH`, go as one `obs` message, a JSON array. An event
  first sends its bed's pending observations, so each bed's order holds. A message per value
  would cost a round of QoS 1 per value: 28 a second per bed, which held a gateway of 100
  beds minutes behind. The other beds' batches are encoded `FLUSH_BEDS` beds per turn of the
  loop, so an event (a pump alarm) raised with a burst of every bed's numerics goes out at
  once instead of some 30 ms later, behind 250 beds' encoding.
- Device state and open device alarms are also published retained (`codec`, `retained`), so a
  station that starts with no session rebuilds the truth from the broker.
- While the broker is unreachable (or the outbox is full, or older messages are still
  spooled) the outbox is moved to the spool (`spool`: SQLite; a file survives a gateway
  restart), which is replayed in publish order, before newer messages, on reconnection.
  A gateway killed with -9 loses what was in memory only: the last 100 ms of an outage, or
  what was published while a silent broker went undetected (up to `PUBLISH_TIMEOUT_S`).
- Drop policy: nothing is dropped until the spool holds `spool_limit` messages; beyond that
  the OLDEST OBSERVATIONS are deleted and counted (`dropped`, in messages: one holds a bed's
  observations of one loop turn). Events and retained state
  are never dropped. If the spool cannot be written (disk error), observations are shed
  from the in-memory outbox beyond `outbox_limit`, oldest first, and counted the same way.
- A message whose confirmation was lost is sent again: delivery is at least once. A broker
  that crashes loses what it had confirmed but not yet delivered (or saved), so after a lost
  connection the gateway also re-sends its last `REPLAY_WINDOW` confirmed messages; the
  station drops the exact duplicates.

Receiving (the station):
- With a `client_id`, the session is persistent (clean_session false, QoS 1 subscription), so
  what gateways publish while the station is down is delivered when it comes back. The
  broker must keep those messages: `max_queued_messages` (default 1000 in Mosquitto) must
  be raised for a long outage, and `persistence true` keeps sessions over a broker restart.
- A message is acknowledged to the broker only once it is on the local bus, so what the
  station had not taken in when it stopped is delivered again on its return. (What local
  subscribers had queued but not processed is theirs to keep.)
- Exact duplicates (a re-sent batch; an event received both live and as retained state) are
  delivered once. Local subscribers see only what came back from the broker, their own
  process's messages included, so every consumer sees one order.
- An `obs` batch goes onto the local bus undecoded (`codec.wire_batch`): the socket reader
  only frames packets, and an alarm right behind a burst of numerics is read at once; the
  pipeline decodes each batch when it reaches it. A batch that will not decode then is
  counted in `bad_messages` and logged, as one found bad at once is.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import itertools
import logging
import socket
import sqlite3
from collections import OrderedDict, deque
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import aiomqtt
import paho.mqtt.client as paho

from app.mqtt.client import StationClient
from app.mqtt.codec import (
    RETAINED_KINDS,
    decode_all,
    encode,
    encode_observations,
    kind_of_topic,
    segment,
    topic,
    wire_batch,
)
from app.mqtt.retained import RetainedTracker
from app.mqtt.spool import Entry, Spool
from app.mqtt.tls import DEFAULT_PORT, tls_context
from core.bus import Bus, InProcessBus, Subscription
from core.clock import Clock, RealClock
from core.errors import ConfigError, RecordError
from core.model import Message, Observation

log = logging.getLogger(__name__)

OUTBOX_LIMIT = 10_000
SPOOL_LIMIT = 1_000_000
BATCH = 200
OBS_BATCH = 500
FLUSH_BEDS = 20
PUBLISH_TIMEOUT_S = 5.0
SPILL_EVERY_S = 0.1
MAX_BACKOFF_S = 5.0
REPLAY_WINDOW = 2_000
DEDUP_WINDOW = 10_000


def station_client_id(name: str | None = None) -> str:
    """The station's stable MQTT client id: `iaewatch-station-<name or host name>`."""
    return f"iaewatch-station-{segment(name or socket.gethostname())}"


class _Recent:
    """The digests of the last `size` payloads seen (exact-duplicate detection)."""

    def __init__(self, size: int) -> None:
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self._size = size

    def add(self, payload: bytes) -> bool:
        """Remember `payload`; False when it was already there."""
        key = hashlib.blake2b(payload, digest_size=16).digest()
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > self._size:
            self._seen.popitem(last=False)
        return True


class MqttBus(Bus):
    """`Bus` over an MQTT broker: `mqtt://host[:port]` (optionally `user:pass@`), or
    `mqtts://` for TLS (`app.mqtt.tls`)."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "iaewatch",
        client_id: str | None = None,
        receive: bool = True,
        spool: Path | None = None,
        spool_limit: int = SPOOL_LIMIT,
        outbox_limit: int = OUTBOX_LIMIT,
        clock: Clock | None = None,
    ) -> None:
        """`client_id` given and `receive`: a persistent session. `receive` False: publish
        only (a gateway). `spool`: the spool file (None: in memory, lost at exit)."""
        parsed = urlparse(url)
        if parsed.scheme not in DEFAULT_PORT or not parsed.hostname:
            raise ConfigError(f"not an MQTT URL (mqtt://host:port): {url!r}", field="mqtt_url")
        self.host, self.port = parsed.hostname, parsed.port or DEFAULT_PORT[parsed.scheme]
        self.tls = tls_context(parsed)
        self.username, self.password = parsed.username, parsed.password
        self.prefix = prefix.strip("/")
        self.client_id = client_id
        self.receive = receive
        self.persistent = receive and client_id is not None
        self.clock = clock or RealClock()
        self.outbox_limit = outbox_limit
        self._spool = Spool(spool, limit=spool_limit)
        self._seq = self._spool.last_seq
        self._outbox: deque[Entry] = deque()
        self._inflight: list[Entry] = []
        self._confirmed: deque[Entry] = deque(maxlen=REPLAY_WINDOW)
        self._tracker = RetainedTracker()
        self._local = InProcessBus()
        self._connected = asyncio.Event()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._recent_obs = _Recent(DEDUP_WINDOW)
        self._recent_events = _Recent(DEDUP_WINDOW)
        self._held: dict[str, bytes] = {}
        self._obs: dict[str, list[Observation]] = {}
        """bed → observations published this turn of the loop, not yet in the outbox."""
        self._flush_soon: asyncio.Handle | None = None
        self._client: StationClient | None = None
        self._closed = False
        self.sent = 0
        self.spooled = 0
        self.replayed = 0
        self.shed = 0
        self.duplicates = 0
        self.bad_messages = 0

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def dropped(self) -> int:
        """Observations dropped by the drop policy (spool cap, or an unwritable spool)."""
        return self._spool.dropped + self.shed

    @property
    def pending(self) -> int:
        """Messages not yet confirmed by the broker (outbox, in flight, spool)."""
        return len(self._outbox) + len(self._inflight) + self._spool.count

    async def start(self, *, wait: float | None = 5.0) -> None:
        """Connect in the background; wait up to `wait` s for the first connection."""
        self._tasks = [
            asyncio.create_task(self._run(), name="mqtt-bus"),
            asyncio.create_task(self._spill_loop(), name="mqtt-spill"),
        ]
        if wait:
            with contextlib.suppress(TimeoutError):
                await self.clock.wait_for(self._connected.wait(), wait)

    async def publish(self, msg: Message) -> None:
        """Queue `msg` (and the retained state it implies); never waits on the broker."""
        if self._closed:
            raise RuntimeError("publish on a closed MqttBus")
        if isinstance(msg, Observation):
            pending = self._obs.setdefault(msg.bed, [])
            pending.append(msg)
            if len(pending) >= OBS_BATCH:
                self._flush_bed(msg.bed)
            elif self._flush_soon is None:
                self._flush_soon = asyncio.get_running_loop().call_soon(self._flush_some)
            return
        self._flush_bed(msg.bed)  # what the bed measured before the event goes first
        kind, payload = encode(msg)
        self._enqueue(topic(self.prefix, msg.bed, kind), payload)
        for r in self._tracker.on_event(msg):
            name = topic(self.prefix, msg.bed, r.kind, *r.rest)
            self._enqueue(name, payload if r.set else b"", retain=True)
        self._queued()

    def subscribe(self, maxsize: int = 0, *, events_only: bool = False) -> Subscription:
        """Messages from the broker from now on (with what a persistent session kept for
        this station, which waits for its first subscriber). Observations come as
        `WireBatch`es, decoded when taken (`core.bus`)."""
        sub = self._local.subscribe(maxsize, events_only=events_only)
        if self._client is not None:
            self._client.release()
        return sub

    async def close(self) -> None:
        """Stop; what is not confirmed yet stays in the spool (kept if it is a file)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if not self._closed:
            if self._flush_soon is not None:
                self._flush_soon.cancel()
            self._flush_all()
            self._closed = True
            self._spill()
            if self.pending and self._spool.path is None:
                log.warning("mqtt: %d unsent message(s) discarded (no spool file)", self.pending)
            self._spool.close()
        await self._local.close()

    # -- publishing ---------------------------------------------------------------------------
    def _flush_all(self) -> None:
        for bed in list(self._obs):
            self._flush_bed(bed)

    def _flush_some(self) -> None:
        """Encode the waiting beds' numerics, `FLUSH_BEDS` beds per turn of the loop: an
        event published meanwhile goes out without waiting for all of them (a burst of 250
        beds is some 30 ms of encoding)."""
        self._flush_soon = None
        for bed in list(itertools.islice(self._obs, FLUSH_BEDS)):
            self._flush_bed(bed)
        if self._obs:
            self._flush_soon = asyncio.get_running_loop().call_soon(self._flush_some)

    def _flush_bed(self, bed: str) -> None:
        batch = self._obs.pop(bed, None)
        if batch:
            name = topic(self.prefix, bed, "obs")
            self._enqueue(name, encode_observations(batch), droppable=True)
            self._queued()

    def _queued(self) -> None:
        if len(self._outbox) >= self.outbox_limit:
            self._spill()
        self._wake.set()

    def _enqueue(
        self, name: str, payload: bytes, *, retain: bool = False, droppable: bool = False
    ) -> None:
        self._seq += 1
        self._outbox.append(Entry(self._seq, name, payload, retain, droppable))

    def _spill(self) -> None:
        """Move the outbox to the spool (it is newer than everything spooled)."""
        if not self._outbox:
            return
        batch = list(self._outbox)
        try:
            self._spool.put(batch)
        except sqlite3.Error as exc:
            log.error("mqtt: cannot write the spool (%s); keeping messages in memory", exc)
            self._shed()
            return
        self._outbox.clear()
        self.spooled += len(batch)

    def _replay(self) -> None:
        """Spool the last confirmed messages again (older than anything unconfirmed)."""
        replay = list(self._confirmed)
        self._confirmed.clear()
        with contextlib.suppress(sqlite3.Error):
            self._spool.put(replay)
            self.replayed += len(replay)

    def _shed(self) -> None:
        """Drop the oldest observations from the outbox down to its limit (spool unwritable)."""
        excess = len(self._outbox) - self.outbox_limit
        if excess <= 0:
            return
        kept: deque[Entry] = deque()
        for e in self._outbox:
            if excess > 0 and e.droppable:
                excess -= 1
                self.shed += 1
            else:
                kept.append(e)
        self._outbox = kept

    async def _spill_loop(self) -> None:
        while True:
            await self.clock.sleep(SPILL_EVERY_S)
            if self._outbox and (not self.connected or self._spool.count):
                self._spill()

    def _next_batch(self) -> tuple[list[Entry], bool]:
        """The oldest unconfirmed messages, and whether they come from the spool."""
        spooled = self._spool.head(BATCH)
        if spooled:
            return spooled, True
        batch = [self._outbox.popleft() for _ in range(min(BATCH, len(self._outbox)))]
        self._inflight = batch
        return batch, False

    async def _send(self, client: aiomqtt.Client) -> None:
        while True:
            batch, from_spool = self._next_batch()
            if not batch:
                self._wake.clear()
                await self._wake.wait()
                continue
            try:
                async with asyncio.timeout(PUBLISH_TIMEOUT_S), asyncio.TaskGroup() as group:
                    for e in batch:
                        group.create_task(
                            client.publish(e.topic, e.payload, qos=1, retain=e.retain)
                        )
            except BaseException as exc:
                if not from_spool:  # back in order: older than the spool's newer rows
                    self._inflight = []
                    self._spool.put(batch)
                    self.spooled += len(batch)
                if isinstance(exc, Exception):
                    raise aiomqtt.MqttError(f"publish not confirmed: {exc!r}") from exc
                raise
            if from_spool:
                self._spool.remove(batch)
            self._inflight = []
            self._confirmed.extend(batch)
            self.sent += len(batch)

    # -- the connection -----------------------------------------------------------------------
    async def _run(self) -> None:
        delay = 0.2
        while True:
            try:
                await self._session()
            except (aiomqtt.MqttError, TimeoutError) as exc:
                if self._connected.is_set():
                    log.error("mqtt: connection to %s:%d lost: %s", self.host, self.port, exc)
                    delay = 0.2
                    self._replay()
                else:
                    log.debug("mqtt: cannot connect: %s", exc)
            except Exception:
                log.exception("mqtt: session failed; reconnecting")
            finally:
                self._connected.clear()
                self._client = None
            await self.clock.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_S)

    async def _session(self) -> None:
        client = StationClient(
            self.host,
            self.port,
            username=self.username,
            password=self.password,
            identifier=self.client_id,
            tls_context=self.tls,
            clean_session=not self.persistent,
            keepalive=10,
            max_inflight_messages=BATCH,
            on_message=lambda m: self._received(client, m),
        )
        client.paho.manual_ack_set(True)  # acknowledged once handed on (_received)
        # aiomqtt warns past 10 unacknowledged publishes; BATCH may be in flight by design,
        # so it warns only when publishes queue beyond that window
        client.pending_calls_threshold = BATCH
        async with client:
            if self.receive:
                await client.subscribe(f"{self.prefix}/#", qos=1)
            self._connected.set()
            log.info("mqtt: connected to %s:%d", self.host, self.port)
            self._client = client
            if self._local.subscribed:
                client.release()
            jobs = [asyncio.create_task(self._send(client), name="mqtt-send")]
            if self.receive:
                jobs.append(asyncio.create_task(client.disconnected(), name="mqtt-watch"))
            try:
                done, _ = await asyncio.wait(jobs, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for job in jobs:
                    job.cancel()
                for job in jobs:
                    with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                        await job
            for job in done:
                job.result()

    # -- receiving ----------------------------------------------------------------------------
    def _received(self, client: StationClient, message: paho.MQTTMessage) -> None:
        self._deliver(message.topic, message.payload)
        if message.qos:
            client.paho.ack(message.mid, message.qos)

    def _deliver(self, name: str, payload: Any) -> None:
        kind = kind_of_topic(self.prefix, name)
        if not isinstance(payload, bytes | bytearray):
            payload = b"" if payload is None else str(payload).encode()
        data = bytes(payload)
        if kind in RETAINED_KINDS:
            if not data:  # a cleared alarm
                self._held.pop(name, None)
                return
            fresh = self._held.get(name) != data and self._recent_events.add(data)
            self._held[name] = data
        elif kind == "obs":
            fresh = self._recent_obs.add(data)
        else:
            fresh = self._recent_events.add(data)
        if not fresh:
            self.duplicates += 1
            return
        if kind == "obs":
            batch = wire_batch(data, functools.partial(self._decode, name, kind))
            if batch is not None:  # decoded when taken: the socket reader stays quick
                self._local.publish_nowait(batch)
                return
        for msg in self._decode(name, kind or "?", data):
            self._local.publish_nowait(msg)

    def _decode(self, name: str, kind: str, data: bytes) -> list[Message]:
        try:
            return decode_all(kind, data)
        except RecordError as exc:
            self.bad_messages += 1
            log.warning("mqtt: dropped a bad message on %s: %s", name, exc)
            return []
