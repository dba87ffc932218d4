"""IHE PCD-01 (ORU^R01) and PCD-04 (ORU^R40) writing, sans-IO, and the row builders that
other HL7 writers share (`drivers.hl7.pump_write` builds pump messages with them).

Reading lives in `drivers.hl7.pcd`. Every row is a list of fields, composed by
`drivers.hl7.message.compose`; every OBX-3 carries its numeric MDC code and every OBX-6 its
unit code (issue 17 item 4); OBX-18 names the equipment by its EUI-64.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from core.params import parameter
from drivers.hl7 import mdc
from drivers.hl7.message import Encoding, compose, format_dtm
from drivers.hl7.pcd import ALARM_PRIORITIES, MONITORING_OF_PATIENT, PCD_01_PROFILE

PCD_04_PROFILE = ("IHE_PCD_ACM_001", "IHE PCD", "1.3.6.1.4.1.19376.1.6.1.4.1", "ISO")
"""MSH-21 of PCD-04 as GE Mural's public ORU^R40 sample writes it (the OID is unconfirmed)."""


@dataclass(frozen=True, slots=True)
class Patient:
    """PID as PCD-01 asks for it: PID-3 identifier (with its assigning authority and type MR),
    PID-5 name (family, given; name type L, or U when no name is known: PID-5 is required),
    PID-7 birth date, PID-8 sex."""

    id: str = ""
    authority: str = ""
    family: str = ""
    given: str = ""
    birth_date: str = ""  # YYYYMMDD
    sex: str = ""  # HL7 table 0001: F, M, O, U

    def segment(self, enc: Encoding) -> list[str]:
        c, e = enc.component, enc.escape_text
        pid3 = c.join((e(self.id), "", "", e(self.authority), "MR")) if self.id else ""
        named = self.family or self.given  # name type L(egal), else U(nspecified), table 0200
        pid5 = c.join((e(self.family), e(self.given), "", "", "", "", "L" if named else "U"))
        return ["PID", "", "", pid3, "", pid5, "", self.birth_date, self.sex]


@dataclass(frozen=True, slots=True)
class _Group:
    vmd: str  # MDC reference id of the VMD
    channel: str
    codes: tuple[str, ...]


_GROUPS: tuple[_Group, ...] = (
    _Group("MDC_DEV_ECG_VMD", "MDC_DEV_ECG_CHAN", ("MDC_ECG_HEART_RATE",)),
    _Group(
        "MDC_DEV_ANALY_SAT_O2_VMD",
        "MDC_DEV_ANALY_SAT_O2_CHAN",
        ("MDC_PULS_OXIM_SAT_O2", "MDC_PULS_OXIM_PULS_RATE"),
    ),
    _Group(
        "MDC_DEV_PRESS_BLD_NONINV_VMD",
        "MDC_DEV_PRESS_BLD_NONINV_CHAN",
        ("MDC_PRESS_BLD_NONINV_SYS", "MDC_PRESS_BLD_NONINV_DIA", "MDC_PRESS_BLD_NONINV_MEAN"),
    ),
    _Group(
        "MDC_DEV_METER_PRESS_BLD_VMD",
        "MDC_DEV_METER_PRESS_BLD_CHAN",
        ("MDC_PRESS_BLD_ART_SYS", "MDC_PRESS_BLD_ART_DIA", "MDC_PRESS_BLD_ART_MEAN"),
    ),
    _Group("MDC_DEV_METER_TEMP_VMD", "MDC_DEV_METER_TEMP_CHAN", ("MDC_TEMP_BLD", "MDC_TEMP")),
    _Group("MDC_DEV_ANALY_RESP_RATE_VMD", "MDC_DEV_ANALY_RESP_RATE_CHAN", ("MDC_RESP_RATE",)),
    _Group("MDC_DEV_CO2_VMD", "MDC_DEV_CO2_CHAN", ("MDC_AWAY_CO2_ET",)),
)


def format_value(value: float) -> str:
    """A number as OBX-5 writes it: at most six significant digits, never an exponent."""
    text = f"{value:.6g}"
    return text if "e" not in text else f"{value:f}".rstrip("0").rstrip(".")


def msh_fields(
    enc: Encoding,
    *,
    sending_app: str,
    sending_facility: str,
    now: datetime,
    control_id: str,
    trigger: str,
    structure: str = "",
    profile: tuple[str, str, str, str] | None = None,
) -> list[str]:
    """MSH of an ORU message: MSH-9 `ORU^<trigger>^<structure>` (default `ORU_<trigger>`),
    MSH-21 `profile` (default PCD-04's for R40, else PCD-01's)."""
    c = enc.component
    profile = profile or (PCD_04_PROFILE if trigger == "R40" else PCD_01_PROFILE)
    return [
        "MSH",
        sending_app,
        sending_facility,
        "IAEWATCH",
        "IAEWATCH",
        format_dtm(now),
        "",
        c.join(("ORU", trigger, structure or f"ORU_{trigger}")),
        enc.escape_text(control_id),
        "P",
        "2.6",  # MSH-12 (PROTOCOLS.md §3)
        "",
        "",
        "AL",  # MSH-15 accept acknowledgement: always
        "NE",  # MSH-16 application acknowledgement: never
        "",
        "UNICODE UTF-8",  # MSH-18
        "",
        "",
        c.join(profile),  # MSH-21
    ]


