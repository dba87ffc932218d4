"""Real feeds (issue 13 item 2): holds need agreeing samples over time, staleness follows a
source's own cadence, and cross-checks keep artefacts from standing in for the patient."""

from __future__ import annotations

from core.model import DeviceEvent, Observation, Phase, ValueStatus
from tests.monitors.conftest import at

M = 60.0


def _starts(sc, rule):  # type: ignore[no-untyped-def]
    return [a for a in sc.of(rule) if a.phase is Phase.START]


def test_one_sample_never_satisfies_a_hold(scenario, make_baseline) -> None:
    # a once-a-minute monitor: one MAP of 28 (line being zeroed, no sys/dia sent) stays
    # "fresh" for 60 s, longer than the 60 s hold; the next sample is normal again
    sc = make_baseline(scenario(), map=80)
    sc.infusion(0)
    sc.series(60, 3600, M, map=lambda s: 28 if s == 600 else 80, spo2=94, hr=90)
    sc.run(until=3600)
    assert _starts(sc, "hypotension") == []


def test_two_agreeing_samples_spanning_the_hold_alert(scenario, make_baseline) -> None:
    sc = make_baseline(scenario(), map=80)
    sc.infusion(0)
    sc.series(60, 3600, M, map=lambda s: 80 if s < 600 else 55, spo2=94, hr=90)
    sc.run(until=3600)
    (a,) = _starts(sc, "hypotension")
    assert a.evidence["held_s"] >= 60
    assert (a.t - a.onset).total_seconds() <= 3 * M  # the outlier check waits one sample


def test_a_once_a_minute_feed_is_not_stale_at_60_s(scenario) -> None:
    sc = scenario()
    sc.series(0, 4 * 3600, 60.0, spo2=94, hr=90, map=80)
    sc.run(until=4 * 3600)
    assert sc.of("stale_vitals") == []


def test_a_once_a_minute_feed_that_stops_is_stale_after_three_intervals(scenario) -> None:
    sc = scenario()
    sc.series(0, 1800, 60.0, spo2=94, hr=90, map=80)
    sc.run(until=1800 + 600)
    (a,) = _starts(sc, "stale_vitals")
    silent = (a.t - sc.engine.beds()[0].last_seen).total_seconds()  # type: ignore[operator]
    assert 150 <= silent <= 190
    assert a.evidence["stale_after_s"]["MDC_PULS_OXIM_SAT_O2"] == 180


def test_a_one_hertz_feed_is_stale_after_60_s(scenario) -> None:
    sc = scenario()
    sc.series(0, 600, 1.0, spo2=94)
    sc.run(until=700)
    (a,) = _starts(sc, "stale_vitals")
    assert (a.t - a.onset).total_seconds() == 0
    assert a.t.timestamp() - sc.engine.beds()[0].last_seen.timestamp() == 61  # more than 60 s  # type: ignore[union-attr]


def test_pulse_rate_does_not_stand_in_for_an_ecg_it_contradicts(scenario, make_baseline) -> None:
    # lead-off: the ECG counts 12 /min while the oximeter sees a pulse of 88
    sc = make_baseline(scenario(), hr=88, pulse=88)
    sc.infusion(0)
    sc.series(0, 1800, 1.0, hr=lambda s: 12 if 600 <= s < 900 else 88, pulse=88, spo2=94)
    sc.run(until=1800)
    assert sc.of("bradycardia") == []


def test_pulse_stands_in_when_the_ecg_is_absent(scenario, make_baseline) -> None:
    sc = make_baseline(scenario(), hr=lambda s: None, pulse=88)
    sc.infusion(0)
    sc.series(0, 1800, 1.0, pulse=lambda s: 35 if s >= 600 else 88, spo2=94)
    sc.run(until=1800)
    (a,) = _starts(sc, "bradycardia")
    assert "MDC_PULS_OXIM_PULS_RATE" in a.evidence["values"]


def test_arterial_line_zeroing_is_an_artefact_not_hypotension(scenario, make_baseline) -> None:
    sc = make_baseline(scenario(), map=80, sbp=120)
    sc.infusion(0)
    zero = lambda s: 600 <= s < 900  # noqa: E731
    sc.series(
        0,
        1800,
        1.0,
        sbp=lambda s: 0 if zero(s) else 120,
        dia=lambda s: 0 if zero(s) else 60,
        map=lambda s: 25 if zero(s) else 80,
    )
    sc.run(until=1800)
    assert sc.of("hypotension") == []
    assert sum(n for k, n in sc.engine.warnings.items() if k.startswith("artefact:")) > 0


