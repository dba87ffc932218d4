"""Alert lifecycle: one start, updates on worsening, one end, hysteresis, latching,
escalation unless acknowledged, stable ids; and the state table itself."""

from __future__ import annotations

from core.model import AlertState, Phase
from monitors import default_ruleset
from monitors.engine.lifecycle import TABLE, EpState, Trigger, step


def _hypoxemia(sc, spo2):  # type: ignore[no-untyped-def]
    sc.series(0, 1200, 1.0, spo2=spo2)
    return sc


def test_one_start_updates_when_worse_one_end(scenario, make_baseline) -> None:
    def spo2(s: float) -> float:
        if 300 <= s < 360:
            return 86  # start
        if 360 <= s < 420:
            return 85.5  # less than 2 points worse: no update
        if 420 <= s < 480:
            return 83  # worse by 3: update
        return 94

    sc = make_baseline(scenario())
    sc.infusion(0)
    _hypoxemia(sc, spo2).run(until=1200)
    alerts = sc.of("hypoxemia_spo2")
    assert [a.phase.value for a in alerts] == ["start", "update", "end"]
    assert len({a.id for a in alerts}) == 1
    assert alerts[1].evidence["values"]["MDC_PULS_OXIM_SAT_O2"] == 83
    end = alerts[-1]
    assert end.state is AlertState.RESOLVED and end.evidence["ended_by"] == "condition cleared"
    assert end.t.isoformat().endswith("08:08:30+00:00")  # 30 s clear time after 08:08:00


def test_hysteresis_keeps_an_alert_hovering_at_the_limit(scenario, make_baseline) -> None:
    # 86 → 89 (above 88 but within the 2-point hysteresis) → 91 clears
    sc = make_baseline(scenario())
    sc.infusion(0)
    _hypoxemia(sc, lambda s: 86 if 300 <= s < 400 else (89 if 400 <= s < 800 else 94))
    sc.run(until=1200)
    alerts = sc.of("hypoxemia_spo2")
    assert [a.phase.value for a in alerts] == ["start", "end"]
    assert alerts[-1].t.isoformat().endswith("08:13:50+00:00")  # 800 s + 30 s clear


def test_escalation_after_the_set_time_unless_acknowledged(scenario, make_baseline) -> None:
    sc = make_baseline(scenario(escalate_after_s=120))
    sc.infusion(0)
    sc.event(600, "arrhythmia", rhythm="VT")  # high priority
    sc.event(700, "clinical_sign", sign="urticaria")  # medium: never escalates
    sc.run(until=1000)
    esc = [a for a in sc.alerts if a.phase is Phase.ESCALATE]
    assert [(a.rule, a.t.isoformat()) for a in esc] == [("arrhythmia", "2026-03-01T08:12:00+00:00")]
    assert esc[0].evidence["escalated_after_s"] == 120

    sc2 = make_baseline(scenario(escalate_after_s=120))
    sc2.infusion(0)
    sc2.event(600, "arrhythmia", rhythm="VT")
    sc2.ack(660, "arrhythmia")
    sc2.run(until=1000)
    assert [a for a in sc2.alerts if a.phase is Phase.ESCALATE] == []
    end = sc2.of("arrhythmia")[-1]
    assert end.phase is Phase.END and end.acked_by == "nurse"


def test_latching_and_acknowledge(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0)
    sc.event(600, "clinical_sign", sign="wheeze")
    sc.run(until=600 + 1800 + 5)
    start, end = sc.of("transfusion_reaction_airway")
    assert start.state is AlertState.ACTIVE and end.state is AlertState.RESOLVED
    assert end.acked_by is None  # latched: still waiting for someone
    eng = sc.engine
    latched = eng.beds()[0].active_alerts
    assert latched >= 1  # kept until acknowledged
    eng.acknowledge(start.id, "nurse", end.t)
    assert eng.beds()[0].active_alerts == latched - 1
    eng.acknowledge(start.id, "nurse", end.t)  # idempotent, unknown ids ignored
    eng.acknowledge("no-such-id", "nurse", end.t)


def test_replay_is_deterministic(scenario, make_baseline) -> None:
    def run():  # type: ignore[no-untyped-def]
        sc = make_baseline(scenario())
        sc.infusion(0)
        _hypoxemia(sc, lambda s: 80 if 300 <= s < 400 else 94)
        sc.event(500, "arrhythmia", rhythm="VF")
        return [(a.id, a.phase, a.t, a.evidence) for a in sc.run(until=1200)]

    assert run() == run()


def test_state_table() -> None:
    assert step(None, Trigger.CONFIRMED) == (EpState.ACTIVE, Phase.START)
    assert step(EpState.ACTIVE, Trigger.CLEAR) == (EpState.LATCHED, Phase.END)
    assert step(EpState.ACKNOWLEDGED, Trigger.CLEAR) == (EpState.CLOSED, Phase.END)
    assert step(EpState.LATCHED, Trigger.ACK) == (EpState.CLOSED, None)
    assert step(EpState.ACKNOWLEDGED, Trigger.OVERDUE) is None  # acknowledged: no escalation
    assert step(EpState.CLOSED, Trigger.WORSE) is None
    assert all(phase is not Phase.START for (s, _), (_, phase) in TABLE.items() if s is not None)


def test_no_end_invented_and_beds_summary(scenario, make_baseline) -> None:
    sc = make_baseline(scenario())
    sc.infusion(0, arm="cells")
    sc.series(0, 100, 1.0, spo2=80)
    sc.run(until=100)
    assert sc.phases("hypoxemia_spo2") == ["start"]
    (bed,) = sc.engine.beds()
    assert bed.bed == "ICU-1" and bed.weight_kg == 70
    assert bed.baseline["MDC_ECG_HEART_RATE"] == 90.0
    # SpO2 is compared with its baseline (hypoxemia when already low, issue 13); EtCO2 is not
    assert bed.baseline["MDC_PULS_OXIM_SAT_O2"] == 94.0
    assert "MDC_AWAY_CO2_ET" not in bed.baseline
    assert bed.baseline["IAEW_SF_RATIO"] == 188.0
    assert set(bed.windows) == {"6h", "24h"}
    assert bed.active_alerts >= 1
    # blinding: the arm given with the start never reaches an alert (stations show evidence)
    assert "arm" not in sc.of("hypoxemia_spo2")[0].evidence
    assert default_ruleset().latching is True