def oru_message(
    enc: Encoding,
    rows: list[list[str]],
    *,
    sending_app: str,
    sending_facility: str,
    now: datetime,
    control_id: str,
    trigger: str,
    patient: Patient | None,
    location: str,
    obr4: str,
    observed: str,
    structure: str = "",
    profile: tuple[str, str, str, str] | None = None,
) -> bytes:
    """An ORU message: MSH (`msh_fields`), PID, PV1 (inpatient at `location`), one OBR
    (control id as placer and filler number, universal service `obr4`, observed at
    `observed`), then `rows` numbered 1, 2, … in OBX-1."""
    for set_id, row in enumerate(rows, start=1):
        row[1] = str(set_id)
    cid = enc.escape_text(control_id)
    head: list[list[str]] = [
        msh_fields(
            enc,
            sending_app=sending_app,
            sending_facility=sending_facility,
            now=now,
            control_id=control_id,
            trigger=trigger,
            structure=structure,
            profile=profile,
        ),
        (patient or Patient()).segment(enc),
        ["PV1", "", "I", location],
        ["OBR", "1", cid, cid, obr4, "", "", observed],
    ]
    return compose([*head, *rows], enc)


def equipment_id(enc: Encoding, eui64: str) -> str:
    """OBX-18 (EI): the EUI-64 as entity and universal id, `<eui>^^<eui>^EUI-64`."""
    e = enc.escape_text(eui64)
    return enc.component.join((e, "", e, "EUI-64")) if eui64 else ""


def obx_fields(
    enc: Encoding,
    value_type: str,
    ident: tuple[int, str],
    containment: str,
    value: str = "",
    unit: str = "",
    flags: str = "",
    status: str = "R",
    time: str = "",
    equipment: str = "",
) -> list[str]:
    """One OBX row (OBX-1 left empty: the builder numbers the rows): OBX-3
    `<number>^<name>^MDC`, OBX-8 `flags`, OBX-11 `status`, OBX-14 `time`, OBX-18 `equipment`."""
    number, name = ident
    obx3 = enc.component.join((str(number), enc.escape_text(name), "MDC"))
    row = ["OBX", "", value_type, obx3, containment, value, unit, "", flags, "", "", status]
    return [*row, "", "", time, "", "", "", equipment]


def build_oru_r01(
    values: Mapping[str, float],
    *,
    now: datetime,
    control_id: str,
    location: str,
    device_eui64: str = "",
    sending_app: str = "CENTRAL",
    sending_facility: str = "",
    patient: Patient | None = None,
    encoding: Encoding | None = None,
) -> bytes:
    """A PCD-01 ORU^R01 carrying `values` (vocabulary code → value in the canonical unit).

    `location` is PV1-3 as written (components joined by `^`). Rows: the MDS row (OBX-11 X),
    then per VMD its VMD and channel rows where their numbers are known (`mdc.DEVICE_NUMBERS`)
    and the metric rows (R), with OBX-4 containment `1.<vmd>.1.<metric>`. Every OBX-3 carries
    its numeric MDC code and every OBX-6 its unit code: a value whose code has no number two
    sources agree on (`mdc.WRITTEN_NUMBERS`) is left out. Every row's OBX-18 is the EUI-64.
    """
    enc = encoding or Encoding()
    stamp = format_dtm(now)
    eui = equipment_id(enc, device_eui64)
    rows: list[list[str]] = [
        obx_fields(enc, "", mdc.MDS_MULTI_PARAM, "1.0.0.0", status="X", equipment=eui)
    ]
    rest = tuple(sorted(set(values) - {code for g in _GROUPS for code in g.codes}))
    vmd_index = 0
    for group in (*_GROUPS, _Group("", "", rest)):
        present = [code for code in group.codes if code in values and _writable(code)]
        if not present:
            continue
        vmd_index += 1
        for name, containment in (
            (group.vmd, f"1.{vmd_index}.0.0"),
            (group.channel, f"1.{vmd_index}.1.0"),
        ):
            if name in mdc.DEVICE_NUMBERS:
                ident = (mdc.DEVICE_NUMBERS[name], name)
                rows.append(obx_fields(enc, "", ident, containment, status="X", equipment=eui))
        for metric_index, code in enumerate(present, start=1):
            containment = f"1.{vmd_index}.1.{metric_index}"
            rows.append(_metric_row(enc, code, values[code], containment, stamp, eui))
    return oru_message(
        enc,
        rows,
        sending_app=sending_app,
        sending_facility=sending_facility,
        now=now,
        control_id=control_id,
        trigger="R01",
        patient=patient,
        location=location,
        obr4=enc.component.join(MONITORING_OF_PATIENT),
        observed=stamp,
    )


