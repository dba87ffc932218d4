"""The physiological patient model: determinism, coupling, noise, ramps, rhythms, pumps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.clock import VirtualClock
from core.model import EventSource
from core.params import PARAMETERS
from simulators.measurement import NOISE_BOUND
from simulators.patient import PatientModel
from simulators.physiology import inverse_severinghaus, rate_for_dose, severinghaus
from simulators.pump_state import PumpState
from simulators.source import DEFAULT_ADULT_ARDS, VitalsSource

SPO2, HR, PULSE = "MDC_PULS_OXIM_SAT_O2", "MDC_ECG_HEART_RATE", "MDC_PULS_OXIM_PULS_RATE"
SYS, DIA, MAP = "MDC_PRESS_BLD_ART_SYS", "MDC_PRESS_BLD_ART_DIA", "MDC_PRESS_BLD_ART_MEAN"
TEMP, ETCO2 = "MDC_TEMP_BLD", "MDC_AWAY_CO2_ET"
PEAK, PLAT = "MDC_PRESS_AWAY_INSP_PEAK", "MDC_PRESS_RESP_PLAT"
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)  # the vclock fixture's start


def step(clock: VirtualClock, seconds: float) -> None:
    clock.set(clock.now() + timedelta(seconds=seconds))


def model(clock: VirtualClock, seed: int = 7, **kw: object) -> PatientModel:
    return PatientModel(clock, seed=seed, **kw)  # type: ignore[arg-type]


def series(seed: int, times: list[float]) -> list[dict[str, float]]:
    clock = VirtualClock(T0)
    m = model(clock, seed)
    out = []
    for t in times:
        clock.set(T0 + timedelta(seconds=t))
        out.append(dict(m.vitals()))
    return out


def test_is_a_vitals_source_with_the_baseline_codes(vclock: VirtualClock) -> None:
    m: VitalsSource = model(vclock)
    v = m.vitals()
    assert set(DEFAULT_ADULT_ARDS) <= set(v)
    assert m.rhythm_alarms() == []
    for code, value in v.items():
        assert PARAMETERS[code].plausible(value), (code, value)


def test_same_seed_same_values_other_seed_other_values() -> None:
    times = [float(t) for t in range(0, 6 * 3600, 97)]
    a, b, c = series(3, times), series(3, times), series(4, times)
    assert a == b
    assert a != c


def test_values_do_not_depend_on_how_often_they_are_read() -> None:
    """Drift is on a fixed grid and noise hashes the second: sampling rate changes nothing."""
    every_second = series(5, [float(t) for t in range(0, 3600)])
    every_7s = series(5, [float(t) for t in range(0, 3600, 7)])
    assert every_7s == every_second[::7]


def test_reading_twice_in_the_same_second_agrees(vclock: VirtualClock) -> None:
    m = model(vclock)
    step(vclock, 100.2)
    first = dict(m.vitals())
    step(vclock, 0.5)
    assert m.vitals() == first


def test_noise_is_bounded_around_the_physiology(vclock: VirtualClock) -> None:
    m = model(vclock)
    for _ in range(2000):
        step(vclock, 3)
        true, shown = m.true_values(), m.vitals()
        for code, bound in NOISE_BOUND.items():
            if code in true and code not in (
                "MDC_PRESS_BLD_NONINV_SYS",
                "MDC_PRESS_BLD_NONINV_DIA",
            ):
                resolution = 0.01 if code == TEMP else 1.0
                assert abs(shown[code] - true[code]) <= bound + resolution / 2 + 1e-9, code
    # SpO2 is a whole percent, temperature has hundredths
    assert shown[SPO2] == int(shown[SPO2])


def test_noise_is_realistic_in_size(vclock: VirtualClock) -> None:
    m = model(vclock, drift=0.0)
    hr, temp = [], []
    for _ in range(600):
        step(vclock, 1)
        v = m.vitals()
        hr.append(v[HR])
        temp.append(v[TEMP])
    assert 1 <= max(hr) - min(hr) <= 5
    assert 0.02 <= max(temp) - min(temp) <= 0.11


def test_drift_stays_bounded_over_a_day(vclock: VirtualClock) -> None:
    m = model(vclock, seed=99)
    for _ in range(24 * 12):
        step(vclock, 300)
        v = m.vitals()
        assert 88 <= v[SPO2] <= 100
        assert 70 <= v[HR] <= 125
        assert 95 <= v[SYS] <= 145
        assert 36.6 <= v[TEMP] <= 37.8


def test_map_is_consistent_with_sys_and_dia(vclock: VirtualClock) -> None:
    m = model(vclock)
    for _ in range(200):
        step(vclock, 13)
        v = m.vitals()
        assert v[MAP] == round((v[SYS] + 2 * v[DIA]) / 3)
        nsys, ndia = v["MDC_PRESS_BLD_NONINV_SYS"], v["MDC_PRESS_BLD_NONINV_DIA"]
        assert v["MDC_PRESS_BLD_NONINV_MEAN"] == round((nsys + 2 * ndia) / 3)


def test_pulse_rate_follows_heart_rate(vclock: VirtualClock) -> None:
    m = model(vclock)
    for _ in range(200):
        step(vclock, 11)
        v = m.vitals()
        assert abs(v[PULSE] - v[HR]) <= 5


def test_fio2_and_peep_raise_spo2(vclock: VirtualClock) -> None:
    m = model(vclock, drift=0.0)
    before = m.true_values()[SPO2]
    m.set_fio2(80)
    step(vclock, 600)
    after_fio2 = m.true_values()[SPO2]
    m.set_peep(17)
    step(vclock, 1200)
    after_peep = m.true_values()[SPO2]
    assert before < after_fio2 < after_peep
    assert after_fio2 - before > 2
    assert m.vitals()["MDC_VENT_CONC_AWAY_O2_INSP"] in (79.0, 80.0, 81.0)


def test_fio2_change_takes_effect_with_a_washout_lag(vclock: VirtualClock) -> None:
    m = model(vclock, drift=0.0)
    base = m.true_values()[SPO2]
    m.set_fio2(90)
    step(vclock, 5)
    early = m.true_values()[SPO2]
    step(vclock, 300)
    late = m.true_values()[SPO2]
    assert early - base < (late - base) / 2


def test_desaturation_reaches_its_target_and_oxygen_rescues(vclock: VirtualClock) -> None:
    m = model(vclock, drift=0.0)
    m.desaturation(84, 300)
    step(vclock, 150)
    assert 84 < m.true_values()[SPO2] < 93
    step(vclock, 150)
    assert m.true_values()[SPO2] == pytest.approx(84, abs=0.3)
    m.set_fio2(85)
    m.set_peep(18)
    step(vclock, 1800)
    assert m.true_values()[SPO2] > 92


def test_minute_volume_moves_etco2_the_other_way(vclock: VirtualClock) -> None:
    m = model(vclock, drift=0.0)
    before = m.true_values()
    m.set_ventilation(rate=32)
    step(vclock, 1800)
    after = m.true_values()
    assert after["MDC_VOL_MINUTE_AWAY_EXP"] > before["MDC_VOL_MINUTE_AWAY_EXP"] * 1.25
    ratio = after[ETCO2] / before[ETCO2]
    assert ratio == pytest.approx(24 / 32, rel=0.03)


def test_vasopressor_dose_raises_map(vclock: VirtualClock) -> None:
    ne = PumpState(role="vasopressor", drug="norepinephrine", concentration_ug_ml=64)
    ne.start(rate_ml_h=rate_for_dose("norepinephrine", 4, 64, 70))
    m = model(vclock, drift=0.0, pumps={"norepi": ne})
    base_map = m.true_values()[SYS]
    assert m.doses() == {"IAEW_DOSE_NOREPINEPHRINE": pytest.approx(4)}
    m.set_dose("norepi", 12)
    step(vclock, 30)
    mid = m.true_values()[SYS]
    step(vclock, 900)
    high = m.true_values()[SYS]
    assert base_map < mid < high
    assert high - base_map > 7
    assert m.doses()["IAEW_DOSE_NOREPINEPHRINE"] == pytest.approx(12)


def test_per_kg_doses_use_the_weight(vclock: VirtualClock) -> None:
    epi = PumpState(role="vasopressor", drug="epinephrine", concentration_ug_ml=20)
    epi.start(rate_ml_h=rate_for_dose("epinephrine", 0.1, 20, 80))
    m = model(vclock, weight_kg=80, pumps={"epi": epi})
    assert epi.rate_ml_h == pytest.approx(0.1 * 80 * 60 / 20)
    assert m.doses() == {"IAEW_DOSE_EPINEPHRINE": pytest.approx(0.1)}


def test_fever_ramp_reaches_its_target_and_heart_rate_follows(vclock: VirtualClock) -> None:
    m = model(vclock, drift=0.0)
    hr0 = m.true_values()[HR]
    m.fever(38.6, 1200)
    step(vclock, 600)
    assert m.true_values()[TEMP] == pytest.approx(37.2 + 1.4 / 2, abs=0.01)
    step(vclock, 600)
    assert m.true_values()[TEMP] == pytest.approx(38.6, abs=0.01)
    step(vclock, 3600)
    true = m.true_values()
    assert true[TEMP] == pytest.approx(38.6, abs=0.01)
    assert true[HR] == pytest.approx(hr0 + 14, abs=0.5)
    assert abs(m.vitals()[TEMP] - 38.6) <= 0.06


def test_hypotension_ramp_and_baroreflex(vclock: VirtualClock) -> None:
    m = model(vclock, drift=0.0)
    hr0 = m.true_values()[HR]
    m.hypotension(76, 900)
    step(vclock, 900)
    true = m.true_values()
    assert true[SYS] == pytest.approx(76, abs=0.01)
    assert true[HR] > hr0 + 5
    assert m.vitals()[MAP] < 65


def test_heart_rate_ramp(vclock: VirtualClock) -> None:
    m = model(vclock, drift=0.0)
    m.heart_rate(140, 600)
    step(vclock, 600)
    assert m.true_values()[HR] == pytest.approx(140, abs=0.01)
    assert m.rhythm_alarms() == []


def test_vt_is_fast_and_drops_pressure(vclock: VirtualClock) -> None:
    m = model(vclock, drift=0.0)
    map0 = m.vitals()[MAP]
    m.set_rhythm("VT")
    v = m.vitals()
    assert abs(v[HR] - 180) <= 2
    assert v[MAP] < map0 - 15
    assert SPO2 in v
    assert m.rhythm_alarms() == ["VT"]
    assert [(e.event, dict(e.fields)) for e in m.events] == [("arrhythmia", {"rhythm": "VT"})]


@pytest.mark.parametrize("rhythm", ["VF", "asystole"])
def test_pulseless_rhythms_have_no_spo2_nor_pulse(vclock: VirtualClock, rhythm: str) -> None:
    m = model(vclock)
    step(vclock, 900)
    m.set_rhythm(rhythm)
    step(vclock, 901)  # a new cuff cycle: no reading either
    v = m.vitals()
    assert SPO2 not in v and PULSE not in v
    assert "MDC_PRESS_BLD_NONINV_SYS" not in v
    assert v[SYS] < 30 and v[ETCO2] < 15
    assert (HR in v) is (rhythm == "asystole")
    m.set_rhythm("sinus")
    assert SPO2 in m.vitals()
    assert m.rhythm_alarms() == []


def test_spike_is_an_artifact_for_its_duration_only(vclock: VirtualClock) -> None:
    m = model(vclock)
    step(vclock, 60)
    m.spike(SPO2, 70, 10)
    assert m.vitals()[SPO2] == 70
    step(vclock, 9)
    assert m.vitals()[SPO2] == 70
    assert m.true_values()[SPO2] > 90
    step(vclock, 1)
    assert m.vitals()[SPO2] > 88


def test_airway_resistance_raises_peak_not_plateau(vclock: VirtualClock) -> None:
    m = model(vclock, drift=0.0)
    plat0 = m.true_values()[PLAT]
    m.airway_pressure(45, 30, "resistance")
    step(vclock, 30)
    true = m.true_values()
    assert true[PEAK] == pytest.approx(45, abs=0.01)
    assert true[PLAT] == pytest.approx(plat0, abs=0.01)
    m.airway_pressure(40, 60, "compliance")
    step(vclock, 60)
    true = m.true_values()
    assert true[PEAK] == pytest.approx(40, abs=0.01)
    assert true[PLAT] < plat0


def test_compliance_fall_raises_plateau_with_peak(vclock: VirtualClock) -> None:
    m = model(vclock, drift=0.0)
    true0 = m.true_values()
    m.airway_pressure(38, 600, "compliance")
    step(vclock, 600)
    true = m.true_values()
    assert true[PEAK] == pytest.approx(38, abs=0.01)
    assert true[PLAT] - true0[PLAT] == pytest.approx(8, abs=0.01)


def test_embolism_moves_four_signs_together(vclock: VirtualClock) -> None:
    m = model(vclock, drift=0.0)
    before = m.true_values()
    m.embolism(1.0, 60)
    step(vclock, 90)
    after = m.true_values()
    assert after[SPO2] < before[SPO2] - 7
    assert after[ETCO2] < before[ETCO2] * 0.7
    assert after[HR] > before[HR] + 25
    assert after[SYS] < before[SYS] - 30
    assert after["MDC_VOL_MINUTE_AWAY_EXP"] == pytest.approx(
        before["MDC_VOL_MINUTE_AWAY_EXP"], rel=0.01
    )


def test_pumps_advance_with_the_clock_and_end_exactly(vclock: VirtualClock) -> None:
    m = model(vclock, pumps={"study": PumpState(vtbi_ml=100)})
    m.start_infusion("study", rate_ml_h=120, vtbi_ml=100)
    step(vclock, 1800)
    m.sync()
    assert m.pumps["study"].volume_infused_ml == pytest.approx(60)
    step(vclock, 3600)  # ends at 50 min, looked at after 90
    m.sync()
    names = [e.event for e in m.events]
    assert names == ["infusion_start", "pump_alarm", "infusion_end"]
    end = m.events[-1]
    assert end.t == T0 + timedelta(minutes=50)
    assert end.fields == {"volume_infused_ml": 100.0} and end.bed == "ICU-1"
    assert m.events[0].fields == {"weight_kg": 70.0, "volume_ml": 100.0, "planned_min": 50.0}


def test_occlusion_stops_delivery_until_cleared(vclock: VirtualClock) -> None:
    m = model(vclock, pumps={"study": PumpState(vtbi_ml=100)})
    m.start_infusion("study", rate_ml_h=120, vtbi_ml=100)
    step(vclock, 600)
    m.pump_alarm("study", "occlusion")
    step(vclock, 600)
    m.clear_pump_alarm("study", "occlusion")
    step(vclock, 600)
    m.sync()
    assert m.pumps["study"].volume_infused_ml == pytest.approx(40)
    assert [e.fields.get("kind") for e in m.events if e.event == "pump_alarm"] == ["occlusion"]


def test_clinician_events_and_blood_gas(vclock: VirtualClock) -> None:
    m = model(vclock, drift=0.0)
    m.clinician("clinical_sign", {"sign": "urticaria"})
    gas = m.blood_gas()
    assert gas["pao2_mmhg"] == pytest.approx(inverse_severinghaus(93), abs=1)
    assert 7.2 < gas["ph"] < 7.45
    m.die()
    m.clinician("death")
    assert [e.event for e in m.clinician_events] == ["clinical_sign", "death"]
    assert all(e.source is EventSource.CLINICIAN for e in m.clinician_events)
    assert m.rhythm == "asystole" and m.dead
    assert [e.event for e in m.new_events()] == ["clinical_sign", "arrhythmia", "death"]
    assert list(m.new_events()) == []


def test_severinghaus_round_trip() -> None:
    for spo2 in (70, 85, 90, 93, 97):
        assert severinghaus(inverse_severinghaus(spo2)) == pytest.approx(spo2, abs=0.01)


def test_baseline_overrides_merge_with_the_default(vclock: VirtualClock) -> None:
    m = model(vclock, drift=0.0, baseline={TEMP: 36.5})
    assert m.true_values()[TEMP] == pytest.approx(36.5)
    assert m.true_values()[HR] == pytest.approx(96)
