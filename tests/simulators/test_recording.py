"""Scenario → recorded stream (JSON Lines): parseable, time-sorted, with the scenario's story."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest

from core.model import DeviceEvent, EventSource, Observation
from core.records import parse_record
from simulators.recording import DEFAULT_INFUSION_AT, record_file, records, write_recording
from simulators.scenario import SCENARIO_DIR, load_scenario, parse_scenario

T0 = DEFAULT_INFUSION_AT


def _record(name: str, *, hours: float, period: float = 10.0) -> list[Observation | DeviceEvent]:
    """Render a shipped scenario to text and parse every line back."""
    buf = io.StringIO()
    write_recording(
        load_scenario(SCENARIO_DIR / f"{name}.yaml"), buf, until_s=hours * 3600, period=period
    )
    return [parse_record(line, line=n) for n, line in enumerate(buf.getvalue().splitlines(), 1)]


def _values(recs: list[Observation | DeviceEvent], code: str) -> list[tuple[float, float]]:
    return [
        ((r.t - T0).total_seconds(), r.value)
        for r in recs
        if isinstance(r, Observation) and r.code == code and r.value is not None
    ]


def _events(recs: list[Observation | DeviceEvent], name: str) -> list[DeviceEvent]:
    return [r for r in recs if isinstance(r, DeviceEvent) and r.event == name]


def test_stream_starts_with_the_baseline_is_sorted_and_well_formed() -> None:
    recs = _record("quiet_control", hours=1.5, period=5.0)
    times = [r.t for r in recs]
    assert times == sorted(times)
    assert recs[0].t == T0 - timedelta(hours=1)  # quiet_control starts at -1h
    assert {r.bed for r in recs} == {"ICU-1"}
    connected = _events(recs, "device_connected")
    assert [e.device for e in connected] == ["monitor", "ventilator", "pump"]
    assert all(e.source is EventSource.DRIVER for e in connected)
    by_device = {r.device for r in recs if isinstance(r, Observation)}
    assert by_device == {"monitor", "ventilator", "pump:study"}
    spo2 = _values(recs, "MDC_PULS_OXIM_SAT_O2")
    assert [t for t, _ in spo2[:3]] == [-3600, -3595, -3590]
    assert all(o.unit == "%" for o in recs if isinstance(o, Observation) and o.code.endswith("O2"))


def test_cuff_pressure_is_recorded_once_per_cycle() -> None:
    recs = _record("quiet_control", hours=1, period=5.0)
    nibp = _values(recs, "MDC_PRESS_BLD_NONINV_SYS")
    assert [t for t, _ in nibp] == [-3600 + 900 * k for k in range(9)]  # both ends included


def test_infusion_events_carry_the_protocol_fields() -> None:
    recs = _record("quiet_control", hours=1)
    (start,) = _events(recs, "infusion_start")
    assert start.t == T0 and start.device == "pump:study"
    assert start.fields == {"weight_kg": 70.0, "volume_ml": 100.0, "planned_min": 45.1}
    (end,) = _events(recs, "infusion_end")
    assert timedelta(minutes=45) < end.t - T0 < timedelta(minutes=45, seconds=12)
    assert [e.fields["kind"] for e in _events(recs, "pump_alarm")] == ["end_of_infusion"]
    volume = _values(recs, "MDC_VOL_FLUID_DELIV")
    assert volume[-1][1] == 100.0
    mid = [v for t, v in volume if t == 1800]
    assert mid == [pytest.approx(133 / 2, abs=0.1)]


def test_fever_scenario_temperature_crosses_38_after_onset() -> None:
    recs = _record("fever", hours=1.5)
    temp = _values(recs, "MDC_TEMP_BLD")
    before = [v for t, v in temp if t < 1800]
    after = [v for t, v in temp if 3300 <= t <= 5400]
    assert max(before) < 37.6
    assert min(after) >= 38.0
    assert max(after) == pytest.approx(38.9, abs=0.3)


def test_vasopressor_scenario_dose_crosses_10_ug_min() -> None:
    recs = _record("vasopressor_escalation", hours=2)
    dose = _values(recs, "IAEW_DOSE_NOREPINEPHRINE")
    assert {r.unit for r in recs if isinstance(r, Observation) and r.code.startswith("IAEW_")} == {
        "ug/min"
    }
    assert all(v == pytest.approx(4) for t, v in dose if t < 80 * 60)
    first_over = min(t for t, v in dose if v >= 10)
    assert first_over == 90 * 60
    assert dict(dose)[90 * 60] == pytest.approx(12)


def test_per_kg_dose_codes_are_in_ug_per_kg_per_min() -> None:
    s = parse_scenario(
        "name: epi\npatient: {weight_kg: 50}\npumps:\n"
        "  study: {volume_ml: 100, rate_ml_h: 100}\n"
        "  epi: {drug: epinephrine, concentration: 16, dose: 0.05}\n"
        "timeline:\n  - {at: +1h, do: titrate, pump: epi, dose: 0.12}\n"
    )
    recs = list(records(s, until_s=3700, period=50.0))
    dose = [r for r in recs if isinstance(r, Observation) and r.code == "IAEW_DOSE_EPINEPHRINE"]
    assert {d.unit for d in dose} == {"ug/kg/min"}
    assert dose[0].value == pytest.approx(0.05)
    assert dose[-1].value == pytest.approx(0.12)


def test_arrhythmia_and_clinician_events() -> None:
    recs = _record("arrhythmia_vt", hours=2.2)
    (vt,) = _events(recs, "arrhythmia")
    assert vt.fields == {"rhythm": "VT"} and vt.device == "monitor"
    assert vt.t == T0 + timedelta(hours=2) and vt.source is EventSource.DEVICE
    (cv,) = _events(recs, "cardioversion")
    assert cv.source is EventSource.CLINICIAN and cv.device is None
    hr = dict(_values(recs, "MDC_ECG_HEART_RATE"))
    assert hr[7200] >= 180 and hr[7380] < 130


def test_clinician_blood_gas_and_signs() -> None:
    recs = _record("transfusion_reaction", hours=0.5)
    (gas,) = _events(recs, "blood_gas")
    assert gas.source is EventSource.CLINICIAN
    assert set(gas.fields) == {"pao2_mmhg", "paco2_mmhg", "ph"}
    signs = [(e.fields["sign"], e.t - T0) for e in _events(recs, "clinical_sign")]
    assert signs == [("urticaria", timedelta(minutes=15)), ("wheeze", timedelta(minutes=20))]


def test_unplugged_device_produces_nothing_until_replugged() -> None:
    recs = _record("technical_unplug", hours=1.2)
    gone = [(e.device, e.t - T0) for e in _events(recs, "device_disconnected")]
    back = [(e.device, e.t - T0) for e in _events(recs, "device_connected") if e.t > T0]
    assert gone == [("pump", timedelta(minutes=20)), ("monitor", timedelta(hours=1))]
    assert back == [("pump", timedelta(minutes=23)), ("monitor", timedelta(hours=1, minutes=5))]
    pump_t = [t for t, _ in _values(recs, "MDC_FLOW_FLUID_PUMP")]
    assert not [t for t in pump_t if 1200 <= t < 1380]
    assert 1380 in pump_t and 1190 in pump_t
    spo2_t = [t for t, _ in _values(recs, "MDC_PULS_OXIM_SAT_O2")]
    assert not [t for t in spo2_t if 3600 <= t < 3900]
    assert 3900 in spo2_t
    assert 3600 in [t for t, _ in _values(recs, "MDC_VENT_CONC_AWAY_O2_INSP")]


def test_pulseless_rhythm_leaves_spo2_out() -> None:
    s = parse_scenario("name: vf\ntimeline:\n  - {at: +1m, do: cardiac_arrest, rhythm: VF}\n")
    recs = list(records(s, until_s=120, period=10.0))
    spo2 = [r.t - T0 for r in recs if isinstance(r, Observation) and r.code.endswith("SAT_O2")]
    assert max(spo2) == timedelta(seconds=50)
    (arrest,) = [r for r in recs if isinstance(r, DeviceEvent) and r.event == "cardiac_arrest"]
    assert arrest.source is EventSource.CLINICIAN


def test_several_beds_are_interleaved_in_time_order() -> None:
    s = load_scenario(SCENARIO_DIR / "fever.yaml").for_beds(3)
    recs = list(records(s, until_s=-1700, period=20.0))
    assert [r.t for r in recs] == sorted(r.t for r in recs)
    assert {r.bed for r in recs} == {"ICU-1", "ICU-2", "ICU-3"}
    first_t = [r.bed for r in recs if r.t == recs[0].t]
    assert first_t.index("ICU-2") > first_t.index("ICU-1")  # ties keep bed order
    spo2 = {
        bed: [r.value for r in recs if isinstance(r, Observation) and r.bed == bed]
        for bed in ("ICU-1", "ICU-2")
    }
    assert spo2["ICU-1"] != spo2["ICU-2"]  # distinct seeds


def test_same_scenario_same_bytes() -> None:
    s = load_scenario(SCENARIO_DIR / "embolism_pattern.yaml")
    a, b = io.StringIO(), io.StringIO()
    write_recording(s, a, until_s=1800, period=7.0)
    write_recording(s, b, until_s=1800, period=7.0)
    assert a.getvalue() == b.getvalue()


def test_record_file_writes_whole_files(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    s = load_scenario(SCENARIO_DIR / "quiet_control.yaml")
    n = record_file(s, out, until_s=-3000, period=30.0)
    lines = out.read_text().splitlines()
    assert n == len(lines) > 0
    assert not list(tmp_path.glob("*.part"))
    with pytest.raises(ValueError):
        record_file(s, tmp_path / "bad.jsonl", period=0)
    assert not (tmp_path / "bad.jsonl").exists()
