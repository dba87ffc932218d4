"""A pump server feeding HL7: the bed's simulated pumps as IHE PCD-10 (IPEC) infusion events,
PCD-04 pump alarms and a periodic PCD-01 status, written by `drivers.hl7.pump_write`.

Each tick (`interval`) it compares every pump's state (`simulators.pump_state.PumpState`, the
one the Modbus gateway simulator serves) with the last it reported and sends, in order:
- `ORU^R40` for each pump alarm that began (phase start) or ended (phase end);
- `ORU^R42` IPEC events: delivery start when a pump starts; delivery stop when it stops or an
  alarm stops it; delivery complete when it reaches its VTBI; a programme change while running
  (titration) as a transitioning stop and a start with the new parameters, as IPEC Table
  X.1.2.1-4 describes a rate change;
- `ORU^R01` with every pump, first at once and then every `status_every` seconds.
A pump already running when the sender starts is reported with a delivery start (a real pump
server reports the running programme on connecting; the receiver does not take it for the
infusion's start unless nothing has been infused yet). The link, its acknowledgements and its
faults are `simulators.hl7_link.MllpClient`'s.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.clock import Clock
from drivers.hl7 import pump_terms
from drivers.hl7.pcd_write import Patient
from drivers.hl7.pump_terms import Term
from drivers.hl7.pump_write import Header, PumpOut, build_pump_r01, build_pump_r40, build_pump_r42
from drivers.modbus.codec import PumpReading
from simulators.faults import Faults
from simulators.hl7_link import MllpClient
from simulators.hl7_sender import simulated_eui64
from simulators.pump import reading_of
from simulators.pump_state import PumpState


class Hl7PumpSender(MllpClient):
    """Sends one bed's pumps as a pump server would, to an HL7 listener."""

    def __init__(
        self,
        pumps: Mapping[str, PumpState],
        clock: Clock,
        bed_location: str,
        sending_app: str = "PUMPSERVER",
        faults: Faults | None = None,
        interval: float = 1.0,
        *,
        sending_facility: str = "",
        patient: Patient | None = None,
        status_every: float = 30.0,
        ack_timeout: float = 5.0,
        reconnect_delay: float = 1.0,
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
        self.pumps = pumps
        self.status_every = status_every
        self._last: dict[str, PumpReading] = {}
        self._status_at: float | None = None

    def eui64(self, pump: str) -> str:
        """The simulated pump's EUI-64 (locally administered, never a real device's)."""
        return simulated_eui64(f"{self.bed_location}/{pump}")

    def _header(self) -> Header:
        return Header(
            control_id=self.next_control_id(),
            location=self.bed_location,
            sending_app=self.sending_app,
            sending_facility=self.sending_facility,
            patient=self.patient,
        )

    def due_messages(self) -> list[tuple[str, bytes]]:
        """The messages to send now: alarm transitions, IPEC events, then the status."""
        now, mono = self.clock.now(), self.clock.monotonic()
        out: list[tuple[str, bytes]] = []
        current = {name: reading_of(state) for name, state in self.pumps.items()}
        for name, reading in current.items():
            prev = self._last.get(name)
            eui = self.eui64(name)
            before = prev.alarms if prev else frozenset()
            for kind in sorted(pump_terms.ALARMS):
                if (kind in reading.alarms) != (kind in before):
                    phase = "start" if kind in reading.alarms else "end"
                    h = self._header()
                    out.append((h.control_id, build_pump_r40(kind, phase, eui, h, now=now)))
            for event, shown, transitioning in _events(prev, reading):
                h = self._header()
                pump = PumpOut(reading=shown, eui64=eui, transitioning=transitioning)
                out.append((h.control_id, build_pump_r42(event, pump, h, now=now, at=now)))
            self._last[name] = reading
        if current and (self._status_at is None or mono - self._status_at >= self.status_every):
            self._status_at = mono
            pumps = [PumpOut(reading=r, eui64=self.eui64(n)) for n, r in current.items()]
            h = self._header()
            out.append((h.control_id, build_pump_r01(pumps, h, now=now)))
        return out


def _events(prev: PumpReading | None, now: PumpReading) -> list[tuple[Term, PumpReading, bool]]:
    """The IPEC events between two readings of one pump: (event, the reading it shows,
    transitioning)."""
    was = prev.state if prev else None
    if now.state == "running":
        if was != "running":
            return [(pump_terms.DELIV_START, now, False)]
        assert prev is not None
        if (prev.rate_ml_h, prev.vtbi_ml) != (now.rate_ml_h, now.vtbi_ml):
            return [(pump_terms.DELIV_STOP, prev, True), (pump_terms.DELIV_START, now, False)]
        return []
    if was == "running" and now.state == "completed":
        return [(pump_terms.DELIV_COMP, now, False)]
    if was == "running":
        return [(pump_terms.DELIV_STOP, now, False)]
    return []
