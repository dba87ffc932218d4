"""IHE PCD-01 (ORU^R01 observations) and PCD-04 (ORU^R40 alarms): reading, sans-IO
(writing: `drivers.hl7.pcd_write`).

What we read from a message (IHE PCD Technical Framework, as public samples show it):
- MSH-3/4 sending application and facility, MSH-7 time, MSH-9 type, MSH-10 control id,
  MSH-12 version; PID-3 patient id; PV1-3 assigned location (the bed); OBR-4 the kind of
  report (`182777000^monitoring of patient^SCT`, or `196616^MDC_EVT_ALARM^MDC` for PCD-04),
  OBR-7 observation time.
- OBX rows: OBX-2 value type, OBX-3 observation id (numeric MDC code and/or reference name),
  OBX-4 containment (`MDS.VMD.CHANNEL.METRIC`), OBX-5 value, OBX-6 unit, OBX-8 interpretation
  (alarm priority PH/PM/PL and type SP/ST/SA, *unconfirmed* placement), OBX-11 result status
  (`X` marks device rows, which carry no value), OBX-14 time, OBX-18 device EUI-64.
- PCD-04 alarm rows: the alarm id is either OBX-3 = MDC_EVT_ALARM with the event code in
  OBX-5, or OBX-3 = the event code itself (`MDC_EVT_…`, or a vendor's `MDCX_EVT_ALERT_…`
  advisory, its text in OBX-5); companion rows (event phase, alarm state, inactivation
  state, priority, alert type, source: read by name, then by either public numbering, see
  `mdc.ATTRIBUTE_NAMES`) attach to the alarm row before them. An alarm named as a keep-alive
  (watchdog / heartbeat) is link health, kept apart in `Report.keepalives`.
- Demo and test data (`Report.demo`): MSH-11 processing id `T` (training) or `D`
  (debugging) marks the whole message; OBX-8 `DEMO` marks its row. Such rows are read but
  kept apart from the patient's (`Metric.demo`, `Alarm.demo`).
- A numeric code and reference name that name two different parameters are not guessed:
  the row keeps its OBX-3 text as an unknown code and says so (`Metric.conflict`).

Tolerance: an NM value that is not a number becomes "no value" (the rest of the message is
kept); an unknown unit for a known parameter marks the value questionable. Structural faults
(no MSH-9/MSH-10, a segment before MSH, an OBX before any OBR) raise `DecodeError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from core.errors import DecodeError, UnitError
from core.model import ValueStatus
from core.params import parameter
from core.units import to_canonical
from drivers.hl7 import mdc
from drivers.hl7.message import Message, Segment, parse_dtm

PCD_01_PROFILE = ("PCD_DEC_001", "IHE PCD", "1.3.6.1.4.1.19376.1.6.1.1.1", "ISO")
"""MSH-21 of PCD-01 (PROTOCOLS.md §3)."""
MONITORING_OF_PATIENT = ("182777000", "monitoring of patient", "SCT")
"""OBR-4 of PCD-01 (PROTOCOLS.md §3)."""

DEMO_PROCESSING_IDS = frozenset({"T", "D"})
"""MSH-11.1 values that are not production (HL7 table 0103: training, debugging)."""
DEMO_FLAG = "DEMO"
"""OBX-8 token some central stations put on values from a monitor in demonstration mode."""

USABLE_RESULT_STATUS = frozenset({"R", "F", "C", "P", ""})
"""OBX-11 values whose numbers we use: R(esult not verified), F(inal), C(orrected),
P(reliminary); empty is read as R. X (device rows) and D/W (deleted, wrong) are skipped."""

ALARM_PRIORITIES = frozenset({"PH", "PM", "PL", "PN", "PI"})
ALARM_TYPES = frozenset({"SP", "ST", "SA"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Header:
    sending_application: str  # MSH-3 as written (all components)
    sending_facility: str  # MSH-4 as written
    control_id: str  # MSH-10
    message_code: str  # MSH-9.1, e.g. ORU
    trigger: str  # MSH-9.2, e.g. R01
    version: str  # MSH-12
    time: datetime | None  # MSH-7


@dataclass(frozen=True, slots=True, kw_only=True)
class Metric:
    """One numeric OBX row, in our vocabulary and the parameter's canonical unit."""

    code: str
    known: bool  # the code is in core.params
    mdc: int | None  # numeric code as sent
    value: float | None
    unit: str
    status: ValueStatus
    containment: str
    time: datetime | None
    device: str | None  # EUI-64 from OBX-18 when sent
    demo: bool = False  # OBX-8 DEMO, or a training / debugging message
    conflict: str = ""  # OBX-3 number and name disagree (see `mdc.parameter_code`)


