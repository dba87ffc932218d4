"""What a receiving application does with each HL7 message, sans-IO: answer and translate.

`Hl7Receiver.receive(payload, now)` returns the acknowledgement to send and the observations
and events the message carries, stamped with the bed it belongs to. Decisions, in order:

| the message                                      | MSA-1 | ERR-3 (HL7 table 0357)     |
|--------------------------------------------------|-------|----------------------------|
| not parseable (no MSH, bad delimiters/segments)  | AE    | 100 segment sequence error |
| not ORU                                          | AR    | 200 unsupported type       |
| ORU but not R01/R40/R42                          | AR    | 201 unsupported event      |
| MSH-12 not a 2.x version                         | AR    | 203 unsupported version    |
| structure broken (no MSH-10, OBX before OBR)     | AE    | 101 / 100                  |
| no bed_map entry for any of its identifiers      | AR    | 204 unknown key identifier |
| a pump server's message for a bed with no pump   | AR    | 204 unknown key identifier |
| otherwise                                        | AA    |                            |

Bed lookup: the keys tried, first match wins, are each OBX-18 device EUI-64, MSH-3's
universal id (an EUI-64 when a bedside monitor sends directly), PV1-3 as written (e.g.
`ICU^^3`) and its first component, then MSH-3 and MSH-4 as written and their first component.

Acknowledgement mode (HL7 v2 chapter 2): MSH-15 and MSH-16 both empty is original mode, one
acknowledgement AA / AE / AR. Otherwise enhanced mode: an accept acknowledgement CA / CE / CR
when MSH-15 asks for it (empty read as AL) and an application acknowledgement AA / AE / AR
when MSH-16 asks for it (empty read as NE); conditions AL, NE, ER, SU (HL7 table 0155).
A PCD-04 (ORU^R40) is answered `ORA^R41` or `ACK^R40`, per sender (`pcd04_reply`, keyed like
`bed_map`; `default_pcd04_reply` otherwise).

Times: an OBX-14 / OBR-7 / MSH-7 time is used when it lies within `past_tolerance` seconds
before and `future_tolerance` seconds after the receiver's clock; otherwise (or when absent)
the clock's time is used. A time without an offset is read in `assume_tz`: the site's zone
(the service passes `SiteConfig.tz`); UTC only when the caller gives none.

Demo and test data (`Report.demo`: MSH-11 T/D, OBX-8 DEMO) never become observations or
alarms. The bed gets a `device_demo_mode` event {active: true, reason} when its sender starts
sending them and {active: false} when real data comes back: a technical alert, not data.
A row whose OBX-3 number and name disagree is kept under its OBX-3 text (rules ignore it) and
a `device_code_conflict` event says so, once per bed and OBX-3. ACM keep-alive rows are link
health: the accepted message keeps the feed alive; no event.

Pump servers: a message from one (`drivers.hl7.pump.is_pump_message`: an IPEC ORU^R42, rows
of a pump's device hierarchy, a PCD-04 alarm whose source is a pump) goes to the bed's
`hl7-pump` sources (`pumps`, `drivers.hl7.pump_feed`), which turn it into what the Modbus pump
driver emits; demo or test data from a pump server gives `device_demo_mode` only.

Alarms: every PCD-04 alarm becomes a `device_alarm` event. A rhythm alarm (VT, VF, asystole,
AF, SVT, brady) also becomes an `arrhythmia` event when it starts — phase `start`, or a
`continue` / missing phase for an alarm not seen in the last `alarm_refresh` seconds (so an
alarm already running when we connect, or a sender that never sends phases, is not missed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from core.errors import DecodeError
from core.model import DeviceEvent, EventSource, Observation
from drivers.hl7.message import ACCEPT_CODES, Message, ack_wanted, build_ack, parse_message
from drivers.hl7.pcd import Alarm, Report, decode_report
from drivers.hl7.pump import decode_pump, is_pump_message
from drivers.hl7.pump_feed import PumpFeed, PumpSource

log = logging.getLogger(__name__)

Output = Observation | DeviceEvent
Admit = Callable[[str, Report], str | None]
"""The listener's sender check: why a bed must not take this message, or None."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """The answer to one message and what it carried."""

    code: str  # the outcome, as MSA-1 of an application acknowledgement: AA, AE or AR
    ack: bytes  # the first acknowledgement to send (b"" when the sender wants none)
    reason: str = ""
    bed: str | None = None
    identification: dict[str, str] = field(default_factory=dict)
    outputs: tuple[Output, ...] = ()
    control_id: str = ""
    app_ack: bytes = b""  # enhanced mode: the application acknowledgement after `ack`

    @property
    def acks(self) -> tuple[bytes, ...]:
        """Every acknowledgement to send, in order (not yet MLLP-framed)."""
        return tuple(a for a in (self.ack, self.app_ack) if a)


