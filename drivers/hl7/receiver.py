"""What a receiving application does with each HL7 message, sans-IO: answer and translate.

`Hl7Receiver.receive(payload, now)` returns the acknowledgement to send and the observations
and events the message carries, stamped with the bed it belongs to. Decisions, in order:

| the message                                      | MSA-1 | ERR-3 (HL7 table 0357)     |
|--------------------------------------------------|-------|----------------------------|
| not parseable (no MSH, bad delimiters/segments)  | AE    | 100 segment sequence error |
| not ORU                                          | AR    | 200 unsupported type       |
| ORU but not R01/R40                              | AR    | 201 unsupported event      |
| MSH-12 not a 2.x version                         | AR    | 203 unsupported version    |
| structure broken (no MSH-10, OBX before OBR)     | AE    | 101 / 100                  |
| no bed_map entry for any of its identifiers      | AR    | 204 unknown key identifier |
| otherwise                                        | AA    |                            |

Bed lookup: the keys tried, first match wins, are each OBX-18 device EUI-64, MSH-3's
universal id (an EUI-64 when a bedside monitor sends directly), PV1-3 as written (e.g.
`ICU^^3`) and its first component, then MSH-3 and MSH-4 as written and their first component.

Times: an OBX-14 / OBR-7 / MSH-7 time is used when it lies within `past_tolerance` seconds
before and `future_tolerance` seconds after the receiver's clock; otherwise (or when absent)
the clock's time is used. A time without an offset is read in `assume_tz` (UTC by default).

Alarms: every PCD-04 alarm becomes a `device_alarm` event. A rhythm alarm (VT, VF, asystole,
AF, SVT, brady) also becomes an `arrhythmia` event when it starts — phase `start`, or a
`continue` / missing phase for an alarm not seen in the last `alarm_refresh` seconds (so an
alarm already running when we connect, or a sender that never sends phases, is not missed).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from core.errors import DecodeError
from core.model import DeviceEvent, EventSource, Observation
from drivers.hl7.message import Message, build_ack, parse_message
from drivers.hl7.pcd import Alarm, Report, decode_report

log = logging.getLogger(__name__)

Output = Observation | DeviceEvent


@dataclass(frozen=True, slots=True)
class Outcome:
    """The answer to one message and what it carried."""

    code: str  # MSA-1: AA, AE or AR
    ack: bytes  # the acknowledgement message (not yet MLLP-framed)
    reason: str = ""
    bed: str | None = None
    identification: dict[str, str] = field(default_factory=dict)
    outputs: tuple[Output, ...] = ()
    control_id: str = ""


def _header_only(payload: bytes) -> Message | None:
    """The MSH of a message whose body is broken, so the ACK can still echo MSH-10."""
    first = payload.replace(b"\n", b"\r").split(b"\r", 1)[0]
    try:
        return parse_message(first)
    except DecodeError:
        return None


class Hl7Receiver:
    """Turns HL7 messages into acknowledgements, observations and events."""

    def __init__(
        self,
        *,
        bed_map: Mapping[str, str],
        device_id: str,
        assume_tz: tzinfo = UTC,
        past_tolerance: float = 3600.0,
        future_tolerance: float = 120.0,
        alarm_refresh: float = 60.0,
        application: str = "IAEWATCH",
    ) -> None:
        self.bed_map = dict(bed_map)
        self.device_id = device_id
        self.assume_tz = assume_tz
        self.past_tolerance = timedelta(seconds=past_tolerance)
        self.future_tolerance = timedelta(seconds=future_tolerance)
        self.alarm_refresh = timedelta(seconds=alarm_refresh)
        self.application = application
        self._acks = 0
        self._alarms_seen: dict[tuple[str, str], datetime] = {}
        self._unknown_logged: set[str] = set()
        self.implausible_times = 0

    # -- the one entry point ---------------------------------------------------------------
    def receive(self, payload: bytes, now: datetime) -> Outcome:
        try:
            msg = parse_message(payload)
        except DecodeError as exc:
            return self._answer(_header_only(payload), "AE", str(exc), "100", now)
        code, trigger, _ = msg.message_type
        if code != "ORU":
            return self._answer(msg, "AR", f"message type {code or '?'} not accepted", "200", now)
        if trigger not in ("R01", "R40"):
            return self._answer(msg, "AR", f"ORU^{trigger} not accepted", "201", now)
        version = msg.msh.component(12, 1)
        if version and not version.startswith("2."):
            return self._answer(msg, "AR", f"HL7 version {version} not accepted", "203", now)
        try:
            report = decode_report(msg, assume_tz=self.assume_tz)
        except DecodeError as exc:
            err = "101" if "missing" in str(exc) else "100"
            return self._answer(msg, "AE", str(exc), err, now)
        ident = {
            "sending_application": report.header.sending_application,
            "sending_facility": report.header.sending_facility,
        }
        bed = self.bed_for(report)
        if bed is None:
            keys = ", ".join(repr(k) for k in self.candidates(report)) or "none"
            text = f"unknown sender (identifiers tried: {keys})"
            if keys not in self._unknown_logged:
                self._unknown_logged.add(keys)
                log.warning("HL7 message %s rejected: %s", report.header.control_id, text)
            return self._answer(msg, "AR", text, "204", now, identification=ident)
        try:
            outputs = self._outputs(report, bed, now)
        except ValueError as exc:  # a value our model refuses: answer, never drop the link
            log.exception("HL7 message %s could not be translated", report.header.control_id)
            return self._answer(msg, "AE", f"cannot use the message: {exc}", "207", now)
        return self._answer(msg, "AA", "", "", now, bed=bed, identification=ident, out=outputs)

    # -- bed ------------------------------------------------------------------------------
    @staticmethod
    def candidates(report: Report) -> list[str]:
        """Identifiers of the sender, most specific first (see the module docstring)."""
        msh = report.message.msh
        keys: list[str] = [*report.devices]
        keys += [msh.component(3, 2)]
        keys += [report.location, report.location.split(report.message.encoding.component)[0]]
        keys += [report.header.sending_application, msh.component(3, 1)]
        keys += [report.header.sending_facility, msh.component(4, 1)]
        seen: list[str] = []
        for k in keys:
            if k and k not in seen:
                seen.append(k)
        return seen

    def bed_for(self, report: Report) -> str | None:
        """The bed of the first identifier in `bed_map`; the key "*" matches any sender
        (`iaewatch probe` listens that way)."""
        for key in self.candidates(report):
            if key in self.bed_map:
                return self.bed_map[key]
        return self.bed_map.get("*")

    # -- translation ----------------------------------------------------------------------
    def _time(self, t: datetime | None, now: datetime) -> datetime:
        if t is None:
            return now
        if now - self.past_tolerance <= t <= now + self.future_tolerance:
            return t
        self.implausible_times += 1
        return now

    def _outputs(self, report: Report, bed: str, now: datetime) -> tuple[Output, ...]:
        out: list[Output] = []
        for m in report.metrics:
            out.append(
                Observation(
                    t=self._time(m.time, now),
                    bed=bed,
                    code=m.code,
                    value=m.value,
                    unit=m.unit,
                    device=self.device_id,
                    status=m.status,
                )
            )
        for alarm in report.alarms:
            out.extend(self._alarm_events(alarm, bed, now))
        return tuple(out)

    def _alarm_events(self, alarm: Alarm, bed: str, now: datetime) -> list[DeviceEvent]:
        t = self._time(alarm.time, now)
        name = alarm.name or (str(alarm.code) if alarm.code is not None else "")
        fields: dict[str, Any] = {
            "alarm": name,
            "text": alarm.text,
            "phase": alarm.phase,
            "state": alarm.state,
            "priority": alarm.priority,
            "kind": alarm.kind,
        }
        if alarm.code is not None:
            fields["mdc"] = alarm.code
        events = [self._event(t, bed, "device_alarm", fields)]
        if alarm.rhythm is None:
            return events
        key = (bed, name)
        last = self._alarms_seen.get(key)
        if alarm.phase == "end":
            self._alarms_seen.pop(key, None)
            return events
        starts = alarm.phase == "start" or last is None or now - last > self.alarm_refresh
        self._alarms_seen[key] = now
        if starts:
            events.append(
                self._event(
                    t, bed, "arrhythmia", {"rhythm": alarm.rhythm, "alarm": name, "source": "hl7"}
                )
            )
        return events

    def _event(self, t: datetime, bed: str, name: str, fields: dict[str, Any]) -> DeviceEvent:
        return DeviceEvent(
            t=t,
            bed=bed,
            event=name,
            fields=fields,
            device=self.device_id,
            source=EventSource.DEVICE,
        )

    # -- acknowledgements -----------------------------------------------------------------
    def _answer(
        self,
        msg: Message | None,
        code: str,
        reason: str,
        error_code: str,
        now: datetime,
        *,
        bed: str | None = None,
        identification: dict[str, str] | None = None,
        out: tuple[Output, ...] = (),
    ) -> Outcome:
        self._acks += 1
        trigger = msg.message_type[1] if msg is not None else ""
        # PCD-04 is answered by ORA^R41 (PROTOCOLS.md §3), everything else by ACK.
        kind = ("ORA", "R41", "ORA_R41") if trigger == "R40" else ("ACK", trigger, "ACK")
        ack = build_ack(
            msg,
            code,
            control_id=f"{self.application}{self._acks:08d}",
            now=now,
            text=reason,
            error_code=error_code,
            sending_application=self.application,
            sending_facility=self.application,
            message_type=kind[0],
            trigger=kind[1],
            structure=kind[2],
        )
        return Outcome(
            code=code,
            ack=ack,
            reason=reason,
            bed=bed,
            identification=identification or {},
            outputs=out,
            control_id=msg.control_id if msg is not None else "",
        )
