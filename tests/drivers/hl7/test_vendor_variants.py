"""Vendor variants and demo data, from fixtures written after public samples (fixtures/SOURCES.md):
what the receiver answers and what reaches the bus."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from core.model import Category, DeviceEvent, Observation, ValueStatus
from drivers.hl7.message import parse_message
from drivers.hl7.receiver import Hl7Receiver
from monitors.engine.factory import build_engine

FIXTURES = Path(__file__).parent / "fixtures"
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 1, 8, 0, 30, tzinfo=UTC)


def receiver(**kw: object) -> Hl7Receiver:
    beds = {"ICU^^79874": "ICU-1", "ICU^^3": "ICU-3", "GE_Mural_DH_NM": "ICU-B1"}
    return Hl7Receiver(bed_map=beds, device_id="hl7", assume_tz=SHANGHAI, **kw)  # type: ignore[arg-type]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def events(outputs: tuple[object, ...], name: str) -> list[DeviceEvent]:
    return [o for o in outputs if isinstance(o, DeviceEvent) and o.event == name]


def test_ge_co2_variants_and_a_code_name_conflict() -> None:
    out = receiver().receive(fixture("ge_b1x5_co2.hl7"), NOW)
    obs = [o for o in out.outputs if isinstance(o, Observation)]
    etco2 = [o.value for o in obs if o.code == "MDC_AWAY_CO2_ET"]
    assert etco2 == [41.0, 40.0]  # 151712 (GE) and 151708, both EtCO2
    assert not [o for o in obs if o.code == "MDC_PULS_OXIM_SAT_O2"]  # 150456 not guessed
    (odd,) = [o for o in obs if o.code == "150456^MDC_CO2_ET"]
    assert odd.status is ValueStatus.QUESTIONABLE
    (flag,) = events(out.outputs, "device_code_conflict")
    assert flag.fields["reason"] == (
        "150456 is MDC_PULS_OXIM_SAT_O2, MDC_CO2_ET is not MDC_PULS_OXIM_SAT_O2"
    )
    # no offset in MSH-7 / OBR-7: the site's zone (16:00 Shanghai = 08:00 UTC), never UTC
    assert {o.t for o in obs} == {datetime(2026, 3, 1, 8, 0, tzinfo=UTC)}
    # MSH-15 NE, MSH-16 AL: no accept ack, one application ack AA
    assert out.acks == (out.ack,)
    assert parse_message(out.ack).first("MSA").field(1) == "AA"  # type: ignore[union-attr]
    again = receiver().receive(fixture("ge_b1x5_co2.hl7"), NOW)
    assert len(events(again.outputs, "device_code_conflict")) == 1  # once per receiver and row


def test_mural_advisory_is_a_device_alarm_with_its_facets() -> None:
    out = receiver().receive(fixture("mural_advisory_r40.hl7"), NOW)
    (alarm,) = events(out.outputs, "device_alarm")
    assert alarm.bed == "ICU-B1"
    assert alarm.fields["alarm"] == "MDCX_EVT_ALERT_ADVISORY"
    assert alarm.fields["text"] == "HYPERTENSION-Alert Recheck BP"
    assert (alarm.fields["priority"], alarm.fields["kind"]) == ("PM", "SA")
    assert (alarm.fields["phase"], alarm.fields["state"]) == ("update", "active")
    assert alarm.fields["alert_source"] == "GE_Mural_DH_NM"
    assert not events(out.outputs, "arrhythmia")


def test_acm_keepalive_is_link_health_not_an_alarm() -> None:
    rc = receiver()
    out = rc.receive(fixture("acm_keepalive_r40.hl7"), NOW)
    assert out.code == "AA" and out.outputs == ()
    assert rc.keepalives == 1


def test_demo_and_test_data_never_feed_the_rules() -> None:
    rc = receiver()
    for name, reason in (
        ("demo_training_r01.hl7", "MSH-11 processing id T"),
        ("demo_flag_r01.hl7", "OBX-8 DEMO"),
    ):
        rc = receiver()
        out = rc.receive(fixture(name), NOW)
        assert out.code == "AA"
        assert not [o for o in out.outputs if isinstance(o, Observation)]
        (demo,) = events(out.outputs, "device_demo_mode")
        assert (demo.bed, demo.fields["active"], demo.fields["reason"]) == ("ICU-3", True, reason)
        assert events(rc.receive(fixture(name), NOW).outputs, "device_demo_mode") == []
    real = fixture("demo_flag_r01.hl7").replace(b"||DEMO|||R", b"|||||R")
    out = rc.receive(real, NOW + timedelta(seconds=1))
    (back,) = events(out.outputs, "device_demo_mode")
    assert back.fields["active"] is False
    assert [o.code for o in out.outputs if isinstance(o, Observation)] == ["MDC_ECG_HEART_RATE"]


def test_pcd04_reply_per_sender() -> None:
    rc = receiver(pcd04_reply={"GE_Mural_DH_NM": "ACK^R40"})
    assert parse_message(rc.receive(fixture("mural_advisory_r40.hl7"), NOW).ack).message_type == (
        "ACK",
        "R40",
        "ACK",
    )
    other = rc.receive(fixture("acm_keepalive_r40.hl7"), NOW)
    assert parse_message(other.ack).message_type == ("ORA", "R41", "ORA_R41")


def test_demo_mode_is_a_technical_alert_in_the_shipped_rules() -> None:
    rc = receiver()
    engine = build_engine()
    demo = rc.receive(fixture("demo_training_r01.hl7"), NOW).outputs
    started = [a for o in demo for a in engine.feed(o)]
    assert [(a.rule, a.category, a.phase.value) for a in started] == [
        ("device_demo_mode", Category.TECHNICAL, "start")
    ]
    real = fixture("demo_training_r01.hl7").replace(b"|DEMO-1|T|", b"|REAL-1|P|")
    ended = [
        a for o in rc.receive(real, NOW + timedelta(seconds=2)).outputs for a in engine.feed(o)
    ]
    assert [(a.rule, a.phase.value) for a in ended] == [("device_demo_mode", "end")]
