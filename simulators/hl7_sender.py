"""A central station feeding HL7: IHE PCD-01 ORU^R01 every `interval`, PCD-04 ORU^R40 alarms.

The sender is a TCP client of an MLLP listener (`drivers.hl7.listener.Hl7MllpDriver` or a
real HIS interface engine). Each message waits for its acknowledgement (MSA-2 = our MSH-10)
before the next; a missing acknowledgement or a dropped connection makes it reconnect after
`reconnect_delay`. Rhythm alarms VT / VF / asystole from `VitalsSource.rhythm_alarms()` go out
as ORU^R40 with phase `start` when they appear, `continue` every `alarm_repeat` seconds while
they last and `end` when they go.

The link and its faults are `simulators.hl7_link.MllpClient`'s: it connects over TCP
(`run`) or over any stream connection a callable makes (`run_over`, e.g.
`simulators.memlink.MemoryServer.connect`); MLLP over a serial line is rare and not done.
"""

from __future__ import annotations

import zlib

from core.clock import Clock
from drivers.hl7.pcd_write import Patient, build_oru_r01, build_oru_r40
from simulators.faults import Faults
from simulators.hl7_link import MllpClient
from simulators.source import VitalsSource

ALARMED_RHYTHMS = ("VT", "VF", "asystole")


def simulated_eui64(location: str) -> str:
    """A stable EUI-64 for the simulated monitor at `location`: the IEEE 'locally
    administered' bit set (0x02 in the first byte), so it can never be a real device's."""
    crc = zlib.crc32(location.encode("utf-8"))
    return f"0A5A1A{crc:08X}00"


class Hl7Sender(MllpClient):
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
        super().__init__(
            clock,
            bed_location,
            sending_app,
            faults,
            interval,
            sending_facility=sending_facility,
            patient=patient,
            ack_timeout=ack_timeout,
            reconnect_delay=reconnect_delay,
        )
        self.vitals = vitals
        self.device_eui64 = device_eui64 or simulated_eui64(bed_location)
        self.alarm_repeat = alarm_repeat
        self._active: dict[str, float] = {}  # rhythm -> monotonic time of last start/continue

    # -- what to send -----------------------------------------------------------------------
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
            cid = self.next_control_id()
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
            cid = self.next_control_id()
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
