"""Pumps over HL7: pump server messages written by hand from the IHE PCD Technical Framework
(fixtures/SOURCES.md) are valid HL7 to an independent parser and become exactly what the
Modbus pump driver emits for the same pump."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hl7apy import parser as hl7apy_parser
from hl7apy.consts import VALIDATION_LEVEL

from core.model import DeviceEvent, Observation
from drivers.hl7 import pump_terms
from drivers.hl7.message import parse_message
from drivers.hl7.pcd_write import Patient
from drivers.hl7.pump import drug_of_label
from drivers.hl7.pump_feed import PumpSource
from drivers.hl7.pump_write import Header, PumpOut, build_pump_r01, build_pump_r40, build_pump_r42
from drivers.hl7.receiver import Hl7Receiver
from drivers.modbus.codec import PumpReading
from drivers.modbus.pump_events import Evt, PumpInterpreter

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2015, 10, 16, 12, 0, tzinfo=UTC)
PUMP_FIXTURES = (
    "ipec_deliv_start_r42.hl7",
    "ipec_deliv_stop_alarm_r42.hl7",
    "tf2_pump_occlusion_r40.hl7",
    "ipec_deliv_comp_r42.hl7",
    "tf3_pump_status_r01.hl7",
)
# the IPEC sample's pump and the TF-2 occlusion example's pump share EUI-64 0012210000000000;
# it is a dopamine pump, so only its identifier makes it the study pump here
STUDY = PumpSource(device_id="pump-study", ids=("0012210000000000",))
BEDS = {"3 West ICU^3002^1": "ICU-7", "PAT_DEVICE_BBRAUN": "ICU-7", "ICU^^7": "ICU-8"}


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def strict(message: bytes) -> None:
    """hl7apy in strict mode: every segment against HL7 2.6, and the whole message as
    ORU_R01 (IPEC's structure for R42; IHE ACM gives ORU^R40 the ORU_R01 layout, and hl7apy
    has no ORU_R40)."""
    text = message.decode()
    for line in text.strip("\r").split("\r"):
        segment = hl7apy_parser.parse_segment(
            line, version="2.6", validation_level=VALIDATION_LEVEL.STRICT
        )
        assert segment.validate()
    as_r01 = text.replace("ORU^R40^ORU_R40", "ORU^R01^ORU_R01")
    whole = hl7apy_parser.parse_message(as_r01, validation_level=VALIDATION_LEVEL.STRICT)
    assert whole.name == "ORU_R01"
    assert whole.validate()


def receiver(*sources: tuple[str, PumpSource]) -> Hl7Receiver:
    pumps: dict[str, list[PumpSource]] = {}
    for bed, source in sources or (("ICU-7", STUDY),):
        pumps.setdefault(bed, []).append(source)
    # the fixtures carry their sources' dates (2012, 2015): take their times as they are
    return Hl7Receiver(
        bed_map=BEDS, device_id="hl7", pumps=pumps, past_tolerance=1e10, future_tolerance=1e10
    )


def events(outputs: tuple[object, ...]) -> list[tuple[str, dict[str, object]]]:
    return [(o.event, o.fields) for o in outputs if isinstance(o, DeviceEvent)]


def values(outputs: tuple[object, ...]) -> dict[str, float | None]:
    return {o.code: o.value for o in outputs if isinstance(o, Observation)}


@pytest.mark.parametrize("name", PUMP_FIXTURES)
def test_each_fixture_is_strict_hl7(name: str) -> None:
    strict(fixture(name))


def test_an_ipec_infusion_gives_the_modbus_drivers_events_at_the_pumps_times() -> None:
    r = receiver()
    sequence = [r.receive(fixture(name), NOW) for name in PUMP_FIXTURES[:4]]
    assert [o.code for o in sequence] == ["AA"] * 4
    start, stop, occlusion, complete = (o.outputs for o in sequence)
    # the same readings polled from a Modbus pump give the same events
    modbus = PumpInterpreter(role="study")
    readings = [
        PumpReading(rate_ml_h=15.4, vtbi_ml=250.0, volume_infused_ml=0.0, state="running"),
        PumpReading(rate_ml_h=15.4, vtbi_ml=250.0, volume_infused_ml=10.3, state="alarm"),
        PumpReading(
            rate_ml_h=15.4,
            vtbi_ml=250.0,
            volume_infused_ml=10.3,
            state="alarm",
            alarms=frozenset({"occlusion"}),
        ),
        PumpReading(
            rate_ml_h=15.4,
            vtbi_ml=250.0,
            volume_infused_ml=250.0,
            state="completed",
            alarms=frozenset({"occlusion", "end_of_infusion"}),
        ),
    ]
    for outputs, reading in zip((start, stop, occlusion, complete), readings, strict=True):
        expected = [(e.name, e.fields) for e in modbus.interpret(reading) if isinstance(e, Evt)]
        got = [(n, {k: v for k, v in f.items() if k != "time_source"}) for n, f in events(outputs)]
        assert got == expected
    assert values(start) == {
        "MDC_FLOW_FLUID_PUMP": 15.4,
        "MDC_VOL_FLUID_DELIV": 0.0,
        "MDC_VOL_FLUID_TBI": 250.0,
    }
    (infusion_start,) = [
        o for o in start if isinstance(o, DeviceEvent) and o.event == "infusion_start"
    ]
    assert infusion_start.fields == {
        "weight_kg": None,
        "volume_ml": 250.0,
        "planned_min": 974.0,  # the sample's own MDC_TIME_PD_REMAIN
        "rate_ml_h": 15.4,
        "time_source": "pump",
    }
    # OBX-3 MDC_ATTR_EVT_COND's time: OBR-7, when the pump started (-0500)
    assert infusion_start.t == datetime(2015, 10, 15, 18, 21, 6, tzinfo=UTC)
    assert infusion_start.device == "pump-study" and infusion_start.bed == "ICU-7"
    (end,) = [o for o in complete if isinstance(o, DeviceEvent) and o.event == "infusion_end"]
    assert end.t == datetime(2015, 10, 16, 10, 59, 58, tzinfo=UTC)


def test_a_pcd01_status_gives_the_vasopressor_dose_and_claims_no_start_mid_programme() -> None:
    norepi = PumpSource(device_id="pump-norepi", role="vasopressor", drug="norepinephrine")
    out = receiver(("ICU-8", norepi)).receive(fixture("tf3_pump_status_r01.hl7"), NOW)
    assert out.code == "AA"
    # 12 mL/h of 64 ug/mL: 12.8 ug/min, as the pump's own MDC_FLOW_DRUG_DELIV says
    assert values(out.outputs) == {"IAEW_DOSE_NOREPINEPHRINE": 12.8}
    # a norepinephrine-labelled pump is never taken for the study pump unless its EUI-64 says so
    unbound = receiver(("ICU-8", PumpSource(device_id="pump-study")))
    assert not unbound.receive(fixture("tf3_pump_status_r01.hl7"), NOW).outputs
    assert unbound.pumps.unmatched == 1
    study = receiver(("ICU-8", PumpSource(device_id="pump-study", ids=("0012210000000777",))))
    got = study.receive(fixture("tf3_pump_status_r01.hl7"), NOW)
    assert events(got.outputs) == [
        (
            "pump_program",
            {"state": "running", "rate_ml_h": 12.0, "vtbi_ml": None, "volume_infused_ml": 2.0},
        )
    ]  # 2 mL already in: the start was earlier and is not this message's to claim


def test_a_dose_rate_without_concentration_still_gives_the_dose() -> None:
    raw = b"\r".join(
        line
        for line in fixture("ipec_deliv_start_r42.hl7").split(b"\r")
        if b"MDC_CONC_DRUG" not in line
    )
    dopamine = PumpSource(
        device_id="pump-dopa", role="vasopressor", drug="dopamine", weight_kg=lambda: 82.0
    )
    out = receiver(("ICU-7", dopamine)).receive(raw, NOW)
    (dose,) = [o for o in out.outputs if isinstance(o, Observation)]
    assert (dose.code, dose.unit) == ("IAEW_DOSE_DOPAMINE", "ug/kg/min")
    assert dose.value == pytest.approx(5.0, abs=1e-3)  # the pump's MDC_RATE_DOSE


def test_a_bed_without_a_pump_source_refuses_a_pump_servers_message() -> None:
    r = Hl7Receiver(bed_map=BEDS, device_id="hl7")
    out = r.receive(fixture("ipec_deliv_start_r42.hl7"), NOW)
    assert out.code == "AR" and "no hl7-pump source" in out.reason
    assert not out.outputs
    accepted = receiver().receive(fixture("ipec_deliv_start_r42.hl7"), NOW)
    ack = parse_message(accepted.ack)
    assert ack.message_type[:2] == ("ACK", "R42")
    assert ack.first("MSA").field(2) == "6358051206735492253"  # type: ignore[union-attr]


def test_pumps_at_one_bed_are_told_apart_by_identifier_then_drug() -> None:
    study = PumpSource(device_id="pump-study", ids=("0A5A1A0000000001",))
    norepi = PumpSource(device_id="pump-norepi", role="vasopressor", drug="norepinephrine")
    r = Hl7Receiver(bed_map={"ICU^^1": "ICU-1"}, device_id="hl7", pumps={"ICU-1": [study, norepi]})
    now = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    header = Header(control_id="P1", location="ICU^^1", patient=Patient(id="S1"))
    saline = PumpReading(rate_ml_h=100.0, vtbi_ml=75.0, volume_infused_ml=0.0, state="running")
    drug = PumpReading(
        rate_ml_h=10.0,
        vtbi_ml=50.0,
        volume_infused_ml=3.0,
        state="running",
        drug="norepinephrine",
        concentration_ug_ml=64.0,
    )
    other = PumpReading(rate_ml_h=5.0, state="running", drug="propofol")
    pumps = [
        PumpOut(reading=saline, eui64="0A5A1A0000000001"),
        PumpOut(reading=drug, eui64="0A5A1A0000000002"),
        PumpOut(reading=other, eui64="0A5A1A0000000003"),
    ]
    out = r.receive(build_pump_r01(pumps, header, now=now), now)
    by_device = {(o.device, getattr(o, "code", "") or getattr(o, "event", "")) for o in out.outputs}
    assert ("pump-study", "infusion_start") in by_device
    assert ("pump-norepi", "IAEW_DOSE_NOREPINEPHRINE") in by_device
    assert r.pumps.unmatched == 1  # the propofol pump: no source at this bed
    # an alarm carrying only the pump's identifier reaches the pump it names
    alarm = build_pump_r40("occlusion", "start", "0A5A1A0000000002", header, now=now)
    got = r.receive(alarm, now)
    (ev,) = [o for o in got.outputs if isinstance(o, DeviceEvent)]
    assert (ev.device, ev.event, ev.fields) == ("pump-norepi", "pump_alarm", {"kind": "occlusion"})
    dose = [o.value for o in got.outputs if isinstance(o, Observation)]
    assert dose == [0.0]  # an occluded pump delivers nothing


def test_demo_data_from_a_pump_server_is_not_a_programme() -> None:
    raw = fixture("ipec_deliv_start_r42.hl7").replace(b"|P|2.6|", b"|T|2.6|", 1)
    out = receiver().receive(raw, NOW)
    assert out.code == "AA"
    assert [name for name, _ in events(out.outputs)] == ["device_demo_mode"]


def test_written_messages_are_strict_hl7_and_read_back() -> None:
    now = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    header = Header(control_id="P2", location="ICU^^1", patient=Patient(id="S1"))
    vaso = PumpReading(rate_ml_h=3.0, state="running", drug="vasopressin", concentration_ug_ml=0.4)
    pump = PumpOut(reading=vaso, eui64="0A5A1A0000000009")
    messages = [
        build_pump_r42(
            pump_terms.DELIV_START, pump, header, now=now, at=now - timedelta(seconds=5)
        ),
        build_pump_r01([pump], header, now=now),
        build_pump_r40("door_open", "end", "0A5A1A0000000009", header, now=now),
    ]
    for m in messages:
        strict(m)
    source = PumpSource(device_id="pump-vaso", role="vasopressor", drug="vasopressin")
    r = Hl7Receiver(bed_map={"ICU^^1": "ICU-1"}, device_id="hl7", pumps={"ICU-1": [source]})
    out = r.receive(messages[0], now)
    assert values(out.outputs) == {"IAEW_DOSE_VASOPRESSIN": 0.02}  # 3 mL/h x 0.4 U/mL


def test_an_alarm_from_an_unknown_pump_binds_no_source() -> None:
    r = receiver(("ICU-7", PumpSource(device_id="pump-study")))
    alarm = r.receive(fixture("tf2_pump_occlusion_r40.hl7"), NOW)
    assert alarm.code == "AA" and not alarm.outputs  # an alarm names no drug: not guessed
    start = r.receive(fixture("ipec_deliv_start_r42.hl7"), NOW)
    assert not start.outputs  # a dopamine pump is no study pump without its EUI-64
    assert r.pumps.unmatched == 2


@pytest.mark.parametrize(
    ("label", "drug"),
    [
        ("NORepinephrine 4 mg/250 mL", "norepinephrine"),  # tall-man lettering, strength
        ("Noradrenaline", "norepinephrine"),  # British Approved Name
        ("Adrenaline 1mg/ml", "epinephrine"),
        ("Dopamine", "dopamine"),
        ("Propofol 1%", "propofol 1%"),  # not a vasopressor: kept as labelled
        ("  ", None),
    ],
)
def test_a_pumps_label_names_its_drug(label: str, drug: str | None) -> None:
    assert drug_of_label(label) == drug


def test_a_pump_labelled_with_another_vasopressor_gives_no_dose_and_says_why() -> None:
    norepi = PumpSource(
        device_id="pump-norepi", role="vasopressor", drug="norepinephrine", ids=("E0002",)
    )
    r = receiver(("ICU-7", norepi))
    first = r.receive(fixture("ipec_deliv_start_r42.hl7"), NOW)
    assert [o.event for o in first.outputs if isinstance(o, DeviceEvent)] == [
        "device_code_conflict"
    ]
    (conflict,) = first.outputs
    assert isinstance(conflict, DeviceEvent)
    assert conflict.fields == {
        "device": "pump-norepi",
        "obx3": "MDC_DRUG_NAME_LABEL",
        "reason": "configured norepinephrine, the pump is labelled dopamine: no dose is computed",
    }
    again = r.receive(fixture("ipec_deliv_comp_r42.hl7"), NOW)
    assert not again.outputs  # said once; never a norepinephrine dose from a dopamine pump


def test_each_channel_of_a_multichannel_pump_is_its_own_pump() -> None:
    study = PumpSource(device_id="pump-study", ids=("0012210000000888",))
    norepi = PumpSource(device_id="pump-norepi", role="vasopressor", drug="norepinephrine")
    r = receiver(("ICU-8", study), ("ICU-8", norepi))
    raw = fixture("tf3_two_channel_r01.hl7")
    strict(raw)
    out = r.receive(raw, NOW)
    by_device: dict[str, dict[str, float | None]] = {}
    for o in out.outputs:
        if isinstance(o, Observation):
            by_device.setdefault(o.device, {})[o.code] = o.value
    assert by_device == {
        "pump-study": {"MDC_FLOW_FLUID_PUMP": 150.0, "MDC_VOL_FLUID_DELIV": 0.5},
        "pump-norepi": {"IAEW_DOSE_NOREPINEPHRINE": 10.6667},  # 10 mL/h of 64 ug/mL
    }
    (start,) = [
        o for o in out.outputs if isinstance(o, DeviceEvent) and o.event == "infusion_start"
    ]
    assert start.device == "pump-study" and start.fields["rate_ml_h"] == 150.0
    # the next report: the channels stay apart by identifier alone (channel 2 bound as …:2)
    again = r.receive(raw.replace(b"|NORepinephrine 16 mg/250 mL|", b"||"), NOW)
    doses = [
        o.value for o in again.outputs if isinstance(o, Observation) and o.device == "pump-norepi"
    ]
    assert doses == [10.6667] and r.pumps.unmatched == 0
