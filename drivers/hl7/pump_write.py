"""A pump server's HL7 messages, written, sans-IO: PCD-01 status, PCD-10 IPEC events and
PCD-04 pump alarms (the simulator sends them; `drivers.hl7.pump` reads them back).

Layout, after the IPEC Rev. 1.5 Delivery Start sample (`drivers.hl7.pump_terms`): per pump an
MDS row (`MDC_DEV_PUMP_INFUS_MDS`, OBX-18 the pump's EUI-64), for an IPEC event the event
condition and source rows at MDS level, a VMD row, the delivery info channel (infusing status,
current flow, active source, and TF3's `MDC_PUMP_STAT`) and the primary source channel
(delivery status, not-delivering reason, delivery mode, label, rate, VTBI, volume delivered,
volume remaining, drug, concentration, dose rate).
Numbers are the sources' (0 where the IPEC sample writes 0: pending); units carry their MDC
code where two sources agree (`drivers.hl7.mdc.UNITS`) and their UCUM form always.
PCD-04 follows the PCD TF-2 pump occlusion example: OBR-4 and OBX-3 `MDC_EVT_ALARM`, the
event code in OBX-5, OBX-8 `ST` (technical), then alert source, phase, state, inactivation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from core.params import PARAMETERS, VASOPRESSOR_CODES
from core.vocabulary import STOPPING_PUMP_ALARMS
from drivers.hl7 import mdc, pump_terms
from drivers.hl7.message import Encoding, format_dtm
from drivers.hl7.pcd import MONITORING_OF_PATIENT, PCD_01_PROFILE
from drivers.hl7.pcd_write import Patient, equipment_id, format_value, obx_fields, oru_message
from drivers.hl7.pump_terms import Field, Term
from drivers.modbus.codec import PumpReading

PCD_10_PROFILE = ("IHE_PCD_010", "IHE PCD", "1.3.6.1.4.1.19376.1.6.4.10", "ISO")
"""MSH-21 of PCD-10 (IPEC Rev. 1.5 §X.1.1: the OID assigned to PCD-10)."""
PCD_04_PUMP_PROFILE = ("IHE_PCD_ACM_001", "IHE PCD", "1.3.6.1.4.1.19376.1.6.4.4.1", "ISO")
"""MSH-21 as the PCD TF-2 pump occlusion example writes it (other ACM samples differ)."""

_DELIVERING = {
    "running": "pump-delivery-status-delivering",
    "completed": "pump-delivery-status-kvo",
}
_PUMP_STAT = {  # our state -> MDC_PUMP_STAT (TF3 §7.1.3)
    "running": "pump-status-infusing",
    "completed": "pump-status-kvo",
    "paused": "pump-status-paused",
    "alarm": "pump-status-paused",
    "stopped": "pump-status-ready",
}
_REASONS = {"alarm": pump_terms.STOPPED_BY_ALARM, "paused": "pump-stopped-by-clinician"}


@dataclass(frozen=True, slots=True, kw_only=True)
class PumpOut:
    """One pump as a pump server reports it."""

    reading: PumpReading  # its programme, state, drug and concentration (ug/mL; vasopressin U/mL)
    eui64: str  # OBX-18
    label: str = "Primary"  # the source channel's label
    transitioning: bool = False  # a titration's stop: delivery goes on with a new programme


@dataclass(frozen=True, slots=True, kw_only=True)
class Header:
    """Who sends, to which bed, about whom."""

    control_id: str
    location: str  # PV1-3 as written
    sending_app: str = "PUMPSERVER"
    sending_facility: str = ""
    patient: Patient | None = None


def build_pump_r01(pumps: Sequence[PumpOut], header: Header, *, now: datetime) -> bytes:
    """PCD-01 `ORU^R01`: every pump's programme and status."""
    rows: list[list[str]] = []
    for i, pump in enumerate(pumps, start=1):
        rows += _pump_rows(Encoding(), pump, i, format_dtm(now))
    return _message(header, "R01", now, now, rows)


