"""The bus over MQTT (aiomqtt + Mosquitto), between bedside gateways and the station service.

Every message is JSON on `<prefix>/<bed>/<kind>` (kind: obs, event), QoS 1 so that a
lost link never silently loses an event, and QoS 1 for observations too so that one
publisher's messages keep their order through the broker. Local subscribers receive what
arrives from the broker, their own process's messages included, so every consumer sees one
order. While the broker is unreachable, outgoing messages wait in a bounded outbox (the
oldest observations are dropped first and counted) and the client reconnects with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from typing import Any
from urllib.parse import urlparse

import aiomqtt

from core.bus import Bus, InProcessBus, Subscription
from core.clock import Clock, RealClock
from core.errors import ConfigError, RecordError
from core.model import (
    Message,
    Observation,
)
from core.records import record_from_dict, to_record

log = logging.getLogger(__name__)

OUTBOX_LIMIT = 100_000


def encode(msg: Message) -> tuple[str, bytes]:
    """(kind, JSON payload) of a bus message."""
    kind = "obs" if isinstance(msg, Observation) else "event"
    return kind, json.dumps(to_record(msg), default=str).encode()


def decode(kind: str, payload: bytes) -> Message:
    """The bus message of a payload; RecordError when it is not one."""
    try:
        body = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RecordError(f"not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise RecordError("a message must be a JSON object")
    msg = record_from_dict(body)
    if kind != ("obs" if isinstance(msg, Observation) else "event"):
        raise RecordError(f"a {kind!r} message that is not one")
    return msg


class MqttBus(Bus):
    """`Bus` over an MQTT broker: `mqtt://host[:port]` (optionally `user:pass@`)."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "iaewatch",
        client_id: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        parsed = urlparse(url)
        if parsed.scheme not in ("mqtt", "tcp") or not parsed.hostname:
            raise ConfigError(f"not an MQTT URL (mqtt://host:port): {url!r}", field="mqtt_url")
        self.host, self.port = parsed.hostname, parsed.port or 1883
        self.username, self.password = parsed.username, parsed.password
        self.prefix = prefix.strip("/")
        self.client_id = client_id
        self.clock = clock or RealClock()
        self._local = InProcessBus()
        self._client: aiomqtt.Client | None = None
        self._outbox: deque[tuple[str, bytes]] = deque()
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0
        self.bad_messages = 0

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def start(self, *, wait: float | None = 5.0) -> None:
        """Connect in the background; wait up to `wait` s for the first connection."""
        self._task = asyncio.create_task(self._run(), name="mqtt-bus")
        if wait:
            with contextlib.suppress(TimeoutError):
                await self.clock.wait_for(self._connected.wait(), wait)

    async def publish(self, msg: Message) -> None:
        kind, payload = encode(msg)
        topic = f"{self.prefix}/{msg.bed}/{kind}"
        client = self._client
        if client is not None and self.connected:
            try:
                await client.publish(topic, payload, qos=1)
                return
            except aiomqtt.MqttError:
                log.warning("mqtt: publish failed; keeping the message until reconnected")
        self._queue(topic, payload)

    def subscribe(self, maxsize: int = 0) -> Subscription:
        return self._local.subscribe(maxsize)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._local.close()

    def _queue(self, topic: str, payload: bytes) -> None:
        if len(self._outbox) >= OUTBOX_LIMIT:
            self._outbox.popleft()
            self.dropped += 1
        self._outbox.append((topic, payload))

    async def _run(self) -> None:
        delay = 0.5
        while True:
            try:
                async with aiomqtt.Client(
                    self.host,
                    self.port,
                    username=self.username,
                    password=self.password,
                    identifier=self.client_id,
                    keepalive=10,
                ) as client:
                    await client.subscribe(f"{self.prefix}/#", qos=1)
                    self._client = client
                    self._connected.set()
                    delay = 0.5
                    log.info("mqtt: connected to %s:%d", self.host, self.port)
                    while self._outbox:
                        topic, payload = self._outbox[0]
                        await client.publish(topic, payload, qos=1)
                        self._outbox.popleft()
                    async for message in client.messages:
                        self._deliver(str(message.topic), message.payload)
            except aiomqtt.MqttError as exc:
                if self._connected.is_set():
                    log.error("mqtt: connection to %s:%d lost: %s", self.host, self.port, exc)
                else:
                    log.debug("mqtt: cannot connect: %s", exc)
            finally:
                self._client = None
                self._connected.clear()
            await self.clock.sleep(delay)
            delay = min(delay * 2, 30.0)

    def _deliver(self, topic: str, payload: Any) -> None:
        kind = topic.rsplit("/", 1)[-1]
        if not isinstance(payload, bytes | bytearray):
            payload = str(payload).encode()
        try:
            msg = decode(kind, bytes(payload))
        except RecordError as exc:
            self.bad_messages += 1
            log.warning("mqtt: dropped a bad message on %s: %s", topic, exc)
            return
        self._local.publish_nowait(msg)
