"""A software webhook receiver (a paging or chat system) to commission iaewatch's webhooks.

It serves HTTP/1.1 (h11, sans-IO, over asyncio streams) and takes `POST`s of JSON alerts:
- the `X-IAEWatch-Signature: sha256=<hex>` header must be the HMAC-SHA256 of the body keyed
  with `secret`; a bad or missing signature is answered 401 and counted (`bad_signatures`);
- `status` is the answer to a good request (200, or e.g. 503 to make the sender retry,
  400 to make it stop); `stall` takes requests in and never answers;
- every accepted body is kept (`received`), and an `Idempotency-Key` accepted before counts
  as a duplicate (`duplicates`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import h11

log = logging.getLogger(__name__)

SIGNATURE_HEADER = b"x-iaewatch-signature"
IDEMPOTENCY_HEADER = b"idempotency-key"


@dataclass(slots=True)
class WebhookSink:
    """The receiver's behaviour (changeable while it runs) and what it has seen."""

    secret: bytes
    status: int = 200
    stall: bool = False
    received: list[dict[str, Any]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    duplicates: int = 0
    bad_signatures: int = 0
    _server: asyncio.Server | None = None

    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on host:port; returns the port (0 picks a free one)."""
        self._server = await asyncio.start_server(self._session, host, port)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    def answer(self, method: bytes, headers: dict[bytes, bytes], body: bytes) -> int:
        """The status for one request, recording what was accepted. Sans-IO."""
        if method != b"POST":
            return 405
        expected = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        given = headers.get(SIGNATURE_HEADER, b"").decode("latin-1")
        if not hmac.compare_digest(expected, given):
            self.bad_signatures += 1
            return 401
        try:
            record = json.loads(body)
        except ValueError:
            return 400
        if self.status // 100 != 2:
            return self.status
        key = headers.get(IDEMPOTENCY_HEADER, b"").decode("latin-1")
        if key and key in self.keys:
            self.duplicates += 1
        else:
            self.keys.append(key)
            self.received.append(record)
        return self.status

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                request, body = await _read_request(conn, reader)
                if request is None:
                    return
                if self.stall:
                    await reader.read()  # until the client gives up
                    return
                headers = {k.lower(): v for k, v in request.headers}
                status = self.answer(request.method, headers, body)
                text = json.dumps({"status": status}).encode()
                for event in (
                    h11.Response(
                        status_code=status,
                        headers=[("content-type", "application/json"),
                                 ("content-length", str(len(text)))],
                    ),
                    h11.Data(data=text),
                    h11.EndOfMessage(),
                ):  # fmt: skip
                    writer.write(conn.send(event) or b"")
                await writer.drain()
                if conn.our_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
        except (h11.ProtocolError, ConnectionError, OSError) as exc:
            log.debug("webhook sink: connection ended: %s", exc)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def _read_request(
    conn: h11.Connection, reader: asyncio.StreamReader
) -> tuple[h11.Request | None, bytes]:
    request: h11.Request | None = None
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(65536))
        elif isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            return request, bytes(body)
        else:  # ConnectionClosed (or PAUSED, which cannot happen mid-request)
            return None, b""
