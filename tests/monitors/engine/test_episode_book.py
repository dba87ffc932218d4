"""The one episode lifecycle: `EpisodeBook` (ids, acknowledgement, latching) as the engine and
the order check use it. Alert ids are pinned: a refactor must not change them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from core.model import AlertState, DeviceEvent, Phase
from monitors import build_engine, default_ruleset
from monitors.engine.lifecycle import EpisodeBook, EpState
from monitors.trial.order_check import OrderCheck

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
NS = uuid.UUID("00000000-0000-0000-0000-000000000001")


def event(s: float, bed: str, name: str, **fields: object) -> DeviceEvent:
    return DeviceEvent(
        t=T0 + timedelta(seconds=s), bed=bed, event=name, device="pump-study", fields=fields
    )


def test_ids_are_uuid5_of_namespace_bed_rule_onset() -> None:
    book = EpisodeBook(NS)
    ep = book.open(bed="ICU-1", rule_id="r", onset=T0, started=0.0, iae=False)
    assert ep.id == str(uuid.uuid5(NS, "ICU-1\x1fr\x1f2026-03-01T08:00:00+00:00"))
    assert book.by_id == {ep.id: ep} and book.active("ICU-1") == 1 and book.active("x") == 0


def test_latching_end_waits_for_the_acknowledgement() -> None:
    book = EpisodeBook(NS)
    ep = book.open(bed="b", rule_id="r", onset=T0, started=0.0, iae=True)
    assert book.end(ep, T0 + timedelta(seconds=5))
    assert ep.state is EpState.LATCHED and ep.ended_at is not None and ep.id in book.by_id
    assert not book.end(ep, T0)  # already over
    assert book.acknowledge(ep.id, "nina", T0) is ep
    assert ep.state is EpState.CLOSED and ep.acked_by == "nina" and not book.by_id
    assert book.acknowledge(ep.id, "nina", T0) is None  # forgotten: ignored


def test_acknowledged_then_ended_or_unlatched_is_forgotten() -> None:
    book = EpisodeBook(NS)
    ep = book.open(bed="b", rule_id="r", onset=T0, started=0.0, iae=False)
    assert book.acknowledge(ep.id, "nina", T0) is ep and ep.state is EpState.ACKNOWLEDGED
    assert book.end(ep, T0) and ep.state is EpState.CLOSED and not book.by_id
    unlatched = EpisodeBook(NS, latching=False)
    ep = unlatched.open(bed="b", rule_id="r", onset=T0, started=0.0, iae=False)
    assert unlatched.end(ep, T0) and ep.state is EpState.CLOSED and not unlatched.by_id
    assert unlatched.acknowledge("no-such-id", "nina", T0) is None


def test_the_engine_and_the_order_check_keep_their_alert_ids() -> None:
    engine = build_engine(default_ruleset())
    engine.feed(event(0, "ICU-1", "infusion_start", weight_kg=70, volume_ml=100))
    (a,) = engine.feed(event(1200, "ICU-1", "clinical_sign", sign="wheeze"))
    assert a.rule == "transfusion_reaction_airway"
    assert a.id == "080beeae-067f-528b-baf1-577c2a0767ea"
    check = OrderCheck()
    prog = event(0, "B1", "pump_program", state="stopped", rate_ml_h=300, vtbi_ml=120)
    (b,) = check.feed(prog)
    assert b.rule == "infusion_programme_off_order"
    assert b.id == "f1160ce2-f55d-587d-b0aa-c54659cfa798"


def test_one_acknowledge_reaches_the_episode_whichever_part_raised_it() -> None:
    engine = build_engine(default_ruleset())
    (prog,) = engine.feed(
        event(0, "B1", "pump_program", state="stopped", rate_ml_h=300, vtbi_ml=120)
    )
    engine.feed(event(10, "B1", "infusion_start", weight_kg=70, volume_ml=100))
    (sign,) = engine.feed(event(20, "B1", "clinical_sign", sign="wheeze"))
    # baseline_missing, rules_cannot_assess (no data at all: issue 13) and the sign
    assert engine.beds()[0].active_alerts == 3
    engine.acknowledge(prog.id, "nina", T0)
    engine.acknowledge(sign.id, "nina", T0)
    ends = engine.feed(event(30, "B1", "pump_program", state="running", rate_ml_h=133, vtbi_ml=100))
    assert [(x.phase, x.state, x.acked_by) for x in ends] == [
        (Phase.END, AlertState.RESOLVED, "nina")
    ]
    assert engine.beds()[0].active_alerts == 3  # the rules' episodes: still open
    late = engine.tick(T0 + timedelta(seconds=20 + 1800))
    (end,) = [x for x in late if x.id == sign.id]
    assert end.phase is Phase.END and end.acked_by == "nina"
