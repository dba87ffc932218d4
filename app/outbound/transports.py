"""How a queued message reaches its endpoint: MLLP over TCP, or an HTTP POST.

A transport delivers one message and returns the endpoint's `Reply`; it raises
`DeliveryError` when nothing usable came back (refused, reset, timed out), after which the
connection is dropped and the next attempt connects afresh, so a late reply can never be
taken for the answer to a later message. Every wait runs on the injected clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Protocol

import httpx

from app.outbound.config import EndpointConfig
from app.outbound.messages import SIGNATURE_HEADER, signature
from app.outbound.replies import Reply, hl7_reply, http_reply
from app.store._outbox import OutboxItem
from core.clock import Clock
from core.errors import DecodeError
from drivers.hl7.mllp import MllpDecoder, frame


class DeliveryError(Exception):
    """The endpoint could not be reached or gave no reply in time."""


class Transport(Protocol):
    @property
    def connected(self) -> bool: ...

    async def deliver(self, item: OutboxItem) -> Reply: ...

    async def close(self) -> None: ...


class MllpTransport:
    """One persistent MLLP connection; one message outstanding at a time."""

    def __init__(self, ep: EndpointConfig, clock: Clock) -> None:
        self._host, self._port = ep.host_port
        self._timeout = ep.ack_timeout
        self._clock = clock
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._decoder = MllpDecoder()

    @property
    def connected(self) -> bool:
        return self._writer is not None

    async def deliver(self, item: OutboxItem) -> Reply:
        try:
            reader, writer = await self._connection()
            writer.write(frame(item.payload.encode()))
            await self._clock.wait_for(writer.drain(), self._timeout)
            reply = await self._clock.wait_for(self._read_frame(reader), self._timeout)
        except (OSError, TimeoutError, EOFError) as exc:
            await self.close()
            raise DeliveryError(str(exc) or type(exc).__name__) from exc
        return hl7_reply(reply, item.control_id)

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is not None and self._writer is not None:
            return self._reader, self._writer
        opening = asyncio.open_connection(self._host, self._port)
        reader, writer = await self._clock.wait_for(opening, self._timeout)
        self._reader, self._writer, self._decoder = reader, writer, MllpDecoder()
        return reader, writer

    async def _read_frame(self, reader: asyncio.StreamReader) -> bytes:
        while True:
            try:
                got = self._decoder.next_frame()
            except DecodeError:
                continue  # resynchronised: garbage between replies is skipped
            if got is not None:
                return got
            data = await reader.read(65536)
            if not data:
                raise EOFError("the endpoint closed the connection")
            self._decoder.feed(data)

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


class WebhookTransport:
    """HTTP POST of the JSON body, signed with the key from the endpoint's `secret_env`."""

    def __init__(self, ep: EndpointConfig, clock: Clock) -> None:
        self._url = ep.address
        self._timeout = ep.ack_timeout
        self._secret_env = ep.secret_env
        self._clock = clock
        self._client = httpx.AsyncClient()
        self._ok = False

    @property
    def connected(self) -> bool:
        return self._ok

    async def deliver(self, item: OutboxItem) -> Reply:
        secret = os.environ.get(self._secret_env, "")
        if not secret:
            raise DeliveryError(f"the environment variable {self._secret_env} is not set")
        body = item.payload.encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(secret.encode(), body),
            "Idempotency-Key": item.control_id,
        }
        try:
            posting = self._client.post(self._url, content=body, headers=headers)
            response = await self._clock.wait_for(posting, self._timeout)
        except (httpx.HTTPError, TimeoutError) as exc:
            self._ok = False
            raise DeliveryError(str(exc) or type(exc).__name__) from exc
        self._ok = True
        return http_reply(response.status_code, response.text)

    async def close(self) -> None:
        self._ok = False
        await self._client.aclose()
