"""A central station feeding HL7: IHE PCD-01 ORU^R01 every `interval`, PCD-04 ORU^R40 alarms.

The sender is a TCP client of an MLLP listener (`drivers.hl7.listener.Hl7MllpDriver` or a
real HIS interface engine). Each message waits for its acknowledgement (MSA-2 = our MSH-10)
before the next; a missing acknowledgement or a dropped connection makes it reconnect after
`reconnect_delay`. Rhythm alarms VT / VF / asystole from `VitalsSource.rhythm_alarms()` go out
as ORU^R40 with phase `start` when they appear, `continue` every `alarm_repeat` seconds while
they last and `end` when they go.

Faults (`simulators.faults.Faults`), read before every message:
- drop: close the connection and stay away while set;
- stall: stay connected, send nothing;
- garbage: random bytes before each message (outside any MLLP block);
- slow_s: wait that long (on the clock) before each message;
- corrupt_checksum: MLLP has no checksum, so the message goes out cut short inside its last
  segment (`drivers.hl7.pcd_write.corrupt`); a receiver answers AE.

It connects over TCP (`run`) or over any stream connection a callable makes (`run_over`, e.g.
`simulators.memlink.MemoryServer.connect`); MLLP over a serial line is rare and not done.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable

from core.clock import Clock
from core.errors import DecodeError
from drivers.hl7.message import parse_message
from drivers.hl7.mllp import MllpDecoder, frame
from drivers.hl7.pcd_write import Patient, build_oru_r01, build_oru_r40, corrupt
from simulators.faults import Faults
from simulators.source import VitalsSource

log = logging.getLogger(__name__)

ALARMED_RHYTHMS = ("VT", "VF", "asystole")

Connect = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


def simulated_eui64(location: str) -> str:
    """A stable EUI-64 for the simulated monitor at `location`: the IEEE 'locally
    administered' bit set (0x02 in the first byte), so it can never be a real device's."""
    crc = zlib.crc32(location.encode("utf-8"))
    return f"0A5A1A{crc:08X}00"


class _NoAck(Exception):
    """The acknowledgement did not come in time."""


class Hl7Sender:
    """Sends one bed's vitals and rhythm alarms as HL7 to a listener."""

    def __init__(
        self,
        vitals: VitalsSource,
        clock: Clock,
        bed_location: str,
        sending_app: str = "CENTRAL",
        faults: Faults | None = None,
        interval: float = 1.0,
        *,
        sending_facility: str = "",
        device_eui64: str = "",
        patient: Patient | None = None,
        ack_timeout: float = 5.0,
        reconnect_delay: float = 1.0,
        alarm_repeat: float = 10.0,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.vitals = vitals
        self.clock = clock
        self.bed_location = bed_location
        self.sending_app = sending_app
        self.sending_facility = sending_facility
        self.device_eui64 = device_eui64 or simulated_eui64(bed_location)
        self.patient = patient or Patient(id=f"SIM-{bed_location}", authority="IAEWATCH-SIM")
        self.faults = faults or Faults()
        self.interval = interval
        self.ack_timeout = ack_timeout
        self.reconnect_delay = reconnect_delay
        self.alarm_repeat = alarm_repeat
        self.sent = 0
        self.acks: Counter[str] = Counter()  # MSA-1 of the answers (CA: MSH-15 AL, MSH-16 NE)
        self.connections = 0
        self.ack_timeouts = 0
        self._seq = 0
        self._active: dict[str, float] = {}  # rhythm -> monotonic time of last start/continue

    # -- what to send -----------------------------------------------------------------------
    def _control_id(self) -> str:
        self._seq += 1
        return f"{self.sending_app[:8]}{self._seq:08d}"

    def due_messages(self) -> list[tuple[str, bytes]]:
        """The messages to send now: alarm transitions first, then the numerics."""
        now, mono = self.clock.now(), self.clock.monotonic()
        out: list[tuple[str, bytes]] = []
        current = {r for r in self.vitals.rhythm_alarms() if r in ALARMED_RHYTHMS}
        for rhythm in sorted(current | set(self._active)):
            phase: str | None = None
            if rhythm not in self._active:
                phase = "start"
            elif rhythm not in current:
                phase = "end"
            elif mono - self._active[rhythm] >= self.alarm_repeat:
                phase = "continue"
            if phase is None:
                continue
            cid = self._control_id()
            message = build_oru_r40(
                rhythm=rhythm,
                phase=phase,
                now=now,
                control_id=cid,
                location=self.bed_location,
                sending_app=self.sending_app,
                sending_facility=self.sending_facility,
                patient=self.patient,
                device_eui64=self.device_eui64,
            )
            out.append((cid, message))
            if phase == "end":
                del self._active[rhythm]
            else:
                self._active[rhythm] = mono
        values = dict(self.vitals.vitals())
        if values:
            cid = self._control_id()
            message = build_oru_r01(
                values,
                now=now,
                control_id=cid,
                location=self.bed_location,
                sending_app=self.sending_app,
                sending_facility=self.sending_facility,
                patient=self.patient,
                device_eui64=self.device_eui64,
            )
            out.append((cid, message))
        return out

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