@dataclass(frozen=True, slots=True, kw_only=True)
class Alarm:
    """One PCD-04 alarm with its companion attributes."""

    code: int | None  # numeric event code, e.g. 199684
    name: str  # reference id, e.g. MDC_EVT_ECG_ASYSTOLE
    text: str  # display text when the sender gave one
    rhythm: str | None  # our rhythm name when it is a rhythm alarm
    containment: str
    phase: str = ""  # start / continue / end ... (68481)
    state: str = ""  # active / inactive / latched ... (68482)
    inactivation: str = ""  # enabled / audio-paused ... (68483)
    priority: str = ""  # PH / PM / PL ... (OBX-8 or 68484)
    kind: str = ""  # SP / ST / SA (OBX-8 or the alert-type row)
    source: str = ""  # the alert source row, when sent
    time: datetime | None = None
    device: str | None = None
    demo: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """What one PCD-01 or PCD-04 message says."""

    header: Header
    patient_id: str
    location: str  # PV1-3 as written, e.g. ICU^^3
    observation_time: datetime | None  # first OBR-7
    metrics: tuple[Metric, ...]
    alarms: tuple[Alarm, ...]
    devices: tuple[str, ...]  # EUI-64 identifiers seen in OBX-18 (order of appearance)
    message: Message = field(repr=False)
    demo: tuple[str, ...] = ()  # why (some of) its data is demo or test data; () = none
    keepalives: tuple[Alarm, ...] = ()  # ACM keep-alive / watchdog rows: link health only

    @property
    def is_alarm(self) -> bool:
        return self.header.trigger == "R40"


def _coded(seg: Segment, n: int) -> tuple[int | None, str, list[str]]:
    comps = seg.components(n)
    ident = comps[0].strip() if comps else ""
    name = comps[1].strip() if len(comps) > 1 else ""
    number = int(ident) if ident.isdigit() else None
    if number is None and ident.startswith("MDC_") and not name:
        name = ident
    return number, name, comps


def _eui64(seg: Segment) -> str | None:
    for rep in range(len(seg.repetitions(18))):
        comps = seg.components(18, rep)
        for c in (comps[0] if comps else "", comps[2] if len(comps) > 2 else ""):
            if c.strip():
                return c.strip()
    return None


