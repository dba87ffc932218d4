"""The hub: fans committed alerts, numerics, bed and device changes out to station clients.

Protocol (server → client, JSON text frames):

    {"type": "snapshot", "seq": H, "beds": [bed], "alerts": [alert]}
    {"type": "alert", "seq": N, "alert": {alert}}        pushed as soon as published
    {"type": "numerics", "bed": B, "t": T, "values": {code: {value, unit, t, status}}}
    {"type": "numerics_batch", "items": [{"bed": B, "t": T, "values": {...}}]}
                        instead of `numerics`, to a client that asked with `numerics=batch`
    {"type": "bed", "bed": {bed}}   {"type": "device", "device": {device}}
    {"type": "heartbeat", "t": T, "seq": H}              every `ws_heartbeat_s`
    {"type": "resync", "reason": "slow client"}          then missed alerts, then a snapshot
    {"type": "pong", "t": T, "seq": H}  {"type": "error", "reason": ...}

Resume. A client connecting with `last_seq=L` gets, in this order: every alert transition with
L < seq ≤ H as `alert` messages (oldest first), then the snapshot stamped `seq: H`, then live
messages, whose alerts all have seq > H. Missed transitions come before the snapshot so that
applying them in order never rolls the freshly loaded state back. The client's queue is
registered *before* anything is read, and H is taken (with the station's alerts) under the
commit lock, so an alert committed while the client catches up is either ≤ H (sent from the
backlog; its live copy is skipped) or > H (sent live): never lost, never twice. A client keeps
the highest `seq` it has seen (alerts, snapshot, heartbeat) and reconnects with it.

Numerics are coalesced per bed (latest value per code wins) and sent at most once per
`numerics_throttle_s` per bed, the beds spread over the period. A message per bed per client
is 50,000 sends a second for 500 beds and 100 stations, so a client may ask for each flush's
beds in one `numerics_batch` message instead (the station page does). Each client has a bounded
queue (`app.ws.queue`) that sends alerts ahead of numerics and in which a bed's numerics, bed
or device message replaces the one still waiting; one that overflows all the same (an alert
storm, a stalled reader) loses its queue and gets a resync (missed alert transitions from its
own last seq, then a snapshot), so a slow client never delays the others and loses no alert.
A client whose socket takes no data for `send_timeout_s` is dropped; it resumes by seq.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from app.live.views import Views, values_dict
from app.ws.queue import CLOSE, RESYNC, ClientQueue, Item
from core.clock import Clock
from core.model import Alert, Observation
from core.periodic import every
from core.records import alert_record, format_time

if TYPE_CHECKING:
    from app.store import Store

log = logging.getLogger(__name__)

BACKLOG_PAGE = 500
NUMERICS_SLOTS = 10


def _slot(bed: str) -> int:
    """A bed's fixed tick within the numerics period (stable across runs)."""
    return zlib.crc32(bed.encode()) % NUMERICS_SLOTS


class Connection(Protocol):
    """The hub's view of a websocket."""

    async def send_text(self, data: str) -> None: ...

    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


@dataclass(eq=False, slots=True)
class Client:
    """One connected station: its queue and where it stands in the alert sequence."""

    conn: Connection
    user: str
    queue: ClientQueue
    id: int
    last_seq: int = 0
    """Highest alert seq this client has been sent (alerts or snapshot)."""
    skip_upto: int = 0
    """Live alerts with seq ≤ this were already sent from the backlog or the snapshot."""
    batch_numerics: bool = False
    """Each flush's numerics in one `numerics_batch` message rather than one per bed."""


def _dumps(msg: dict[str, Any]) -> str:
    return json.dumps(msg, separators=(",", ":"), ensure_ascii=False)


