"""A sample report from a shipped scenario, in a throwaway SQLite database: what
`iaewatch report --scenario NAME` shows and how docs/sample-report.pdf is made.

The patient is enrolled 9 h before the infusion (weight from the scenario, age 54, ARDS onset
40 h before the infusion), a qualifying blood gas is entered 8 h 30 min before it, every
exclusion criterion is confirmed absent, consent, imaging, airway and the product are recorded
(`app.report.sample_trial`), and the scenario runs from then to 24 h after the infusion start;
a nurse acknowledges every alert two minutes after it starts. At the end an investigator
confirms the first clinical episode's alerts as IAEs, grouped into one signed adverse event.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from app.report.data import Report, build_report
from app.report.sample_trial import adjudicate_first_episode, record_enrolment
from app.report.scenario import replay_scenario
from app.store import Store, upgrade
from core.clock import VirtualClock
from monitors import build_engine
from monitors.rules.ruleset import RuleSet
from monitors.trial.eligibility import EXCLUSIONS
from simulators.recording import DEFAULT_INFUSION_AT
from simulators.scenario import Scenario, load_scenario, resolve_scenario

LEAD_S = 9 * 3600.0


async def sample_report(
    scenario: str | Path,
    ruleset: RuleSet,
    *,
    study_id: str = "DEMO-001",
    period: float = 5.0,
    include_arm: bool = False,
    gap_s: float = 60.0,
) -> Report:
    """Run `scenario` (a shipped name or a path) and build the report of its first bed."""
    sc: Scenario = load_scenario(resolve_scenario(scenario))
    sc = replace(sc, start=min(sc.start, -LEAD_S), beds=sc.beds[:1])
    bed = sc.beds[0]
    t0 = DEFAULT_INFUSION_AT
    with tempfile.TemporaryDirectory(prefix="iaewatch-sample-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'sample.db'}"
        await upgrade(url)
        clock = VirtualClock(t0 - timedelta(seconds=LEAD_S))
        store = await Store.open(url, clock=clock)
        try:
            await store.upsert_bed(bed.name)
            await store.enrol_patient(
                bed=bed.name,
                study_id=study_id,
                weight_kg=bed.weight_kg,
                arm="cells",
                ards_onset=t0 - timedelta(hours=40),
                age_years=54,
                enrolled_at=t0 - timedelta(seconds=LEAD_S),
            )
            # the qualifying gas, after the ventilator has been reporting for 30 min
            await store.add_blood_gas(
                study_id=study_id,
                t=t0 - timedelta(hours=8, minutes=30),
                entered_by="dr.lee",
                pao2_mmhg=72.0,
                paco2_mmhg=48.0,
                ph=7.33,
                note="qualifying gas",
            )
            confirmed = t0 - timedelta(minutes=45)
            for item, _label in EXCLUSIONS:
                await store.confirm_exclusion(
                    study_id=study_id, item=item, present=False, by="dr.lee", t=confirmed
                )
            await record_enrolment(store, study_id, confirmed, t0)
            engine = build_engine(ruleset)
            result = await replay_scenario(
                store, sc, engine, period=period, ack_after_s=120.0, ack_by="nurse.kim"
            )
            now = (result.last_t or t0) + timedelta(minutes=5)
            await adjudicate_first_episode(store, study_id, bed.name, now)
            return await build_report(
                store,
                study_id,
                _at_least(now, t0 + timedelta(hours=24)),
                ruleset=ruleset,
                include_arm=include_arm,
                gap_s=gap_s,
            )
        finally:
            await store.close()


def _at_least(t: datetime, floor: datetime) -> datetime:
    return t if t >= floor else floor
