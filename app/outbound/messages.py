"""What each endpoint kind receives, rendered once when it is queued (sans-IO, deterministic).

A message depends only on the alert transition (or the numerics), the endpoint and the
patient id, and its control id (MSH-10) is fixed when it is queued — `A<seq>` for an alert
transition, `N<bed>.<time>` for a numerics message — so a message sent again after a lost
acknowledgement is the same message, byte for byte: a receiver deduplicates on MSH-10.

PCD-04 (IHE PCD ACM, ORU^R40 `IHE_PCD_ACM_001`), one message per transition:
- MSH-21 `drivers.hl7.pcd_write.PCD_04_PROFILE` (`IHE_PCD_ACM_001`); PID-3 the study id; PV1-3
  `<facility>^^<bed>`; OBR-3 the alert id (stable over the episode, so the alarm manager
  correlates start, updates and end); OBR-4 `196616^MDC_EVT_ALARM^MDC`; OBR-7 the onset.
- OBX 1: OBX-3 MDC_EVT_ALARM, OBX-5 the event code (an MDC event, our category as the
  alternate code `^^99IAEW`), OBX-8 priority `PH/PM/PL` and alert type `SP/ST` (IHE table
  B.8-4, "Abnormal Flags, Alert Priority"), OBX-14 the transition's time.
- OBX 2-6: event phase, alarm state, inactivation state, priority and alert type facets (the
  numbers of `drivers.hl7.mdc`, as its PCD-04 builder writes them); OBX 7: the evidence text.
PCD-01 (IHE PCD DEC, ORU^R01 `PCD_DEC_001`): numerics through `drivers.hl7.pcd_write.build_oru_r01`;
an alert as the same alarm rows under OBR-4 `monitoring of patient`.
Webhook: `core.records.alert_record` as JSON; the HMAC-SHA256 of the body, keyed with the
endpoint's secret, goes in the `X-IAEWatch-Signature: sha256=<hex>` header at send time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from app.outbound.config import EndpointConfig, Kind
from app.store._outbox import OutboxItem
from core.model import Alert, AlertState, Category, Phase, Priority
from core.records import alert_record
from drivers.hl7 import mdc
from drivers.hl7.message import Encoding, compose, format_dtm
from drivers.hl7.pcd import MONITORING_OF_PATIENT, PCD_01_PROFILE
from drivers.hl7.pcd_write import PCD_04_PROFILE, Patient, build_oru_r01

SENDING_APPLICATION = "IAEWATCH"
SIGNATURE_HEADER = "X-IAEWatch-Signature"
LOCAL_CODES = "99IAEW"
OUTBOUND_RULE_PREFIX = "outbound_"  # HL7: coding systems starting 99 are local

PRIORITY_FLAG = {Priority.HIGH: "PH", Priority.MEDIUM: "PM", Priority.LOW: "PL"}
# IHE PCD ACM event phases for our transitions; an acknowledgement is an update whose
# inactivation state becomes alert-acknowledged.
EVENT_PHASE = {
    Phase.START: "start",
    Phase.UPDATE: "update",
    Phase.ESCALATE: "escalate",
    Phase.ACK: "update",
    Phase.END: "end",
}
# MDC events for categories that are a value out of range. Names only: no second public
# source agrees on their numbers (drivers.hl7.mdc writes confirmed numbers only).
_CATEGORY_EVENT = {
    Category.FEVER: "MDC_EVT_HI",
    Category.TACHYCARDIA: "MDC_EVT_HI",
    Category.AIRWAY_PRESSURE_RISE: "MDC_EVT_HI",
    Category.HYPOTENSION: "MDC_EVT_LO",
    Category.HYPOXEMIA: "MDC_EVT_LO",
    Category.BRADYCARDIA: "MDC_EVT_LO",
}


def alert_items(
    alert: Alert, patient: str, endpoints: tuple[EndpointConfig, ...]
) -> list[OutboxItem]:
    """The messages one committed transition sends: one per endpoint (the store's router).

    An endpoint's own technical alerts (backlogged, rejected: `about_endpoint`) are not sent
    to it: they would wait behind the very queue they report on, and swell it."""
    if alert.seq is None:
        raise ValueError("an alert is queued only once committed (it has no seq)")
    control_id = f"A{alert.seq}"
    out = []
    for ep in endpoints:
        if about_endpoint(alert.rule) == ep.name:
            continue
        if ep.kind is Kind.WEBHOOK:
            payload = webhook_body(alert)
        else:
            trigger = "R40" if ep.kind is Kind.PCD_04 else "R01"
            payload = alert_message(alert, ep, patient, control_id, trigger).decode()
        out.append(
            OutboxItem(
                endpoint=ep.name,
                control_id=control_id,
                payload=payload,
                created=alert.t,
                alert_id=alert.id,
                seq=alert.seq,
            )
        )
    return out


def endpoint_rule(condition: str, endpoint: str) -> str:
    """The rule name of a technical alert about an endpoint, e.g. `outbound_backlog:am`."""
    return f"{OUTBOUND_RULE_PREFIX}{condition}:{endpoint}"


def about_endpoint(rule: str) -> str | None:
    """The endpoint a technical alert's rule is about (None: not an outbound alert)."""
    if not rule.startswith(OUTBOUND_RULE_PREFIX):
        return None
    return rule.rpartition(":")[2]


def alarm_state(alert: Alert) -> str:
    """ACM alarm state: active, latched (ended, nobody acknowledged it yet) or inactive."""
    if alert.state is not AlertState.RESOLVED:
        return "active"
    return "inactive" if alert.acked_by else "latched"


def inactivation_state(alert: Alert) -> str:
    return "alert-acknowledged" if alert.acked_by else "enabled"


def evidence_text(alert: Alert) -> str:
    """The alert's message, then its evidence as `key=value` pairs in key order."""
    pairs = "; ".join(f"{k}={_plain(v)}" for k, v in sorted(alert.evidence.items()))
    return " | ".join(p for p in (alert.message, pairs) if p)


def _plain(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _event(alert: Alert, enc: Encoding) -> str:
    """OBX-5 of the alarm row: the MDC event, with our category as the alternate code."""
    number, name = "", _CATEGORY_EVENT.get(alert.category, mdc.EVT_ALARM_NAME)
    rhythm = alert.evidence.get("rhythm")
    if alert.category is Category.ARRHYTHMIA and isinstance(rhythm, str):
        try:
            event = mdc.rhythm_event(rhythm)
        except KeyError:
            pass
        else:
            number = str(event.number) if event.number is not None else ""
            name = event.name
    if name == mdc.EVT_ALARM_NAME:
        number = str(mdc.EVT_ALARM)
    alt = (alert.category.value, alert.message or alert.rule, LOCAL_CODES)
    return enc.component.join((number, name, "MDC", *(enc.escape_text(a) for a in alt)))


def _msh(
    enc: Encoding, ep: EndpointConfig, t: datetime, control_id: str, trigger: str
) -> list[str]:
    c = enc.component
    profile = PCD_04_PROFILE if trigger == "R40" else PCD_01_PROFILE
    return [
        "MSH",
        SENDING_APPLICATION,
        enc.escape_text(ep.facility),
        "",
        "",
        format_dtm(t),
        "",
        c.join(("ORU", trigger, f"ORU_{trigger}")),
        enc.escape_text(control_id),
        "P",
        "2.6",
        "",
        "",
        "AL",  # MSH-15: accept acknowledgement always
        "NE",  # MSH-16: no application acknowledgement
        "",
        "UNICODE UTF-8",
        "",
        "",
        c.join(profile),
    ]


def _pid(enc: Encoding, patient: str) -> list[str]:
    """PID-3 the study id (type MR); PID-5, required by HL7 2.6, a name of type U(nspecified)
    (HL7 table 0200): the trial's messages carry no names."""
    c = enc.component
    pid3 = c.join((enc.escape_text(patient), "", "", "", "MR")) if patient else ""
    return ["PID", "", "", pid3, "", c * 6 + "U"]


def location(ep: EndpointConfig, bed: str, enc: Encoding) -> str:
    """PV1-3: point of care (the facility) ^ room (none) ^ bed."""
    return enc.component.join((enc.escape_text(ep.facility), "", enc.escape_text(bed)))


def alert_message(
    alert: Alert, ep: EndpointConfig, patient: str, control_id: str, trigger: str
) -> bytes:
    """The ORU^R40 (PCD-04) or ORU^R01 (PCD-01) message of one alert transition."""
    enc = Encoding()
    c, r = enc.component, enc.repetition
    alarm_id = c.join((str(mdc.EVT_ALARM), mdc.EVT_ALARM_NAME, "MDC"))
    obr4 = alarm_id if trigger == "R40" else c.join(MONITORING_OF_PATIENT)
    kind = "ST" if alert.category is Category.TECHNICAL else "SP"
    priority = PRIORITY_FLAG[alert.priority]
    t = format_dtm(alert.t)

    def attribute(n: int, number: int, name: str, value: str) -> list[str]:
        ident = c.join((str(number), name, "MDC"))
        return ["OBX", str(n), "ST", ident, f"1.0.0.0.{n}", value, "", "", "", "", "", "R"]

    segments: list[list[str]] = [
        _msh(enc, ep, alert.t, control_id, trigger),
        _pid(enc, patient),
        ["PV1", "", "I", location(ep, alert.bed, enc)],
        ["OBR", "1", "", c.join((enc.escape_text(alert.id), SENDING_APPLICATION)), obr4,
         "", "", format_dtm(alert.onset)],
        ["OBX", "1", "CWE", alarm_id, "1.0.0.0.1", _event(alert, enc), "", "",
         r.join((priority, kind)), "", "", "R", "", "", t],
        attribute(2, mdc.ATTR_EVENT_PHASE, "MDC_ATTR_EVENT_PHASE", EVENT_PHASE[alert.phase]),
        attribute(3, mdc.ATTR_ALARM_STATE, "MDC_ATTR_ALARM_STATE", alarm_state(alert)),
        attribute(4, mdc.ATTR_ALARM_INACTIVATION_STATE, "MDC_ATTR_ALARM_INACTIVATION_STATE",
                  inactivation_state(alert)),
        attribute(5, mdc.ATTR_ALARM_PRIORITY, "MDC_ATTR_ALARM_PRIORITY", priority),
        attribute(6, mdc.ATTR_ALERT_TYPE, "MDC_ATTR_ALERT_TYPE", kind),
        ["OBX", "7", "TX", c.join(("evidence", "alert evidence", LOCAL_CODES)), "1.0.0.0.7",
         enc.escape_text(evidence_text(alert)), "", "", "", "", "", "R"],
    ]  # fmt: skip
    return compose(segments, enc)


def numerics_item(
    ep: EndpointConfig, bed: str, patient: str, values: Mapping[str, float], t: datetime
) -> OutboxItem:
    """A PCD-01 numerics message for one bed's patient at `t` (values in our canonical units),
    built by `drivers.hl7.pcd_write.build_oru_r01`."""
    control_id = f"N{bed}.{t.strftime('%Y%m%d%H%M%S')}"
    enc = Encoding()
    payload = build_oru_r01(
        values,
        now=t,
        control_id=control_id,
        location=location(ep, bed, enc),
        sending_app=SENDING_APPLICATION,
        sending_facility=ep.facility,
        device_eui64=gateway_eui64(ep, bed),
        patient=Patient(id=patient),
        encoding=enc,
    )
    return OutboxItem(endpoint=ep.name, control_id=control_id, payload=payload.decode(), created=t)


def gateway_eui64(ep: EndpointConfig, bed: str) -> str:
    """OBX-18 of our numerics: iaewatch is the gateway for the bed's devices, so it names
    itself with a stable 64-bit id per facility and bed (16 hex digits)."""
    return hashlib.sha256(f"{ep.facility}/{bed}".encode()).hexdigest()[:16].upper()


def webhook_body(alert: Alert) -> str:
    """The webhook's JSON body: the one alert shape (`alert_record`), keys sorted."""
    return json.dumps(alert_record(alert), sort_keys=True, separators=(",", ":"))


def signature(secret: bytes, body: bytes) -> str:
    """The signature header's value: `sha256=` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