class Hub:
    """Per-server fan-out to station websocket clients."""

    def __init__(
        self,
        *,
        store: Store,
        views: Views,
        clock: Clock,
        cut_lock: asyncio.Lock,
        queue_size: int = 512,
        heartbeat_s: float = 10.0,
        numerics_throttle_s: float = 1.0,
        send_timeout_s: float = 10.0,
    ) -> None:
        self._store = store
        self._views = views
        self._clock = clock
        self._queue_size = queue_size
        self._heartbeat_s = heartbeat_s
        self._throttle_s = numerics_throttle_s
        self._send_timeout_s = send_timeout_s
        self._clients: set[Client] = set()
        self._ids = itertools.count(1)
        self._pending: dict[str, dict[str, Observation]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._cut_lock = cut_lock
        """The alert desk's lock (`app.alert_desk`): held while a transition is committed and
        published, so taking it gives a clean cut between backlog and live alerts."""
        self.published_seq = 0
        self.transitions: Counter[tuple[str, str, str]] = Counter()
        self.resyncs = 0

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        self.published_seq = await self._store.max_seq()
        self._tasks = [
            asyncio.create_task(self._numerics_loop(), name="hub-numerics"),
            asyncio.create_task(self._heartbeat_loop(), name="hub-heartbeat"),
        ]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks = []
        for client in list(self._clients):
            client.queue.put(CLOSE)

    @property
    def client_count(self) -> int:
        return len(self._clients)

    # -- publishing (never waits on a client) -----------------------------------------------
    async def publish_alert(self, alert: Alert) -> None:
        """Push a committed transition to every client now (the alert desk calls this under its
        lock, so publish order is seq order)."""
        if alert.seq is None:
            raise ValueError("publish_alert needs a committed alert (seq is None)")
        if alert.seq <= self.published_seq:
            log.warning("alert seq %d published after seq %d", alert.seq, self.published_seq)
        self.published_seq = max(self.published_seq, alert.seq)
        self.transitions[(alert.category.value, alert.priority.value, alert.phase.value)] += 1
        item = Item(
            _dumps({"type": "alert", "seq": alert.seq, "alert": alert_record(alert)}), alert.seq
        )
        self._broadcast(item)

    async def publish_numerics(self, bed: str, values: Mapping[str, Observation]) -> None:
        """Latest values of a bed; sent at most once per `numerics_throttle_s`, newest wins."""
        self._views.note_numerics(bed, values)
        pending = self._pending.setdefault(bed, {})
        for code, o in values.items():
            old = pending.get(code)
            if old is None or o.t >= old.t:
                pending[code] = o

    async def publish_bed(self, bed: Mapping[str, Any]) -> None:
        """A bed's whole dict (a newer one replaces one still queued for a slow client)."""
        text = _dumps({"type": "bed", "bed": dict(bed)})
        self._broadcast(Item(text, key=f"bed\0{bed['bed']}"))

    async def publish_device(self, device: Mapping[str, Any]) -> None:
        """A device's dict (a newer one replaces one still queued for a slow client)."""
        text = _dumps({"type": "device", "device": dict(device)})
        self._broadcast(Item(text, key=f"device\0{device['bed']}\0{device['device_id']}"))

    async def refresh_bed(self, bed: str) -> None:
        """Rebuild a bed's dict from the store and publish it (after an API change)."""
        view = await self._views.bed(bed)
        if view is not None:
            await self.publish_bed(view)

    def flush_numerics(self, slot: int | None = None) -> None:
        """Send the coalesced numerics now: every bed's, or those of one `slot` of beds."""
        if slot is None:
            beds = list(self._pending)
        else:
            beds = [b for b in self._pending if _slot(b) == slot]
        # each bed's body is serialised once: the per-bed message and the batch are built
        # around it (at 500 beds the second serialisation was a third of a flush's time)
        items: list[tuple[str, str]] = []
        for bed in beds:
            values = self._pending.pop(bed)
            if not values:
                continue
            try:
                t = max(o.t for o in values.values())
                body = {"bed": bed, "t": format_time(t), "values": values_dict(values)}
                text = _dumps(body)  # a bad value fails here, alone
            except Exception:  # one bed's bad value must not hold back the other beds
                log.exception("hub: numerics of %s could not be serialised", bed)
                continue
            items.append((bed, text))
        if not items:
            return
        per_bed = [c for c in self._clients if not c.batch_numerics]
        batched = [c for c in self._clients if c.batch_numerics]
        for bed, text in items if per_bed else ():
            message = '{"type":"numerics",' + text[1:]
            self._broadcast(Item(message, key=f"numerics\0{bed}"), per_bed)
        if batched:
            batch = '{"type":"numerics_batch","items":[' + ",".join(t for _, t in items) + "]}"
            self._broadcast(Item(batch, key=f"numerics\0slot {slot}"), batched)

    def _broadcast(self, item: Item, clients: Iterable[Client] | None = None) -> None:
        for client in self._clients if clients is None else clients:
            if not client.queue.put(item):
                log.warning("station client %d (%s) is too slow: resync", client.id, client.user)

    async def _numerics_loop(self) -> None:
        # Beds are spread over NUMERICS_SLOTS ticks per period, so that a station of many beds
        # sends a tenth of its numerics every tenth of a period instead of one burst that an
        # alert would queue behind. Each bed still sends at most once per period.
        # One bad value must never stop live numerics to every station: a failing flush is
        # logged and the loop goes on.
        ticks = itertools.count()

        async def flush() -> None:
            self.flush_numerics(next(ticks) % NUMERICS_SLOTS)

        period = self._throttle_s / NUMERICS_SLOTS
        await every(self._clock, period, flush, "hub: numerics flush")

    async def _heartbeat_loop(self) -> None:
        async def beat() -> None:
            self._broadcast(Item(self._heartbeat_text()))

        await every(self._clock, self._heartbeat_s, beat, "hub: heartbeat")

    def _heartbeat_text(self, kind: str = "heartbeat") -> str:
        return _dumps(
            {"type": kind, "t": format_time(self._clock.now()), "seq": self.published_seq}
        )

    # -- serving one client -----------------------------------------------------------------
    def connect(self, conn: Connection, user: str, *, batch_numerics: bool = False) -> Client:
        """Register a client's queue; call before `serve`, which reads the backlog."""
        client = Client(
            conn=conn,
            user=user,
            queue=ClientQueue(self._queue_size),
            id=next(self._ids),
            batch_numerics=batch_numerics,
        )
        self._clients.add(client)
        return client

    def disconnect(self, client: Client) -> None:
        self._clients.discard(client)

    def send_to(self, client: Client, msg: dict[str, Any]) -> None:
        """Queue a reply for one client (pong, error)."""
        client.queue.put(Item(_dumps(msg)))

    def pong(self, client: Client) -> None:
        client.queue.put(Item(self._heartbeat_text("pong")))

    async def serve(self, client: Client, last_seq: int = 0) -> None:
        """Catch the client up from `last_seq`, then send its queue until closed.

        Returns when the hub closes; raises when a send fails or times out (dead client)."""
        await self._catch_up(client, last_seq, backlog=last_seq > 0)
        while True:
            item = await client.queue.get()
            if item is CLOSE:
                await client.conn.close(1001, "server shutting down")
                return
            if item is RESYNC:
                self.resyncs += 1
                await self._send(client, _dumps({"type": "resync", "reason": "slow client"}))
                await self._catch_up(client, client.last_seq)
                continue
            if item.seq is not None:
                if item.seq <= client.skip_upto:
                    continue
                client.last_seq = max(client.last_seq, item.seq)
            await self._send(client, item.text)

    async def _catch_up(self, client: Client, after: int, *, backlog: bool = True) -> None:
        """Missed transitions (after, H] in order (when `backlog`), then the snapshot at H."""
        if after > self.published_seq:
            log.info("client %d resumes from seq %d beyond ours; snapshot only", client.id, after)
            backlog = False
        # Most of a long backlog is read without the lock; the last stretch and the station's
        # alerts are read under it so that H is a clean cut between backlog and live messages.
        if backlog:
            after = await self._send_backlog(client, after, self.published_seq)
        async with self._cut_lock:
            cut = self.published_seq
            tail: list[Alert] = []
            while backlog and after < cut:
                page = await self._backlog(after, cut)
                if not page:
                    break
                tail += page
                after = page[-1].seq or cut
            station = await self._store.station_alerts()
        for a in tail:
            await self._send_alert(client, a)
        client.skip_upto = cut
        client.last_seq = cut
        beds = await self._views.beds(station)
        snapshot = {
            "type": "snapshot",
            "seq": cut,
            "beds": beds,
            "alerts": [alert_record(a) for a in station],
        }
        await self._send(client, _dumps(snapshot))

    async def _send_backlog(self, client: Client, after: int, upto: int) -> int:
        while after < upto:
            page = await self._backlog(after, upto)
            if not page:
                break
            for a in page:
                await self._send_alert(client, a)
            after = page[-1].seq or after
        return after

    async def _backlog(self, after: int, upto: int) -> list[Alert]:
        """One page of committed transitions with after < seq ≤ upto, oldest first."""
        page = await self._store.transitions_after(after, BACKLOG_PAGE)
        return [a for a in page if a.seq is not None and a.seq <= upto]

    async def _send_alert(self, client: Client, a: Alert) -> None:
        await self._send(client, _dumps({"type": "alert", "seq": a.seq, "alert": alert_record(a)}))
        client.last_seq = max(client.last_seq, a.seq or 0)

    async def _send(self, client: Client, text: str) -> None:
        # Real time on purpose: this guards a real socket, whatever clock drives the service.
        async with asyncio.timeout(self._send_timeout_s):
            await client.conn.send_text(text)
        # A send into a writable socket does not suspend: yield, or one client's burst (of
        # numerics, of a long backlog) would hold the loop while an alert waits to be sent.
        await asyncio.sleep(0)