def build_pump_r42(
    event: Term, pump: PumpOut, header: Header, *, now: datetime, at: datetime
) -> bytes:
    """PCD-10 `ORU^R42^ORU_R01`: one IPEC event (`pump_terms.EVENTS`) that happened `at`."""
    enc = Encoding()
    stamp = format_dtm(at)
    eui = equipment_id(enc, pump.eui64)
    c = enc.component
    cond = c.join((str(event.number), event.name, "MDC"))
    rows = _pump_rows(enc, pump, 1, stamp)
    rows[1:1] = [
        obx_fields(enc, "CWE", _ident("event"), "1.0.0.1", cond, time=stamp, equipment=eui),
        obx_fields(enc, "ST", _ident("event_source"), "1.0.0.2", "1.1.2.0", time=stamp),
    ]
    return _message(header, "R42", now, at, rows)


def build_pump_r40(
    kind: str, phase: str, pump_eui64: str, header: Header, *, now: datetime
) -> bytes:
    """PCD-04 `ORU^R40`: pump alarm `kind` (`pump_terms.ALARMS`) in `phase` (start, continue,
    end)."""
    event = pump_terms.ALARMS[kind][0]
    enc = Encoding()
    c = enc.component
    stamp = format_dtm(now)
    eui = equipment_id(enc, pump_eui64)
    alarm = c.join((str(event.number), event.name, "MDC"))
    source = c.join((str(pump_terms.PUMP_MDS.number), pump_terms.PUMP_MDS.name, "MDC"))
    facets = (
        (mdc.ATTR_EVENT_PHASE, "MDC_ATTR_EVENT_PHASE", phase),
        (mdc.ATTR_ALARM_STATE, "MDC_ATTR_ALARM_STATE", "inactive" if phase == "end" else "active"),
        (mdc.ATTR_ALARM_INACTIVATION_STATE, "MDC_ATTR_ALARM_INACTIVATION_STATE", "enabled"),
    )
    alarm_id = (mdc.EVT_ALARM, mdc.EVT_ALARM_NAME)
    rows = [
        obx_fields(enc, "CWE", alarm_id, "1.0.0.0.1", alarm, flags="ST", time=stamp, equipment=eui),
        obx_fields(
            enc, "CWE", (mdc.ATTR_ALERT_SOURCE, "MDC_ATTR_ALERT_SOURCE"), "1.0.0.0.2", source
        ),
        *(
            obx_fields(enc, "ST", (n, name), f"1.0.0.0.{i}", value)
            for i, (n, name, value) in enumerate(facets, start=3)
        ),
    ]
    return _message(header, "R40", now, now, rows)


# -- rows ---------------------------------------------------------------------------------
def _ident(field: Field) -> tuple[int, str]:
    t = pump_terms.term(field)
    return t.number, t.name


def _device(term: Term) -> tuple[int, str]:
    return term.number, term.name


def _pump_rows(enc: Encoding, pump: PumpOut, mds: int, stamp: str) -> list[list[str]]:
    r = pump.reading
    eui = equipment_id(enc, pump.eui64)
    delivering = r.state == "running" and not r.alarms & STOPPING_PUMP_ALARMS
    delivery = _DELIVERING.get(r.state or "", "pump-delivery-status-not-delivering")
    if pump.transitioning:
        delivery = pump_terms.TRANSITIONING
    values: list[tuple[Field, str, object, str]] = [
        # (field, value type, value, unit); None values are left out
        ("rate", "NM", r.rate_ml_h, "mL/h"),
        ("vtbi", "NM", r.vtbi_ml, "mL"),
        ("volume_total", "NM", r.volume_infused_ml, "mL"),
        ("vtbi_remaining", "NM", _remaining(r), "mL"),
        ("drug", "ST", r.drug.capitalize() if r.drug else None, ""),
        *_drug_rows(r, delivering),
    ]
    status = "pump-status-infusing" if delivering else "pump-status-not-infusing"
    flow = (r.rate_ml_h or 0.0) if delivering else 0.0
    rows = [
        obx_fields(
            enc, "", _device(pump_terms.PUMP_MDS), f"{mds}.0.0.0", status="X", equipment=eui
        ),
        obx_fields(enc, "", _device(pump_terms.PUMP_VMD), f"{mds}.1.0.0", status="X"),
        obx_fields(enc, "", _device(pump_terms.DELIVERY_INFO), f"{mds}.1.1.0", status="X"),
        _coded_row(enc, "infusing_status", f"{mds}.1.1.1", status, stamp),
        _value_row(enc, "current_flow", f"{mds}.1.1.2", flow, "mL/h", stamp),
        _coded_row(enc, "active_sources", f"{mds}.1.1.3", "pump-source-info-primary", stamp),
        _coded_row(enc, "pump_status", f"{mds}.1.1.4", _PUMP_STAT[r.state or "stopped"], stamp),
        obx_fields(enc, "", _device(pump_terms.SOURCE_PRIMARY), f"{mds}.1.2.0", status="X"),
        _coded_row(enc, "delivery_status", f"{mds}.1.2.1", delivery, stamp),
    ]
    reason = _REASONS.get(r.state or "") if not (delivering or pump.transitioning) else None
    if reason:
        rows.append(_coded_row(enc, "not_delivering_reason", f"{mds}.1.2.2", reason, stamp))
    mode = "pump-program-delivery-mode-continuous"
    rows.append(_coded_row(enc, "delivery_mode", f"{mds}.1.2.3", mode, stamp))
    label = enc.escape_text(pump.label)
    rows.append(obx_fields(enc, "ST", _device(pump_terms.SOURCE_LABEL), f"{mds}.1.2.4", label))
    metric = 5
    for field, value_type, value, unit in values:
        if value is None:
            continue
        containment = f"{mds}.1.2.{metric}"
        metric += 1
        if value_type == "ST":
            rows.append(
                obx_fields(enc, "ST", _ident(field), containment, enc.escape_text(str(value)))
            )
        else:
            assert isinstance(value, float | int)
            rows.append(_value_row(enc, field, containment, float(value), unit, stamp))
    return rows


