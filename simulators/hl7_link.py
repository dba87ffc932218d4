"""An HL7 sender's link: a TCP (or in-memory) client of an MLLP listener, sans protocol.

`MllpClient.run_over` connects, sends what `due_messages()` gives every `interval`, waits for
each message's acknowledgement (MSA-2 = its MSH-10) before the next, counts the answers by
MSA-1, and reconnects after `reconnect_delay` when the link fails or an acknowledgement does
not come within `ack_timeout`. The central-station simulator (`simulators.hl7_sender`) and the
pump-server simulator (`simulators.hl7_pump_sender`) say what to send.

Faults (`simulators.faults.Faults`), read before every message:
- drop: close the connection and stay away while set;
- stall: stay connected, send nothing;
- garbage: random bytes before each message (outside any MLLP block);
- slow_s: wait that long (on the clock) before each message;
- corrupt_checksum: MLLP has no checksum, so the message goes out cut short inside its last
  segment (`drivers.hl7.pcd_write.corrupt`); a receiver answers AE.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import Counter
from collections.abc import Awaitable, Callable

from core.clock import Clock
from core.errors import DecodeError
from drivers.hl7.message import parse_message
from drivers.hl7.mllp import MllpDecoder, frame
from drivers.hl7.pcd_write import Patient, corrupt
from simulators.faults import Faults

log = logging.getLogger(__name__)

Connect = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


class _NoAck(Exception):
    """The acknowledgement did not come in time."""


class MllpClient:
    """Sends `due_messages()` to an MLLP listener, one acknowledged message at a time, as the
    sender `sending_app` / `sending_facility` at `bed_location` about `patient`."""

    def __init__(
        self,
        clock: Clock,
        bed_location: str,
        sending_app: str,
        faults: Faults | None,
        interval: float,
        *,
        sending_facility: str,
        patient: Patient | None,
        ack_timeout: float,
        reconnect_delay: float,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.clock = clock
        self.bed_location = bed_location
        self.sending_app = sending_app
        self.sending_facility = sending_facility
        self.patient = patient or Patient(id=f"SIM-{bed_location}", authority="IAEWATCH-SIM")
        self._seq = 0
        self.faults = faults or Faults()
        self.interval = interval
        self.ack_timeout = ack_timeout
        self.reconnect_delay = reconnect_delay
        self.sent = 0
        self.acks: Counter[str] = Counter()  # MSA-1 of the answers (CA: MSH-15 AL, MSH-16 NE)
        self.connections = 0
        self.ack_timeouts = 0

    def due_messages(self) -> list[tuple[str, bytes]]:
        """(control id, message) to send now."""
        raise NotImplementedError

    def next_control_id(self) -> str:
        """A new MSH-10: the sending application and a sequence number."""
        self._seq += 1
        return f"{self.sending_app[:8]}{self._seq:08d}"

    # -- the link ---------------------------------------------------------------------------
    async def run(self, host: str, port: int) -> None:
        """Connect to `host:port` over TCP and send until cancelled (see `run_over`)."""
        await self.run_over(functools.partial(asyncio.open_connection, host, port))

    async def run_over(self, connect: Connect) -> None:
        """Send over connections made by `connect` (TCP, or an in-memory link's `connect`)
        until cancelled, reconnecting whenever the link fails."""
        while True:
            if self.faults.drop:
                await self.clock.sleep(self.interval)
                continue
            try:
                reader, writer = await connect()
            except OSError as exc:
                log.debug("HL7 sender: cannot connect: %s", exc)
                await self.clock.sleep(self.reconnect_delay)
                continue
            self.connections += 1
            try:
                await self._converse(reader, writer)
            except (OSError, ConnectionError, _NoAck) as exc:
                log.debug("HL7 sender: link ended: %s", exc)
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
            await self.clock.sleep(self.reconnect_delay)

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = MllpDecoder()
        while True:
            if self.faults.drop:
                return
            if self.faults.stall:
                await self.clock.sleep(self.interval)
                continue
            if self.faults.slow_s > 0:
                await self.clock.sleep(self.faults.slow_s)
            for control_id, message in self.due_messages():
                if self.faults.garbage:
                    writer.write(self.faults.garbage_bytes())
                if self.faults.corrupt_checksum:
                    message = corrupt(message)
                writer.write(frame(message))
                await writer.drain()
                self.sent += 1
                code = await self._await_ack(reader, decoder, control_id)
                self.acks[code] += 1
            await self.clock.sleep(self.interval)

    async def _await_ack(
        self, reader: asyncio.StreamReader, decoder: MllpDecoder, control_id: str
    ) -> str:
        try:
            return await self.clock.wait_for(
                self._read_ack(reader, decoder, control_id), self.ack_timeout
            )
        except TimeoutError:
            self.ack_timeouts += 1
            raise _NoAck(f"no acknowledgement of {control_id} in {self.ack_timeout:g} s") from None

    @staticmethod
    async def _read_ack(reader: asyncio.StreamReader, decoder: MllpDecoder, control_id: str) -> str:
        while True:
            for payload in decoder.frames_available():
                try:
                    msa = parse_message(payload).first("MSA")
                except DecodeError:
                    continue
                if msa is not None and msa.field(2) == control_id:
                    return msa.field(1)
            data = await reader.read(4096)
            if not data:
                raise ConnectionError("closed by the listener")
            decoder.feed(data)