def _header_only(payload: bytes) -> Message | None:
    """The MSH of a message whose body is broken, so the ACK can still echo MSH-10."""
    first = payload.replace(b"\n", b"\r").split(b"\r", 1)[0]
    try:
        return parse_message(first)
    except DecodeError:
        return None


MAX_SEGMENT = 64 * 1024
"""Longest segment parsed (bytes): splitting a longer one could hold the interpreter for tens
of milliseconds in one call. A PCD-01 OBX is a few hundred bytes."""


def _too_long_segment(payload: bytes) -> int | None:
    """The index of the first segment longer than `MAX_SEGMENT`, or None."""
    start = 0
    index = 0
    size = len(payload)
    while start < size:
        end = payload.find(b"\r", start, start + MAX_SEGMENT + 1)
        if end < 0:
            if size - start > MAX_SEGMENT:
                return index
            return None
        start = end + 1
        index += 1
    return None


PCD04_REPLIES: dict[str, tuple[str, str, str]] = {
    "ORA^R41": ("ORA", "R41", "ORA_R41"),
    "ACK^R40": ("ACK", "R40", "ACK"),
}
"""What a PCD-04 sender may expect back (MSH-9 of the reply)."""


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
        pcd04_reply: Mapping[str, str] | None = None,
        default_pcd04_reply: str = "ORA^R41",
        pumps: Mapping[str, Sequence[PumpSource]] | None = None,
    ) -> None:
        replies = {**(pcd04_reply or {}), "": default_pcd04_reply}
        unknown = sorted(v for v in replies.values() if v not in PCD04_REPLIES)
        if unknown:
            raise ValueError(f"PCD-04 reply must be one of {sorted(PCD04_REPLIES)}: {unknown}")
        self.pcd04_reply = replies
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
        self._demo_beds: dict[str, str] = {}  # bed -> reason, while its sender sends demo data
        self._conflicts_seen: set[tuple[str, str]] = set()
        self.implausible_times = 0
        self.keepalives = 0  # ACM keep-alive rows received (link health)
        self.pumps = PumpFeed(pumps or {})

    # -- the one entry point ---------------------------------------------------------------
    def receive(self, payload: bytes, now: datetime, admit: Admit | None = None) -> Outcome:
        """Answer one message; `admit(bed, report)` may refuse its bed's sender (AR, 204)."""
        too_long = _too_long_segment(payload)
        if too_long is not None:  # not parsed: one huge field split would stall the caller
            head = _header_only(payload) if too_long > 0 else None
            text = f"a segment is longer than {MAX_SEGMENT} bytes"
            return self._answer(head, "AE", text, "100", now)
        try:
            msg = parse_message(payload)
        except DecodeError as exc:
            return self._answer(_header_only(payload), "AE", str(exc), "100", now)
        reply_key = ""
        code, trigger, _ = msg.message_type
        if code != "ORU":
            return self._answer(msg, "AR", f"message type {code or '?'} not accepted", "200", now)
        if trigger not in ("R01", "R40", "R42"):
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
        refused = admit(bed, report) if admit is not None else None
        if refused is not None:
            return self._answer(msg, "AR", refused, "204", now, bed=bed, identification=ident)
        reply_key = next((k for k in self.candidates(report) if k in self.pcd04_reply), "")
        pump = is_pump_message(report)
        if pump and not self.pumps.serves(bed):
            text = f"{bed} has no hl7-pump source: a pump server's message is not taken"
            return self._answer(msg, "AR", text, "204", now, bed=bed, identification=ident)
        try:
            outputs = (
                self._pump_outputs(report, bed, now) if pump else self._outputs(report, bed, now)
            )
        except ValueError as exc:  # a value our model refuses: answer, never drop the link
            log.exception("HL7 message %s could not be translated", report.header.control_id)
            return self._answer(
                msg, "AE", f"cannot use the message: {exc}", "207", now, reply_key=reply_key
            )
        return self._answer(
            msg, "AA", "", "", now, bed=bed, identification=ident, out=outputs, reply_key=reply_key
        )

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
        out: list[Output] = self._demo_events(report, bed, now)
        self.keepalives += len(report.keepalives)
        for m in report.metrics:
            if m.demo:
                continue
            if m.conflict and (bed, m.code) not in self._conflicts_seen:
                self._conflicts_seen.add((bed, m.code))
                log.warning("HL7 %s: OBX-3 %s: %s", bed, m.code, m.conflict)
                fields = {"device": self.device_id, "obx3": m.code, "reason": m.conflict}
                out.append(
                    self._event(self._time(m.time, now), bed, "device_code_conflict", fields)
                )
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
            if not alarm.demo:
                out.extend(self._alarm_events(alarm, bed, now))
        return tuple(out)

    def _pump_outputs(self, report: Report, bed: str, now: datetime) -> tuple[Output, ...]:
        out = self._demo_events(report, bed, now)
        if report.demo:
            return tuple(out)
        message = decode_pump(report, assume_tz=self.assume_tz)
        out += self.pumps.translate(bed, message, lambda t: self._time(t, now))
        return tuple(out)

    def _demo_events(self, report: Report, bed: str, now: datetime) -> list[Output]:
        """`device_demo_mode` when a bed's sender starts or stops sending demo/test data."""
        reason = "; ".join(report.demo)
        was = self._demo_beds.get(bed)
        if reason and was is None:
            self._demo_beds[bed] = reason
            fields = {"device": self.device_id, "active": True, "reason": reason}
            return [self._event(now, bed, "device_demo_mode", fields)]
        if not reason and was is not None:
            del self._demo_beds[bed]
            fields = {"device": self.device_id, "active": False, "reason": was}
            return [self._event(now, bed, "device_demo_mode", fields)]
        return []

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
        if alarm.source:
            fields["alert_source"] = alarm.source  # "source" is the record's own key
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
        reply_key: str = "",
    ) -> Outcome:
        trigger = msg.message_type[1] if msg is not None else ""
        kind = PCD04_REPLIES[self.pcd04_reply[reply_key]] if trigger == "R40" else None
        kind = kind or ("ACK", trigger, "ACK")
        accept_mode = msg.msh.field(15).strip().upper() if msg is not None else ""
        app_mode = msg.msh.field(16).strip().upper() if msg is not None else ""
        if accept_mode or app_mode:  # enhanced mode
            codes = [
                ACCEPT_CODES[code] if ack_wanted(accept_mode or "AL", ACCEPT_CODES[code]) else "",
                code if ack_wanted(app_mode or "NE", code) else "",
            ]
        else:
            codes = [code, ""]
        acks = [self._build(msg, c, reason, error_code, now, kind) if c else b"" for c in codes]
        return Outcome(
            code=code,
            ack=acks[0] or acks[1],
            app_ack=acks[1] if acks[0] else b"",
            reason=reason,
            bed=bed,
            identification=identification or {},
            outputs=out,
            control_id=msg.control_id if msg is not None else "",
        )

    def _build(
        self,
        msg: Message | None,
        code: str,
        reason: str,
        error_code: str,
        now: datetime,
        kind: tuple[str, str, str],
    ) -> bytes:
        self._acks += 1
        return build_ack(
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
