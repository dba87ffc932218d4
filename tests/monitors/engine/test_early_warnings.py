"""Early warnings (iae false) and technical alerts: true positives, negatives, artifacts."""

from __future__ import annotations

from core.model import EventSource, Phase, Priority, ValueStatus

H = 3600.0


def _starts(sc, rule):  # type: ignore[no-untyped-def]
    return [a for a in sc.of(rule) if a.phase is Phase.START]


# -- fever --------------------------------------------------------------------------------
def test_fever_needs_38_and_one_degree_over_baseline_held(scenario, make_baseline) -> None:
    sc = make_baseline(scenario(), temp=37.1)
    sc.infusion(0)
    sc.steady(0, 3 * H, 10.0, temp=lambda s: 37.1 if s < H else 38.4)
    sc.run(until=3 * H)
    (a,) = _starts(sc, "fever")
    assert a.iae is False and a.category == "fever"
    assert a.evidence["baseline"] == {"MDC_TEMP_BLD": 37.1}
    assert a.evidence["change"] == {"MDC_TEMP_BLD": 1.3}
    assert a.evidence["in_window"] is True
    assert (a.t - a.onset).total_seconds() == 120


def test_febrile_patient_rising_less_than_one_degree_has_no_fever_alert(
    scenario, make_baseline
) -> None:
    sc = make_baseline(scenario(), temp=37.8)
    sc.infusion(0)
    sc.steady(0, 2 * H, 10.0, temp=38.5)
    sc.run(until=2 * H)
    assert sc.of("fever") == []


def test_single_temperature_spike_does_not_alarm(scenario, make_baseline) -> None:
    sc = make_baseline(scenario(), temp=37.0)
    sc.infusion(0)
    sc.series(0, 1800, 1.0, temp=lambda s: 39.5 if s == 600 else 37.0)
    sc.run(until=1900)
    assert sc.of("fever") == []


def test_rigors_is_a_fever_warning(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0)
    sc.event(900, "clinical_sign", sign="rigors", source=EventSource.CLINICIAN)
    sc.run(until=1000)
    (a,) = sc.of("fever_rigors")
    assert a.category == "fever" and not a.iae


def test_fever_without_baseline_is_reported_not_guessed(scenario, make_baseline) -> None:
    sc = make_baseline(scenario(), temp=lambda s: None)  # no temperature before the infusion
    sc.infusion(0)
    sc.steady(0, H, 10.0, temp=39.0)
    sc.run(until=H)
    assert sc.of("fever") == []
    (missing,) = sc.of("baseline_missing")
    assert missing.category == "technical" and missing.priority is Priority.LOW
    assert "temp" in missing.evidence["missing"]
    assert "fever" in missing.evidence["rules_not_assessed"]
    assert "temp" in sc.engine.beds()[0].baseline_missing


# -- hypotension --------------------------------------------------------------------------
def test_transfusion_associated_hypotension(scenario, make_baseline) -> None:
    sc = make_baseline(scenario(), sbp=115, map=75)
    sc.infusion(0)
    sc.steady(
        0, 1200, 5.0, sbp=lambda s: 115 if s < 600 else 78, map=lambda s: 75 if s < 600 else 66
    )
    sc.run(until=1200)
    (a,) = _starts(sc, "hypotension")
    assert a.evidence["baseline"] == {"MDC_PRESS_BLD_ART_SYS": 115.0}
    assert a.evidence["values"]["MDC_PRESS_BLD_ART_SYS"] == 78


def test_map_below_65_sustained_but_not_an_art_line_flush(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0)
    # arterial line zeroed for 20 s (reads 0), then a real fall of MAP to 60 from 900 s
    sc.series(0, 1500, 1.0, map=lambda s: 0 if 300 <= s < 320 else (80 if s < 900 else 60))
    sc.run(until=1500)
    (a,) = _starts(sc, "hypotension")
    assert a.onset.isoformat().endswith("08:15:00+00:00")


def test_noninvasive_pressure_used_when_no_arterial_line(scenario, make_baseline) -> None:
    sc = scenario()
    sc.series(-3600, 0, 900.0, nbp_sys=120, nbp_mean=82)  # a cuff every 15 min
    sc.infusion(0)
    sc.series(
        0,
        3600,
        900.0,
        nbp_sys=lambda s: 120 if s < 1800 else 85,
        nbp_mean=lambda s: 82 if s < 1800 else 60,
    )
    sc.run(until=3700)
    (a,) = _starts(sc, "hypotension")
    assert "MDC_PRESS_BLD_NONINV_MEAN" in a.evidence["values"]


# -- hypoxemia ----------------------------------------------------------------------------
def test_spo2_drop_of_10_s_does_not_alarm_but_20_s_does(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0)
    sc.series(0, 1200, 1.0, spo2=lambda s: 80 if 300 <= s < 310 or 900 <= s < 920 else 94)
    sc.run(until=1200)
    (a,) = _starts(sc, "hypoxemia_spo2")
    assert a.onset.isoformat().endswith("08:15:00+00:00")
    assert a.evidence["held_s"] == 15


