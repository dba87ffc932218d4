"""`StationClient`: aiomqtt's client, reading what the socket holds in one go.

aiomqtt reads one MQTT packet per wake-up of its socket reader, and hands each message to
the application through a queue and a task per message. At a 500-bed station (some 500 to
2,000 messages a second) the station then read one packet per turn of its event loop, and a
turn also carries rules, fan-out and commits: it fell seconds behind at half a core of CPU.
This client reads every packet waiting (up to `READ_BURST` per wake-up, so that one busy
socket cannot hold the loop) and hands each message straight to `on_message`, in order, from
the reader itself. Everything else (connect, subscribe, publish, acknowledgements) is
aiomqtt's. The two hooks overridden here are aiomqtt 2.x's paho callbacks (pinned in
pyproject.toml; `tests/app/test_mqtt_bus.py` runs them against a real Mosquitto).
"""

from __future__ import annotations

import asyncio
import select
from collections.abc import Callable
from typing import Any

import aiomqtt
import paho.mqtt.client as mqtt

READ_BURST = 256
"""Packets read per wake-up of the socket reader at most (the rest waits for the next turn):
a burst's messages are framed and queued undecoded (`app.mqtt.bus`), some tens of µs each."""
RECV_BYTES = 256 * 1024
"""Bytes asked of the socket per read."""


def _more_waiting(sock: Any) -> bool:
    """Bytes are waiting on `sock` (decrypted ones of a TLS socket included)."""
    pending = getattr(sock, "pending", None)
    if pending is not None and pending() > 0:
        return True
    return bool(select.select([sock], [], [], 0)[0])


class _BufferedRecv:
    """paho's socket reads, served from one large read: paho reads each packet's header a
    byte at a time, so a burst of messages cost four system calls per message, each of which
    let another thread take the GIL (the store's writer) and the reader wait for it back."""

    def __init__(self, client: mqtt.Client) -> None:
        self._recv = client._sock_recv  # paho's own (TLS handled there)
        self._data = b""
        self._pos = 0

    @property
    def holding(self) -> bool:
        """Bytes read from the socket and not yet handed to paho."""
        return self._pos < len(self._data)

    def recv(self, bufsize: int) -> bytes:
        """Up to `bufsize` bytes (paho's `_sock_recv`)."""
        if self._pos >= len(self._data):
            data = self._recv(RECV_BYTES)  # b"" at end of stream; raises when nothing waits
            if len(data) <= bufsize:
                return data
            self._data, self._pos = data, 0
        end = self._pos + bufsize
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk


class StationClient(aiomqtt.Client):
    """An `aiomqtt.Client` whose incoming messages go to `on_message` as they are read
    (`client.messages` stays empty), from `release()` on: what a persistent session delivers
    before (right after connecting) is held until then."""

    def __init__(self, *args: Any, on_message: Callable[[mqtt.MQTTMessage], None], **kw: Any):
        super().__init__(*args, **kw)
        self._handle = on_message
        self._held: list[mqtt.MQTTMessage] | None = []

    def release(self) -> None:
        """Hand on what was held, then every message as it is read."""
        held, self._held = self._held or [], None
        for message in held:
            self._handle(message)

    @property
    def paho(self) -> mqtt.Client:
        """The paho client underneath (for manual acknowledgements)."""
        return self._client

    async def disconnected(self) -> None:
        """Return once the connection is lost (raising aiomqtt.MqttError)."""
        try:
            await asyncio.shield(self._disconnected)
        except Exception as exc:
            raise aiomqtt.MqttError(f"connection lost: {exc}") from exc
        raise aiomqtt.MqttError("disconnected")

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if self._held is not None:
            self._held.append(message)
        else:
            self._handle(message)

    def _on_socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        buffered = _BufferedRecv(client)
        client._sock_recv = buffered.recv  # type: ignore[method-assign]

        def read_waiting() -> None:
            try:
                for _ in range(READ_BURST):
                    client.loop_read()
                    live = client.socket()
                    if live is None:
                        return
                    if not buffered.holding and not _more_waiting(live):
                        return
                if buffered.holding:  # the socket may have nothing new to wake the reader
                    self._loop.call_soon(read_waiting)
            except Exception as exc:  # a broken connection: aiomqtt's way of saying it
                if not self._disconnected.done():
                    self._disconnected.set_exception(exc)

        def start_misc() -> None:
            self._misc_task = self._loop.create_task(self._misc_loop())

        # called from the thread aiomqtt connects in: hand the work to the loop
        self._loop.call_soon_threadsafe(self._loop.add_reader, sock.fileno(), read_waiting)
        self._loop.call_soon_threadsafe(start_misc)