def _number(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def decode_report(msg: Message, *, assume_tz: tzinfo = UTC) -> Report:
    """Read a PCD-01/PCD-04 ORU message; DecodeError when its structure is broken."""
    msh = msg.msh
    code, trigger, _ = msg.message_type
    control_id = msg.control_id
    if not code or not trigger:
        raise DecodeError("MSH-9 (message type) is missing")
    if not control_id:
        raise DecodeError("MSH-10 (message control id) is missing")
    header = Header(
        sending_application=msh.text(3),
        sending_facility=msh.text(4),
        control_id=control_id,
        message_code=code,
        trigger=trigger,
        version=msh.component(12, 1),
        time=parse_dtm(msh.component(7, 1), assume_tz),
    )
    pid = msg.first("PID")
    pv1 = msg.first("PV1")
    processing = msh.component(11, 1).strip().upper()
    demo: list[str] = []
    if processing in DEMO_PROCESSING_IDS:
        demo.append(f"MSH-11 processing id {processing}")
    metrics: list[Metric] = []
    alarms: list[_AlarmBuilder] = []
    devices: list[str] = []
    obr_time: datetime | None = None
    first_obr_time: datetime | None = None
    seen_obr = False
    for seg in msg.segments[1:]:
        if seg.name == "OBR":
            seen_obr = True
            obr_time = parse_dtm(seg.component(7, 1), assume_tz)
            first_obr_time = first_obr_time or obr_time
            continue
        if seg.name != "OBX":
            continue
        if not seen_obr:
            raise DecodeError("an OBX segment before any OBR")
        device = _eui64(seg)
        if device and device not in devices:
            devices.append(device)
        t = parse_dtm(seg.component(14, 1), assume_tz) or obr_time or header.time
        row_demo = bool(demo) or _flags(seg, DEMO_FLAG)
        if row_demo and not demo and "OBX-8 DEMO" not in demo:
            demo.append("OBX-8 DEMO")
        _read_obx(seg, t, device, metrics, alarms, is_alarm=trigger == "R40", demo=row_demo)
    built = [a.build() for a in alarms]
    return Report(
        header=header,
        patient_id=pid.component(3, 1) if pid else "",
        location=pv1.text(3).rstrip(msg.encoding.component) if pv1 else "",
        observation_time=first_obr_time,
        metrics=tuple(metrics),
        alarms=tuple(a for a in built if not mdc.is_keepalive(a.name)),
        devices=tuple(devices),
        message=msg,
        demo=tuple(demo),
        keepalives=tuple(a for a in built if mdc.is_keepalive(a.name)),
    )


def _flags(seg: Segment, token: str) -> bool:
    """Whether OBX-8 (abnormal flags, repeating) carries `token`."""
    enc = seg.encoding
    return any(
        enc.unescape(rep.split(enc.component)[0]).strip().upper() == token
        for rep in seg.repetitions(8)
    )


@dataclass(slots=True)
class _AlarmBuilder:
    code: int | None
    name: str
    text: str
    containment: str
    time: datetime | None
    device: str | None
    priority: str = ""
    kind: str = ""
    phase: str = ""
    state: str = ""
    inactivation: str = ""
    source: str = ""
    demo: bool = False

    def build(self) -> Alarm:
        return Alarm(
            code=self.code,
            name=self.name,
            text=self.text,
            rhythm=mdc.rhythm_of(self.code, self.name),
            containment=self.containment,
            phase=self.phase.lower(),
            state=self.state.lower(),
            inactivation=self.inactivation.lower(),
            priority=self.priority,
            kind=self.kind,
            source=self.source,
            time=self.time,
            device=self.device,
            demo=self.demo,
        )


def _read_obx(
    seg: Segment,
    t: datetime | None,
    device: str | None,
    metrics: list[Metric],
    alarms: list[_AlarmBuilder],
    *,
    is_alarm: bool,
    demo: bool,
) -> None:
    status = seg.component(11, 1).upper()
    if status == "X":  # device rows (MDS / VMD / channel) carry no value
        return
    number, name, _ = _coded(seg, 3)
    value_type = seg.component(2, 1).upper()
    containment = seg.text(4)
    value_text = seg.text(5)
    if number == mdc.EVT_ALARM or name == mdc.EVT_ALARM_NAME:
        ev_number, ev_name, comps = _coded(seg, 5)
        text = comps[1] if len(comps) > 1 and not ev_name.startswith("MDC_") else ""
        alarms.append(_AlarmBuilder(ev_number, ev_name, text, containment, t, device, demo=demo))
        _interpretation(seg, alarms[-1])
        return
    attribute = mdc.attribute_name(number, name)
    if attribute:
        if alarms:
            _attribute(alarms[-1], attribute, seg.component(5, 1))  # coded: its code
        return
    if mdc.is_event(number, name):
        if is_alarm or mdc.rhythm_of(number, name):
            event_number = number or None  # vendor terms (MDCX_) are sent with number 0
            alarms.append(
                _AlarmBuilder(event_number, name, value_text, containment, t, device, demo=demo)
            )
            _interpretation(seg, alarms[-1])
        return
    if status not in USABLE_RESULT_STATUS or value_type != "NM":
        return
    if is_alarm and alarms:
        return  # the value that tripped an alarm: already sent in PCD-01
    metrics.append(_metric(seg, number, name, containment, value_text, t, device, demo))


def _interpretation(seg: Segment, alarm: _AlarmBuilder) -> None:
    for rep in seg.repetitions(8):
        token = seg.encoding.unescape(rep.split(seg.encoding.component)[0]).strip().upper()
        if token in ALARM_PRIORITIES:
            alarm.priority = token
        elif token in ALARM_TYPES:
            alarm.kind = token


def _attribute(alarm: _AlarmBuilder, name: str, value: str) -> None:
    if name == "MDC_ATTR_EVENT_PHASE":
        alarm.phase = value.strip()
    elif name in ("MDC_ATTR_ALARM_STATE", "MDC_ATTR_ALERT_STATE"):
        alarm.state = value.strip()
    elif name == "MDC_ATTR_ALARM_INACTIVATION_STATE":
        alarm.inactivation = value.strip()
    elif name == "MDC_ATTR_ALARM_PRIORITY":
        alarm.priority = value.strip().upper()
    elif name == "MDC_ATTR_ALERT_TYPE":
        alarm.kind = value.strip().upper()
    elif name == "MDC_ATTR_ALERT_SOURCE":
        alarm.source = value.strip()


def _metric(
    seg: Segment,
    number: int | None,
    name: str,
    containment: str,
    value_text: str,
    t: datetime | None,
    device: str | None,
    demo: bool,
) -> Metric:
    resolved = mdc.parameter_code(number, name)
    code, known = resolved.code or "OBX-3 empty", resolved.known
    unit = mdc.unit_from_obx6(seg.components(6))
    value = _number(value_text)
    status = ValueStatus.VALID if value is not None else ValueStatus.UNAVAILABLE
    if resolved.conflict:
        status = ValueStatus.QUESTIONABLE
    param = parameter(code) if known else None
    if param is not None and value is not None:
        try:
            value = to_canonical(code, value, unit or param.unit)
            unit = param.unit
        except UnitError:
            status = ValueStatus.QUESTIONABLE
        else:
            if not param.plausible(value):
                status = ValueStatus.QUESTIONABLE
    elif param is not None:
        unit = param.unit
    return Metric(
        code=code,
        known=known,
        mdc=number,
        value=value,
        unit=unit,
        status=status,
        containment=containment,
        time=t,
        device=device,
        demo=demo,
        conflict=resolved.conflict,
    )