def test_questionable_and_impossible_values_do_not_alarm(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0)
    for s in range(300, 400):
        sc.obs(s, "spo2", 70, status=ValueStatus.QUESTIONABLE)  # probe off the finger
        sc.obs(s, "hr", 400)  # impossible
        sc.obs(s, "temp", 60)  # impossible
    sc.run(until=500)
    assert [a for a in sc.alerts if a.category in ("hypoxemia", "tachycardia", "fever")] == []
    assert sc.engine.warnings["implausible:MDC_ECG_HEART_RATE"] == 100


def test_sf_ratio_fall_from_baseline(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())  # SpO2 94 / FiO2 0.5 = 188
    sc.infusion(0)
    sc.steady(
        0, 1800, 5.0, fio2=lambda s: 50 if s < 600 else 70, spo2=lambda s: 94 if s < 600 else 92
    )
    sc.run(until=1800)
    (a,) = _starts(sc, "hypoxemia_sf_fall")
    assert a.evidence["baseline"] == {"IAEW_SF_RATIO": 188.0}
    assert a.evidence["change_pct"]["IAEW_SF_RATIO"] < -20


def test_pf_fall_from_pre_infusion_blood_gas(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.event(-1200, "blood_gas", pao2_mmhg=80, paco2_mmhg=45, ph=7.35, source=EventSource.CLINICIAN)
    sc.infusion(0)
    sc.steady(0, 3 * H, 30.0)
    sc.event(2 * H, "blood_gas", pao2_mmhg=60, paco2_mmhg=48, ph=7.31, source=EventSource.CLINICIAN)
    sc.run(until=3 * H)
    (a,) = _starts(sc, "hypoxemia_pf_fall")
    assert a.evidence["baseline"] == {"IAEW_PF_RATIO": 160.0}
    assert a.evidence["values"] == {"IAEW_PF_RATIO": 120.0}
    assert sc.of("baseline_missing") == []


# -- heart rate ---------------------------------------------------------------------------
def test_tachycardia_red_band_and_baseline_relative(scenario, make_baseline) -> None:
    sc = make_baseline(scenario(), hr=75)
    sc.infusion(0)
    sc.steady(0, 3 * H, 5.0, hr=lambda s: 75 if s < H else (112 if s < 2 * H else 135))
    sc.run(until=3 * H)
    (a,) = _starts(sc, "tachycardia")  # one episode: 112 (≥111, +37) then 135
    assert a.onset.isoformat().endswith("09:00:00+00:00")
    updates = [x for x in sc.of("tachycardia") if x.phase is Phase.UPDATE]
    assert updates and updates[-1].evidence["values"]["MDC_ECG_HEART_RATE"] == 135


def test_tachycardic_at_baseline_needs_the_red_band(scenario, make_baseline) -> None:
    sc = make_baseline(scenario(), hr=115)
    sc.infusion(0)
    sc.steady(0, H, 5.0, hr=125)
    sc.run(until=H)
    assert sc.of("tachycardia") == []


def test_bradycardia_high_priority(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0)
    sc.steady(0, 900, 1.0, hr=lambda s: 38 if s >= 600 else 90)
    sc.run(until=900)
    (a,) = _starts(sc, "bradycardia")
    assert a.priority is Priority.HIGH and not a.iae


def test_pulse_rate_stands_in_when_no_ecg(scenario, make_baseline) -> None:
    sc = scenario()
    sc.series(-1800, 0, 10.0, pulse=80)
    sc.infusion(0)
    sc.series(0, 600, 5.0, pulse=lambda s: 80 if s < 300 else 140)
    sc.run(until=600)
    (a,) = _starts(sc, "tachycardia")
    assert "MDC_PULS_OXIM_PULS_RATE" in a.evidence["values"]


# -- airway pressure ----------------------------------------------------------------------
def test_airway_pressure_rules(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0)
    sc.steady(
        0,
        2 * H,
        5.0,
        ppeak=lambda s: 28 if s < H else 40,  # +12 over baseline
        pplat=lambda s: 24 if s < H else 32,  # > 30, driving pressure 22
    )
    sc.run(until=2 * H)
    assert _starts(sc, "airway_peak_rise") and _starts(sc, "airway_plateau_high")
    dp = _starts(sc, "airway_driving_pressure_high")
    assert dp and dp[0].evidence["values"] == {"IAEW_DRIVING_PRESSURE": 22.0}
    assert {a.category for a in sc.alerts if a.rule.startswith("airway")} == {
        "airway_pressure_rise"
    }


def test_cough_peak_does_not_alarm(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0)
    sc.series(0, 900, 1.0, ppeak=lambda s: 45 if 300 <= s < 310 else 28)
    sc.run(until=900)
    assert sc.of("airway_peak_rise") == []


# -- embolism pattern ---------------------------------------------------------------------
def _embolism(sc, start: float, *, mv_falls: bool = False, only_spo2: bool = False) -> None:  # type: ignore[no-untyped-def]
    def step(before: float, after: float):  # type: ignore[no-untyped-def]
        return lambda s: before if s < start else after

    sc.steady(
        0,
        start + 600,
        1.0,
        spo2=step(94, 86),
        etco2=step(38, 38) if only_spo2 else step(38, 28),
        hr=step(90, 90) if only_spo2 else step(90, 118),
        sbp=step(120, 120) if only_spo2 else step(120, 95),
        mv=step(8, 5) if mv_falls else 8,
    )


def test_embolism_pattern_true_positive(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0)
    _embolism(sc, 1800)
    sc.run(until=2400)
    (a,) = _starts(sc, "embolism_pattern")
    assert a.priority is Priority.HIGH and not a.iae and a.evidence["in_window"]
    seen = a.evidence["seen_within_span"]
    assert sum(seen.values()) == 4 and not seen["mv (10 s mean) fall ≥ 20 % within 300 s"]
    assert (a.onset.timestamp() - sc.engine.beds()[0].infusion_start.timestamp()) < 1900


def test_embolism_pattern_needs_the_whole_picture(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0)
    _embolism(sc, 1800, only_spo2=True)
    sc.run(until=2400)
    assert sc.of("embolism_pattern") == []


def test_embolism_pattern_vetoed_by_falling_minute_volume(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0)
    _embolism(sc, 1800, mv_falls=True)
    sc.run(until=2400)
    assert sc.of("embolism_pattern") == []


# -- infusion problems ----------------------------------------------------------------------
def test_pump_alarm_episode_ends_when_cleared(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0, device="pump-1")
    sc.event(600, "pump_alarm", kind="occlusion", device="pump-1")
    sc.event(660, "pump_alarm", kind="air_in_line", device="pump-1")
    sc.event(700, "pump_alarm_cleared", kind="occlusion", device="pump-1")
    sc.event(760, "pump_alarm_cleared", kind="air_in_line", device="pump-1")
    sc.run(until=800)
    assert sc.phases("infusion_pump_alarm") == ["start", "update", "end"]
    assert sc.of("infusion_pump_alarm")[-1].t.isoformat().endswith("08:12:40+00:00")


def test_pause_rate_and_duration_off_the_order(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0, device="pump-1")
    rate = lambda s: 0 if 600 <= s < 700 else (250 if 900 <= s < 1000 else 133)  # noqa: E731
    sc.series(0, 1500, 1.0, device="pump-1", rate=rate)
    sc.series(0, 1500, 1.0, device="norepi-pump", rate=0)  # another pump's rate is ignored
    sc.obs(1499, "vol", 60, device="pump-1")
    sc.event(1500, "infusion_end", device="pump-1")
    sc.run(until=1600)
    # 250 mL/h is faster than 200: medium priority while it runs (issue 13 item 8)
    (fast,) = _starts(sc, "infusion_too_fast")
    assert _starts(sc, "infusion_paused") and fast.priority is Priority.MEDIUM
    (short,) = sc.of("infusion_too_short")
    assert short.evidence["fields"]["duration_min"] == 25.0
    (vol,) = sc.of("infusion_volume_off")
    assert vol.evidence["fields"]["volume_off_pct"] == 40.0
    assert sc.of("infusion_overdue") == []


def test_infusion_overdue(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0)
    sc.event(75 * 60, "infusion_end")
    sc.run(until=80 * 60)
    assert sc.phases("infusion_overdue") == ["start", "end"]
    assert sc.of("infusion_overdue")[0].t.isoformat().endswith("09:00:01+00:00")


# -- technical ----------------------------------------------------------------------------
def test_device_disconnect_and_stale_data(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0)
    sc.steady(0, 600, 1.0)
    sc.series(600, 1200, 1.0, device="vent-1", fio2=50, peep=10, ppeak=28, etco2=38)
    sc.event(1200, "device_disconnected", device="vent-1", source=EventSource.DRIVER)
    sc.event(1500, "device_connected", device="vent-1", source=EventSource.DRIVER)
    sc.series(1500, 1600, 1.0, device="vent-1", fio2=50, peep=10, ppeak=28, etco2=38)
    sc.run(until=1600)
    assert sc.phases("device_disconnected") == ["start", "end"]
    # monitor data stopped at 600 s: stale once more than 60 s have passed, once
    stale = sc.of("stale_vitals")
    assert [a.phase for a in stale] == [Phase.START]
    assert stale[0].t.isoformat().endswith("08:11:00+00:00")  # more than 60 s: 599 s → 660 s
    # ventilator data missing while its device is known disconnected: no second alarm
    assert sc.of("stale_ventilator") == []