def test_arterial_line_square_wave_is_an_artefact(scenario, make_baseline) -> None:
    sc = make_baseline(scenario(), map=80, sbp=120)
    sc.infusion(0)
    flush = lambda s: 600 <= s < 900  # noqa: E731
    sc.series(
        0,
        1800,
        1.0,
        sbp=lambda s: 300 if flush(s) else 120,
        dia=lambda s: 298 if flush(s) else 60,
        map=lambda s: 299 if flush(s) else 80,
    )
    sc.run(until=1800)
    assert sc.of("hypertension") == [] and sc.of("hypotension") == []


def test_an_isolated_outlier_on_a_slow_feed_is_held_and_dropped(scenario, make_baseline) -> None:
    sc = make_baseline(scenario(), spo2=92)
    sc.infusion(0)
    sc.series(60, 7200, M, spo2=lambda s: 72 if s == 1200 else 92)
    sc.run(until=7200)
    assert sc.of("hypoxemia_spo2") == []
    assert sc.engine.warnings["outlier:MDC_PULS_OXIM_SAT_O2"] == 1


def test_a_confirmed_fall_on_a_slow_feed_alerts_within_minutes(scenario, make_baseline) -> None:
    sc = make_baseline(scenario(), spo2=92)
    sc.infusion(0)
    sc.series(60, 7200, M, spo2=lambda s: 72 if s >= 1200 else 92)
    sc.run(until=7200)
    (a,) = _starts(sc, "hypoxemia_spo2")
    assert a.onset.timestamp() - sc.engine.beds()[0].infusion_start.timestamp() == 1200  # type: ignore[union-attr]
    assert (a.t - a.onset).total_seconds() <= 2 * M


def test_a_derived_input_that_lags_another_updates_it_as_of_the_newer(scenario) -> None:
    # a central station's SpO2 reaches the engine a second after the ventilator's FiO2 of the
    # same instant (HL7 behind a serial link): S/F takes it as of the FiO2's time, without a
    # sample "older than the last"
    engine = scenario().engine
    for s in range(0, 60, 2):
        engine.feed(_obs(s + 0.4, "MDC_VENT_CONC_AWAY_O2_INSP", 50.0, "%", "vent"))
        engine.feed(_obs(s, "MDC_PULS_OXIM_SAT_O2", 94.0 if s < 58 else 88.0, "%", "central"))
    sf = engine._beds["ICU-1"].series["IAEW_SF_RATIO"]
    assert sf.value == 176.0  # 88 / 0.50: the last SpO2, late, is in (not 94 / 0.50)
    assert sf.t == at(58.4).timestamp()
    assert not [k for k in engine.warnings if k.startswith("out_of_order")]


def _obs(s: float, code: str, value: float, unit: str, device: str) -> Observation:
    return Observation(t=at(s), bed="ICU-1", code=code, value=value, unit=unit, device=device)


def test_a_second_source_of_a_code_does_not_break_the_first_ones_hold(
    scenario, make_baseline
) -> None:
    # SpO2 from the bedside monitor (86 %) and, half a second behind, from a central station
    # relaying a second probe (89 %): the first source alone is read while it sends, so its
    # 15 s hold below 88 % is not reset by the other probe's values
    sc = make_baseline(scenario(), spo2=95)
    sc.infusion(0)
    sc.series(0, 900, 1.0, spo2=lambda s: 95 if s < 600 else 86, device="mon-1")
    sc.series(0.5, 900.5, 1.0, spo2=lambda s: 95 if s < 600 else 89, device="cs-1")
    sc.run(until=900)
    (a,) = _starts(sc, "hypoxemia_spo2")
    assert 615 <= a.t.timestamp() - at(0).timestamp() <= 625
    assert sc.engine.warnings["second_source:MDC_PULS_OXIM_SAT_O2"] > 0


def test_a_second_source_that_lags_is_not_out_of_order_and_keeps_the_cadence(scenario) -> None:
    # EtCO2 from the ventilator (1 Hz) and from a central station a second behind
    engine = scenario().engine
    for s in range(120):
        engine.feed(_obs(s, "MDC_AWAY_CO2_ET", 38.0, "mm[Hg]", "vent"))
        if s:
            engine.feed(_obs(s - 1, "MDC_AWAY_CO2_ET", 33.0, "mm[Hg]", "central"))
    et = engine._beds["ICU-1"].series["MDC_AWAY_CO2_ET"]
    assert (et.value, et.device) == (38.0, "vent")
    assert et.cadence() == 1.0
    assert not [k for k in engine.warnings if k.startswith("out_of_order")]