def _writable(code: str) -> bool:
    param = parameter(code)
    return (
        code in mdc.WRITTEN_NUMBERS
        and param is not None
        and mdc.unit_number(code, param.unit) is not None
    )


def _metric_row(
    enc: Encoding, code: str, value: float, containment: str, stamp: str, eui: str
) -> list[str]:
    c = enc.component
    param = parameter(code)
    assert param is not None
    obx6 = c.join(enc.escape_text(u) for u in mdc.obx6_for(code, param.unit)).rstrip(c)
    value_text = format_value(value)
    return obx_fields(
        enc,
        "NM",
        mdc.WRITTEN_NUMBERS[code],
        containment,
        value_text,
        obx6,
        time=stamp,
        equipment=eui,
    )


PHASES = frozenset({"start", "continue", "end"})


def build_oru_r40(
    *,
    rhythm: str,
    phase: str,
    now: datetime,
    control_id: str,
    location: str,
    device_eui64: str = "",
    sending_app: str = "CENTRAL",
    sending_facility: str = "",
    patient: Patient | None = None,
    priority: str = "PH",
    encoding: Encoding | None = None,
) -> bytes:
    """A PCD-04 ORU^R40 (IHE ACM) for a rhythm alarm (our rhythm name, e.g. "VT") in `phase`.

    MSH-21 `IHE_PCD_ACM_001`; OBR-4 MDC_EVT_ALARM; the alarm row has OBX-3 = MDC_EVT_ALARM,
    the event code in OBX-5 and OBX-8 the priority and `SP` (physiological); then the facet
    rows event phase, alarm state, inactivation state, priority and alert type (OBX-4
    `<containment>.<facet>`), each with the equipment's EUI-64 in OBX-18.
    """
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {sorted(PHASES)}")
    if priority not in ALARM_PRIORITIES:
        raise ValueError(f"priority must be one of {sorted(ALARM_PRIORITIES)}")
    event = mdc.rhythm_event(rhythm)
    enc = encoding or Encoding()
    c, r = enc.component, enc.repetition
    stamp = format_dtm(now)
    alarm_id = (mdc.EVT_ALARM, mdc.EVT_ALARM_NAME)
    ev = c.join((str(event.number) if event.number is not None else "", event.name, "MDC"))
    eui = equipment_id(enc, device_eui64)
    sub = "1.1.1.1"
    state = "inactive" if phase == "end" else "active"
    facets: tuple[tuple[int, str, str], ...] = (
        (mdc.ATTR_EVENT_PHASE, "MDC_ATTR_EVENT_PHASE", phase),
        (mdc.ATTR_ALARM_STATE, "MDC_ATTR_ALARM_STATE", state),
        (mdc.ATTR_ALARM_INACTIVATION_STATE, "MDC_ATTR_ALARM_INACTIVATION_STATE", "enabled"),
        (mdc.ATTR_ALARM_PRIORITY, "MDC_ATTR_ALARM_PRIORITY", priority),
        (mdc.ATTR_ALERT_TYPE, "MDC_ATTR_ALERT_TYPE", "SP"),
    )
    rows = [
        obx_fields(
            enc,
            "CWE",
            alarm_id,
            f"{sub}.1",
            ev,
            flags=r.join((priority, "SP")),
            time=stamp,
            equipment=eui,
        ),
        *(
            obx_fields(enc, "ST", (number, name), f"{sub}.{i}", value, time=stamp, equipment=eui)
            for i, (number, name, value) in enumerate(facets, start=2)
        ),
    ]
    return oru_message(
        enc,
        rows,
        sending_app=sending_app,
        sending_facility=sending_facility,
        now=now,
        control_id=control_id,
        trigger="R40",
        patient=patient,
        location=location,
        obr4=c.join((str(mdc.EVT_ALARM), mdc.EVT_ALARM_NAME, "MDC")),
        observed=stamp,
    )


def corrupt(message: bytes) -> bytes:
    """`message` cut short inside the id of its last segment: what a sender that loses part
    of a message sends. MLLP has no checksum, so this is our 'bad checksum' fault."""
    lines = message.rstrip(b"\r").split(b"\r")
    if len(lines) < 2:
        return message[: max(1, len(message) // 2)]
    return b"\r".join([*lines[:-1], lines[-1][:2]]) + b"\r"
