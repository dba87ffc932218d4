"""The messages the outbound senders queue: exact bytes for one alert's start, acknowledgement
and end (written by hand from the IHE PCD ACM layout), and every kind parsed by hl7apy."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace
from datetime import timedelta

import pytest
from factories import T0, make_alert
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message, parse_segment

from app.outbound.config import EndpointConfig, Kind
from app.outbound.messages import (
    about_endpoint,
    alert_items,
    alert_message,
    endpoint_rule,
    numerics_item,
    signature,
)
from core.model import AlertState, Category, Phase, Priority
from core.records import alert_from_record
from drivers.hl7.message import parse_message as our_parse
from drivers.hl7.pcd import decode_report

AM = EndpointConfig(name="am", kind=Kind.PCD_04, address="127.0.0.1:2575", line=1, facility="ICU")
EHR = replace(AM, name="ehr", kind=Kind.PCD_01)
HOOK = replace(AM, name="pager", kind=Kind.WEBHOOK, address="http://x/", secret_env="K")

START = make_alert(seq=7)
ACKED = replace(
    START,
    seq=8,
    phase=Phase.ACK,
    state=AlertState.ACKNOWLEDGED,
    t=T0 + timedelta(minutes=2),
    acked_by="nurse1",
    acked_at=T0 + timedelta(minutes=2),
)
ENDED = replace(
    ACKED,
    seq=9,
    phase=Phase.END,
    state=AlertState.RESOLVED,
    t=T0 + timedelta(minutes=10),
    ended_at=T0 + timedelta(minutes=10),
)

HEAD = "MSH|^~\\&|IAEWATCH|ICU|||{t}||ORU^R40^ORU_R40|{id}|P|2.6|||AL|NE||UNICODE UTF-8|||IHE_PCD_ACM_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.4.1^ISO"  # noqa: E501
BODY = """PID|||S-001^^^^MR||^^^^^^U
PV1||I|ICU^^ICU-1
OBR|1||alert-1^IAEWATCH|196616^MDC_EVT_ALARM^MDC|||20260301080000+0000
OBX|1|CWE|196616^MDC_EVT_ALARM^MDC|1.0.0.0.1|^MDC_EVT_LO^MDC^hypoxemia^SpO2 86 % (baseline 95 %)^99IAEW|||PM~SP|||R|||{t}
OBX|2|ST|68481^MDC_ATTR_EVENT_PHASE^MDC|1.0.0.0.2|{phase}||||||R
OBX|3|ST|68482^MDC_ATTR_ALARM_STATE^MDC|1.0.0.0.3|{state}||||||R
OBX|4|ST|68483^MDC_ATTR_ALARM_INACTIVATION_STATE^MDC|1.0.0.0.4|{inactivation}||||||R
OBX|5|ST|68484^MDC_ATTR_ALARM_PRIORITY^MDC|1.0.0.0.5|PM||||||R
OBX|6|ST|68485^MDC_ATTR_ALERT_TYPE^MDC|1.0.0.0.6|SP||||||R
OBX|7|TX|evidence^alert evidence^99IAEW|1.0.0.0.7|SpO2 86 % (baseline 95 %) \\F\\ MDC_PULS_OXIM_SAT_O2=86; baseline=95||||||R"""  # noqa: E501

EXPECTED = [
    (START, "A7", "20260301080000+0000", "start", "active", "enabled"),
    (ACKED, "A8", "20260301080200+0000", "update", "active", "alert-acknowledged"),
    (ENDED, "A9", "20260301081000+0000", "end", "inactive", "alert-acknowledged"),
]


def _text(head: str, t: str, **kw: str) -> bytes:
    lines = [head, *BODY.format(t=t, **kw).splitlines()]
    return ("\r".join(lines) + "\r").encode()


@pytest.mark.parametrize(("alert", "cid", "t", "phase", "state", "inact"), EXPECTED)
def test_pcd04_start_ack_end_exact_bytes(
    alert: object, cid: str, t: str, phase: str, state: str, inact: str
) -> None:
    [item] = alert_items(alert, "S-001", (AM,))  # type: ignore[arg-type]
    expected = _text(HEAD.format(t=t, id=cid), t, phase=phase, state=state, inactivation=inact)
    assert item.payload.encode() == expected
    assert item.control_id == cid


def test_an_ended_alert_nobody_acknowledged_is_latched() -> None:
    ended = replace(START, seq=3, phase=Phase.END, state=AlertState.RESOLVED, ended_at=T0)
    report = decode_report(our_parse(alert_message(ended, AM, "", "A3", "R40")))
    [alarm] = report.alarms
    assert (alarm.phase, alarm.state, alarm.inactivation) == ("end", "latched", "enabled")


def test_our_own_decoder_reads_what_we_send() -> None:
    vt = make_alert(
        seq=4,
        category=Category.ARRHYTHMIA,
        priority=Priority.HIGH,
        evidence={"rhythm": "asystole"},
        message="Asystole",
    )
    report = decode_report(our_parse(alert_message(vt, AM, "S-9", "A4", "R40")))
    assert report.is_alarm and report.patient_id == "S-9" and report.header.control_id == "A4"
    [alarm] = report.alarms
    assert alarm.code == 199684 and alarm.rhythm == "asystole"
    assert (alarm.priority, alarm.kind, alarm.phase, alarm.state) == ("PH", "SP", "start", "active")


def _hl7apy_checks(raw: str, structure: str) -> None:
    """hl7apy reads the message; each segment validates strictly against HL7 2.6, and the
    whole validates strictly as `structure` (hl7apy has no ORU_R40 in any version: IHE ACM
    gives ORU^R40 the ORU_R01 layout, so an R40 is checked as that)."""
    tolerant = parse_message(raw, find_groups=False)
    assert tolerant.msh.msh_10.to_er7()
    for seg in raw.strip("\r").split("\r"):
        parse_segment(seg, version="2.6", validation_level=VALIDATION_LEVEL.STRICT).validate()
    code, trigger = structure.split("_")
    as_structure = raw.replace("ORU^R40^ORU_R40", f"{code}^{trigger}^{structure}")
    strict = parse_message(as_structure, validation_level=VALIDATION_LEVEL.STRICT)
    assert strict.name == structure
    assert strict.validate()


@pytest.mark.parametrize("alert", [START, ACKED, ENDED])
@pytest.mark.parametrize("ep", [AM, EHR])
def test_every_alert_message_parses_with_hl7apy(alert: object, ep: EndpointConfig) -> None:
    [item] = alert_items(alert, "S-001", (ep,))  # type: ignore[arg-type]
    _hl7apy_checks(item.payload, "ORU_R01")


def test_numerics_message_parses_with_hl7apy_and_carries_mdc_codes_and_ucum() -> None:
    values = {"MDC_PULS_OXIM_SAT_O2": 94.0, "MDC_ECG_HEART_RATE": 88.0}
    item = numerics_item(EHR, "ICU-1", "S-001", values, T0)
    _hl7apy_checks(item.payload, "ORU_R01")
    assert "150456^MDC_PULS_OXIM_SAT_O2^MDC" in item.payload
    assert "^%^%^UCUM" in item.payload and "PCD_DEC_001" in item.payload
    report = decode_report(our_parse(item.payload))
    assert {m.code: m.value for m in report.metrics} == values
    assert item.control_id == "NICU-1.20260301080000"


def test_webhook_body_is_the_alert_record_and_the_signature_is_hmac_sha256() -> None:
    [item] = alert_items(ACKED, "S-001", (HOOK,))
    assert alert_from_record(json.loads(item.payload)) == ACKED
    body = item.payload.encode()
    expected = hmac.new(b"k3y", body, hashlib.sha256).hexdigest()
    assert signature(b"k3y", body) == f"sha256={expected}"


def test_one_message_per_endpoint_with_the_transition_seq_as_control_id() -> None:
    items = alert_items(START, "", (AM, EHR, HOOK))
    assert [(i.endpoint, i.control_id, i.seq) for i in items] == [
        ("am", "A7", 7),
        ("ehr", "A7", 7),
        ("pager", "A7", 7),
    ]
    assert "ORU^R01^ORU_R01" in items[1].payload and "PCD_DEC_001" in items[1].payload
    with pytest.raises(ValueError, match="seq"):
        alert_items(replace(START, seq=None), "", (AM,))


def test_an_endpoints_own_technical_alert_goes_to_the_others_only() -> None:
    own = make_alert(seq=12, category=Category.TECHNICAL, rule=endpoint_rule("backlog", "am"))
    assert about_endpoint(own.rule) == "am" and about_endpoint("spo2_low") is None
    assert [i.endpoint for i in alert_items(own, "", (AM, EHR, HOOK))] == ["ehr", "pager"]
