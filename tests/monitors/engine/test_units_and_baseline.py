"""Units converted to canonical (or ignored with a counted warning), and the baseline."""

from __future__ import annotations

from core.model import Phase


def test_other_units_are_converted(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0)
    for s in range(0, 600, 5):
        sc.obs(s, "ppeak", 39.2, unit="mbar")  # 40.0 cmH2O: +12 over baseline 28
        sc.obs(s, "temp", 101.5, unit="[degF]")  # 38.6 °C
        sc.obs(s, "fio2", 0.5, unit="1")  # fraction → 50 %
        sc.obs(s, "etco2", 5.0, unit="kPa")  # 37.5 mmHg
    sc.run(until=600)
    peak = [a for a in sc.of("airway_peak_rise") if a.phase is Phase.START]
    assert peak and abs(peak[0].evidence["values"]["MDC_PRESS_AWAY_INSP_PEAK"] - 39.97) < 0.01
    fever = [a for a in sc.of("fever") if a.phase is Phase.START]
    assert fever and fever[0].evidence["values"]["MDC_TEMP_BLD"] == 38.611
    assert not sc.engine.warnings


def test_unconvertible_unit_is_ignored_and_counted(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0)
    for s in range(0, 100):
        sc.obs(s, "spo2", 50, unit="furlongs")
    sc.run(until=100)
    assert sc.of("hypoxemia_spo2") == []
    assert sc.engine.warnings["unit:MDC_PULS_OXIM_SAT_O2:furlongs"] == 100


def test_baseline_is_the_median_of_the_last_30_min(scenario) -> None:
    sc = scenario()
    sc.series(-3600, -1800, 10.0, sbp=80, temp=40)  # older than 30 min: not used
    sc.series(-1800, 0, 10.0, sbp=lambda s: 110 if s < -900 else 120, temp=37.0)
    sc.series(-1800, 0, 60.0, temp=None, hr=lambda s: 200 if s == -60 else 70)  # one outlier
    sc.infusion(0)
    sc.run(until=1)
    (bed,) = sc.engine.beds()
    assert bed.baseline["MDC_PRESS_BLD_ART_SYS"] == 115.0  # median of 110s and 120s
    assert bed.baseline["MDC_TEMP_BLD"] == 37.0
    assert bed.baseline["MDC_ECG_HEART_RATE"] == 70.0  # the median ignores an outlier


def test_too_few_samples_is_no_baseline(scenario) -> None:
    sc = scenario()
    sc.series(-1800, 0, 10.0, spo2=94, hr=80, temp=37)
    sc.series(-300, 0, 100.0, fio2=50)  # 3 samples < 5
    sc.infusion(0)
    sc.run(until=1)
    (bed,) = sc.engine.beds()
    assert "MDC_VENT_CONC_AWAY_O2_INSP" not in bed.baseline
    assert "fio2" in bed.baseline_missing
    (m,) = sc.of("baseline_missing")
    assert m.evidence["missing"]["fio2"] == {
        "MDC_VENT_CONC_AWAY_O2_INSP": {"samples": 3, "needed": 5}
    }
    assert "ventilatory_escalation" in m.evidence["rules_not_assessed"]


def test_before_infusion_baseline_rules_say_so(scenario) -> None:
    sc = scenario()
    sc.series(0, 600, 1.0, hr=135)
    sc.run(until=600)
    (a, *_rest) = sc.of("tachycardia")
    assert a.iae is False and a.evidence["in_window"] is False
    assert any("no infusion yet" in n for n in a.evidence["notes"])


def test_second_infusion_start_in_window_does_not_move_it(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0)
    sc.infusion(1800)
    sc.run(until=1801)
    (bed,) = sc.engine.beds()
    assert bed.infusion_start.isoformat().endswith("08:00:00+00:00")
    assert sc.engine.warnings["infusion_start_repeated:ICU-1"] == 1


def test_beds_are_independent(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.series(-1800, 0, 10.0, bed="ICU-2", spo2=94)
    sc.infusion(0)  # ICU-1 only
    sc.event(600, "arrhythmia", rhythm="VT", bed="ICU-1")
    sc.event(600, "arrhythmia", rhythm="VT", bed="ICU-2")
    sc.run(until=700)
    arr = [(a.bed, a.iae) for a in sc.of("arrhythmia") if a.phase is Phase.START]
    assert arr == [("ICU-1", True), ("ICU-2", False)]