def _coded_row(enc: Encoding, field: Field, containment: str, text: str, stamp: str) -> list[str]:
    value = enc.component + enc.escape_text(text)  # CWE with text only, as IPEC writes it
    return obx_fields(enc, "CWE", _ident(field), containment, value, time=stamp)


def _value_row(
    enc: Encoding, field: Field, containment: str, value: float, unit: str, stamp: str
) -> list[str]:
    c = enc.component
    obx6 = c.join(enc.escape_text(u) for u in mdc.obx6_for("", unit)).rstrip(c)
    return obx_fields(enc, "NM", _ident(field), containment, format_value(value), obx6, time=stamp)


def _remaining(r: PumpReading) -> float | None:
    if r.vtbi_ml is None or r.volume_infused_ml is None:
        return None
    return max(0.0, round(r.vtbi_ml - r.volume_infused_ml, 3))


def _drug_rows(r: PumpReading, delivering: bool) -> list[tuple[Field, str, object, str]]:
    """Concentration (mg/mL; vasopressin U/mL) and the dose rate the pump computes."""
    code = VASOPRESSOR_CODES.get(r.drug or "")
    if r.concentration_ug_ml is None or code is None:
        return []
    rate = (r.rate_ml_h or 0.0) if delivering else 0.0
    per_min = round(rate * r.concentration_ug_ml / 60.0, 6)
    if PARAMETERS[code].unit == "U/min":
        return [
            ("concentration", "NM", r.concentration_ug_ml, "U/mL"),
            ("dose_rate", "NM", per_min, "U/min"),
        ]
    return [
        ("concentration", "NM", round(r.concentration_ug_ml / 1000.0, 6), "mg/mL"),
        ("dose_rate", "NM", per_min, "ug/min"),
    ]


def _message(
    header: Header, trigger: str, now: datetime, at: datetime, rows: list[list[str]]
) -> bytes:
    enc = Encoding()
    c = enc.component
    profile = {"R01": PCD_01_PROFILE, "R42": PCD_10_PROFILE, "R40": PCD_04_PUMP_PROFILE}[trigger]
    obr4 = (
        c.join((str(mdc.EVT_ALARM), mdc.EVT_ALARM_NAME, "MDC"))
        if trigger == "R40"
        else c.join(MONITORING_OF_PATIENT)
    )
    return oru_message(
        enc,
        rows,
        sending_app=header.sending_app,
        sending_facility=header.sending_facility,
        now=now,
        control_id=header.control_id,
        trigger=trigger,
        patient=header.patient,
        location=header.location,
        obr4=obr4,
        observed=format_dtm(at),
        structure="ORU_R01" if trigger == "R42" else "",  # IPEC: ORU^R42^ORU_R01
        profile=profile,
    )