def test_the_second_source_takes_over_when_the_first_stops(scenario) -> None:
    engine = scenario().engine
    for s in range(120):
        if s < 60:
            engine.feed(_obs(s, "MDC_AWAY_CO2_ET", 38.0, "mm[Hg]", "vent"))
        engine.feed(_obs(s + 0.5, "MDC_AWAY_CO2_ET", 33.0, "mm[Hg]", "central"))
        et = engine._beds["ICU-1"].series["MDC_AWAY_CO2_ET"]
        if s == 61:
            assert et.device == "vent"  # within three of its intervals: still the one read
        if s == 63:
            assert (et.value, et.device) == (33.0, "central")
    # back again: the central station, sending, keeps the series
    engine.feed(_obs(120, "MDC_AWAY_CO2_ET", 38.0, "mm[Hg]", "vent"))
    assert engine._beds["ICU-1"].series["MDC_AWAY_CO2_ET"].device == "central"


def test_a_source_sending_no_usable_value_gives_way(scenario) -> None:
    # the first probe fell off (values unavailable): the second probe's values are read
    engine = scenario().engine
    for s in range(30):
        engine.feed(_obs(s, "MDC_PULS_OXIM_SAT_O2", 94.0, "%", "mon"))
    for s in range(30, 40):
        engine.feed(
            Observation(
                t=at(s),
                bed="ICU-1",
                code="MDC_PULS_OXIM_SAT_O2",
                value=None,
                unit="%",
                status=ValueStatus.UNAVAILABLE,
                device="mon",
            )
        )
        engine.feed(_obs(s + 0.5, "MDC_PULS_OXIM_SAT_O2", 93.0, "%", "central"))
    spo2 = engine._beds["ICU-1"].series["MDC_PULS_OXIM_SAT_O2"]
    assert (spo2.value, spo2.device) == (93.0, "central")


def test_a_source_known_disconnected_gives_way_at_once(scenario) -> None:
    engine = scenario().engine
    for s in range(60):
        engine.feed(_obs(s, "MDC_AWAY_CO2_ET", 38.0, "mm[Hg]", "vent"))
    engine.feed(DeviceEvent(t=at(60), bed="ICU-1", event="device_disconnected", device="vent"))
    engine.feed(_obs(60.5, "MDC_AWAY_CO2_ET", 33.0, "mm[Hg]", "central"))
    et = engine._beds["ICU-1"].series["MDC_AWAY_CO2_ET"]
    assert (et.value, et.device) == (33.0, "central")


def test_the_faster_source_is_read_whichever_came_first(scenario) -> None:
    # a central station relays SpO2 once a minute and was first; the monitor's direct 1 Hz
    # link then connects: it is read from its fourth sample, and the central station's next
    # value is not
    engine = scenario().engine
    engine.feed(_obs(0, "MDC_PULS_OXIM_SAT_O2", 93.0, "%", "central"))
    engine.feed(_obs(60, "MDC_PULS_OXIM_SAT_O2", 93.0, "%", "central"))
    spo2 = engine._beds["ICU-1"].series["MDC_PULS_OXIM_SAT_O2"]
    for s in range(61, 65):
        engine.feed(_obs(s, "MDC_PULS_OXIM_SAT_O2", 95.0, "%", "mon"))
        assert spo2.device == ("central" if s < 64 else "mon")
    for s in range(65, 130):
        engine.feed(_obs(s, "MDC_PULS_OXIM_SAT_O2", 95.0, "%", "mon"))
    engine.feed(_obs(120.5, "MDC_PULS_OXIM_SAT_O2", 91.0, "%", "central"))
    assert (spo2.value, spo2.device) == (95.0, "mon")


def test_two_sources_at_one_rate_do_not_trade_places(scenario) -> None:
    engine = scenario().engine
    devices = set()
    for s in range(600):
        engine.feed(_obs(s, "MDC_PULS_OXIM_SAT_O2", 94.0, "%", "mon"))
        engine.feed(_obs(s + 0.3 + (s % 3) * 0.2, "MDC_PULS_OXIM_SAT_O2", 91.0, "%", "central"))
        devices.add(engine._beds["ICU-1"].series["MDC_PULS_OXIM_SAT_O2"].device)
    assert devices == {"mon"}


def test_a_lagging_relay_never_takes_over_by_its_count(scenario) -> None:
    # a central station sends 5 Hz, but each value 3 s late: it is faster, yet every sample
    # is older than the monitor's last, so the monitor stays read and nothing is out of order
    engine = scenario().engine
    for s in range(120):
        engine.feed(_obs(s, "MDC_PULS_OXIM_SAT_O2", 94.0, "%", "mon"))
        for fifth in (0.0, 0.2, 0.4, 0.6, 0.8):
            if s >= 3:
                engine.feed(_obs(s - 3 + fifth, "MDC_PULS_OXIM_SAT_O2", 90.0, "%", "central"))
    spo2 = engine._beds["ICU-1"].series["MDC_PULS_OXIM_SAT_O2"]
    assert (spo2.value, spo2.device, spo2.cadence()) == (94.0, "mon", 1.0)
    assert not [k for k in engine.warnings if k.startswith("out_of_order")]
