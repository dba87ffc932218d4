"""Respiratory mechanics (issue 13 item 6): driving pressure from one hold, OI at each blood
gas, continuous OSI, and static compliance from baseline."""

from __future__ import annotations

from core.model import EventSource, Phase

H = 3600.0


def _starts(sc, rule):  # type: ignore[no-untyped-def]
    return [a for a in sc.of(rule) if a.phase is Phase.START]


def test_lowering_peep_makes_an_old_plateau_stale_not_a_driving_pressure(scenario) -> None:
    # plateau charted from a hold at PEEP 12 (ΔP 14), then PEEP lowered to 6: no "ΔP 19"
    sc = scenario()
    sc.steady(-H, 2 * H, 5.0, pplat=None, peep=lambda s: 12 if s < H else 6)
    for t in (-3000, -1500, -600, 600):
        sc.obs(t, "pplat", 26)
    sc.infusion(0)
    sc.run(until=2 * H)
    assert sc.of("airway_driving_pressure_high") == []
    assert sc.engine.warnings["plateau_stale:ICU-1"] == 1


def test_driving_pressure_pairs_the_plateau_with_the_peep_of_its_hold(scenario) -> None:
    sc = scenario()
    sc.steady(-H, 2 * H, 5.0, pplat=None, peep=lambda s: 12 if s < H else 6)
    for t in (-3000, -1500, -600, 600):
        sc.obs(t, "pplat", 26)
    for t in range(int(H) + 600, int(2 * H), 300):  # new holds at PEEP 6: ΔP 20
        sc.obs(t, "pplat", 26)
    sc.infusion(0)
    sc.run(until=2 * H)
    (a,) = _starts(sc, "airway_driving_pressure_high")
    assert a.evidence["values"] == {"IAEW_DRIVING_PRESSURE": 20.0}


def test_oxygenation_index_rise_at_a_blood_gas(scenario) -> None:
    sc = scenario()
    sc.steady(-H, 3 * H, 5.0, pmean=20, fio2=60)
    sc.event(-900, "blood_gas", pao2_mmhg=80, source=EventSource.CLINICIAN)  # OI 15
    sc.infusion(0)
    sc.event(H, "blood_gas", pao2_mmhg=75, source=EventSource.CLINICIAN)  # OI 16: no
    sc.event(2 * H, "blood_gas", pao2_mmhg=55, source=EventSource.CLINICIAN)  # OI 21.8: +45 %
    sc.run(until=3 * H)
    (a,) = _starts(sc, "oxygenation_index_rise")
    assert a.onset.timestamp() - sc.engine.beds()[0].infusion_start.timestamp() == 2 * H  # type: ignore[union-attr]
    assert a.evidence["baseline"] == {"IAEW_OXYGENATION_INDEX": 15.0}


def test_osi_rise_held_five_minutes(scenario) -> None:
    sc = scenario()
    sc.steady(
        -H,
        3 * H,
        5.0,
        pmean=lambda s: 20 if s < H else 26,
        fio2=lambda s: 60 if s < H else 80,
        spo2=lambda s: 94 if s < H else 91,
    )
    sc.infusion(0)
    sc.run(until=3 * H)
    (a,) = _starts(sc, "oxygen_saturation_index_rise")
    assert a.evidence["held_s"] >= 300


def test_static_compliance_fall_from_baseline(scenario) -> None:
    sc = scenario()
    sc.steady(-H, 3 * H, 5.0, vte=420, pplat=lambda s: 24 if s < H else 28, peep=10)
    sc.infusion(0)
    sc.run(until=3 * H)
    (a,) = _starts(sc, "compliance_fall")  # 420/14 = 30 → 420/18 = 23.3: −22 %
    assert a.evidence["baseline"] == {"IAEW_STATIC_COMPLIANCE": 30.0}
