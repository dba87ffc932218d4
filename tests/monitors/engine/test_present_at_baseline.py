"""Conditions present at baseline (issue 13 item 1): an ARDS patient already at MAP 63,
SpO2 90, plateau 30 and driving pressure 16 before the infusion raises nothing while stable;
a true fall from that low baseline still alerts within minutes."""

from __future__ import annotations

from core.model import Phase

H = 3600.0
ARDS = {"map": 63, "sbp": 95, "spo2": 90, "pplat": 30, "peep": 14, "ppeak": 36, "fio2": 60}


def _starts(sc, rule):  # type: ignore[no-untyped-def]
    return [a for a in sc.of(rule) if a.phase is Phase.START]


def _ards(sc, start, end, **over):  # type: ignore[no-untyped-def]
    return sc.steady(start, end, 5.0, **{**ARDS, **over})


def _noise(s: float) -> float:
    return ((int(s) * 7919) % 11 - 5) / 5.0  # deterministic ±1


def test_stable_ards_patient_raises_nothing_before_or_after(scenario) -> None:
    sc = scenario()
    _ards(
        sc,
        -2 * H,
        6 * H,
        map=lambda s: 63 + 2 * _noise(s),
        spo2=lambda s: 90 + _noise(s),
        pplat=lambda s: 30 + _noise(s),
    )
    sc.infusion(0)
    sc.event(45 * 60, "infusion_end")
    sc.run(until=6 * H)
    clinical = [a for a in sc.alerts if a.category != "technical" and a.phase is Phase.START]
    assert clinical == []


def test_map_falling_from_63_to_50_alerts_within_minutes(scenario) -> None:
    sc = scenario()
    _ards(sc, -H, 2 * H, map=lambda s: 63 if s < H else 50)
    sc.infusion(0)
    sc.run(until=2 * H)
    (a,) = _starts(sc, "hypotension")
    assert (a.onset.timestamp() - sc.engine.beds()[0].infusion_start.timestamp()) == H  # type: ignore[union-attr]
    assert (a.t - a.onset).total_seconds() <= 180
    assert a.evidence["reference"] == {"MDC_PRESS_BLD_ART_MEAN": 63.0}
    assert any("already at baseline" in n for n in a.evidence["notes"])


def test_map_60_from_a_63_baseline_is_not_new(scenario) -> None:
    sc = scenario()
    _ards(sc, -H, 2 * H, map=lambda s: 63 if s < H else 60)
    sc.infusion(0)
    sc.run(until=2 * H)
    assert sc.of("hypotension") == []


def test_map_under_65_from_a_normal_baseline_is_new(scenario) -> None:
    sc = scenario()
    _ards(sc, -H, 2 * H, map=lambda s: 85 if s < H else 62)
    sc.infusion(0)
    sc.run(until=2 * H)
    assert _starts(sc, "hypotension")


def test_spo2_falling_from_90_to_80_alerts_but_suction_dips_do_not(scenario) -> None:
    sc = scenario()
    dips = {1800 + k * 600 for k in range(5)}

    def spo2(s: float) -> float:
        if s >= 2 * H:
            return 80
        return 86 if any(d <= s < d + 30 for d in dips) else 90

    _ards(sc, -H, 3 * H, spo2=spo2)
    sc.infusion(0)
    sc.run(until=3 * H)
    (a,) = _starts(sc, "hypoxemia_spo2")
    assert a.onset.timestamp() - sc.engine.beds()[0].infusion_start.timestamp() == 2 * H  # type: ignore[union-attr]
    assert (a.t - a.onset).total_seconds() <= 60


def test_plateau_30_at_baseline_alerts_only_when_clearly_higher(scenario) -> None:
    sc = scenario()
    _ards(sc, -H, 3 * H, pplat=lambda s: 30 if s < 2 * H else 34)
    sc.infusion(0)
    sc.run(until=3 * H)
    (a,) = _starts(sc, "airway_plateau_high")
    assert a.onset.timestamp() - sc.engine.beds()[0].infusion_start.timestamp() == 2 * H  # type: ignore[union-attr]
    dp = _starts(sc, "airway_driving_pressure_high")
    assert dp and dp[0].evidence["values"] == {"IAEW_DRIVING_PRESSURE": 20.0}


def test_before_the_infusion_a_low_map_held_all_along_is_not_new(scenario) -> None:
    sc = scenario()
    _ards(sc, -4 * H, -H, map=lambda s: 63 + 2 * _noise(s))
    sc.run(until=-H)
    assert sc.of("hypotension") == []
