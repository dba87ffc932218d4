"""A software alarm manager (IHE PCD ACM "AM") to commission iaewatch's PCD-04 / PCD-01 routes.

It listens for MLLP, reads each HL7 message with the drivers' codec and answers it:
- `ack`: the MSA-1 code to answer with (AA accept, AE error, AR reject); `script` gives the
  codes for the next messages first (then `ack` again), so a test can inject one AE or AR;
- `reply`: `ack` (ACK^R40) or `ora` (ORA^R41, IHE ACM's reply to the reporter);
- `stall`: take messages in but never answer; `drop`: close the connection on every message
  without answering (a crashing or overloaded receiver).
Every message received is kept (`received`, arrival order) and, once accepted, its control id
is listed in `accepted`; a control id accepted before and received again counts as a
`duplicates`. Times come from the injected clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from core.clock import Clock
from core.errors import DecodeError
from drivers.hl7.message import ACK_CODES, Message, build_ack, parse_message
from drivers.hl7.mllp import MllpDecoder, frame

log = logging.getLogger(__name__)

REPLIES = ("ack", "ora")


@dataclass(slots=True)
class AlarmManager:
    """The receiver's behaviour (changeable while it runs) and what it has seen."""

    clock: Clock
    ack: str = "AA"
    reply: str = "ack"
    stall: bool = False
    drop: bool = False
    script: deque[str] = field(default_factory=deque)
    received: list[Message] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    duplicates: int = 0
    on_message: Callable[[Message, str], None] | None = None
    _server: asyncio.Server | None = None
    _conns: set[asyncio.StreamWriter] = field(default_factory=set)
    _counter: int = 0

    def __post_init__(self) -> None:
        if self.ack not in ACK_CODES:
            raise ValueError(f"ack must be one of {sorted(ACK_CODES)}")
        if self.reply not in REPLIES:
            raise ValueError(f"reply must be one of {', '.join(REPLIES)}")

    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on host:port; returns the port (0 picks a free one)."""
        self._server = await asyncio.start_server(self._session, host, port)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop listening and drop every connection (an outage, or the end)."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for w in list(self._conns):
            w.close()
        if server is not None:
            await server.wait_closed()

    def answer(self, msg: Message) -> bytes | None:
        """The reply to `msg` (None: stay silent), recording what was accepted. Sans-IO."""
        self.received.append(msg)
        if self.stall or self.drop:
            return None
        code = self.script.popleft() if self.script else self.ack
        if code == "AA":
            if msg.control_id in self.accepted:
                self.duplicates += 1
            else:
                self.accepted.append(msg.control_id)
        if self.on_message is not None:
            self.on_message(msg, code)
        self._counter += 1
        ora = self.reply == "ora"
        return build_ack(
            msg,
            code,
            control_id=f"AM{self._counter}",
            now=self.clock.now(),
            text="" if code == "AA" else f"alarm manager answers {code}",
            sending_application="ALARM-MANAGER",
            message_type="ORA" if ora else "ACK",
            structure="ORA_R41" if ora else "ACK",
            trigger="R41" if ora else None,
        )

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._conns.add(writer)
        decoder = MllpDecoder()
        try:
            while data := await reader.read(65536):
                decoder.feed(data)
                for payload in decoder.frames_available():
                    try:
                        msg = parse_message(payload)
                    except DecodeError as exc:
                        log.warning("alarm manager: unreadable message: %s", exc)
                        continue
                    reply = self.answer(msg)
                    if self.drop:
                        return
                    if reply is not None:
                        writer.write(frame(reply))
                        await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._conns.discard(writer)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
