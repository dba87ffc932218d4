"""Trial records: blood gases and exclusion confirmations per patient, the observation
nearest a time, per-device data coverage, and a patient's audit entries.

Tables (migration 0002): `blood_gases` (entered arterial gases; FiO2 and PEEP are read from
the ventilator's observations at the gas's time, not copied), `exclusion_answers` (one row
per confirmation; the newest per criterion counts, the older ones are the history).
Migration 0005 keeps each gas as entered (`gas_unit`, `pao2_entered`, `paco2_entered`; NULL
for gases entered before it, in mmHg) beside the exact mmHg values, and adds the enrolment
facts, the product record, adjudications and adverse events (`_enrolment`, `_adverse`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    Double,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    select,
)
from sqlalchemy.engine import RowMapping

from app.store._adverse import AdverseEventQueries
from app.store._data import read_observations
from app.store._enrolment import EnrolmentQueries
from app.store._frame_reads import frame_rows, last_usable_time
from app.store._frames import from_micros
from app.store.base import StoreBase, inserted_id
from app.store.schema import BigId, audit_log, metadata, patients
from app.store.types import UTCDateTime
from core.model import Observation

blood_gases = Table(
    "blood_gases",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("study_id", String(), ForeignKey("patients.study_id"), nullable=False),
    Column("t", UTCDateTime(), nullable=False),
    Column("pao2_mmhg", Double(), nullable=True),
    Column("paco2_mmhg", Double(), nullable=True),
    Column("ph", Double(), nullable=True),
    Column("fio2_pct", Double(), nullable=True),
    Column("entered_by", String(), nullable=False),
    Column("entered_at", UTCDateTime(), nullable=False),
    Column("note", Text(), nullable=True),
    Column("gas_unit", String(), nullable=True),  # as entered: "mmHg" or "kPa"
    Column("pao2_entered", Double(), nullable=True),
    Column("paco2_entered", Double(), nullable=True),
    Index("ix_blood_gases_study_id_t", "study_id", "t"),
)

exclusion_answers = Table(
    "exclusion_answers",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("study_id", String(), ForeignKey("patients.study_id"), nullable=False),
    Column("item", String(), nullable=False),
    Column("answer", String(), nullable=False),
    Column("by", String(), nullable=False),
    Column("t", UTCDateTime(), nullable=False),
    Column("note", Text(), nullable=True),
    CheckConstraint("answer IN ('present', 'absent')", name="answer"),
    Index("ix_exclusion_answers_study_id_item_t", "study_id", "item", "t"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class BloodGasRow:
    """An entered arterial blood gas (`fio2_pct` only when entered by hand)."""

    id: int
    study_id: str
    t: datetime
    pao2_mmhg: float | None
    paco2_mmhg: float | None
    ph: float | None
    fio2_pct: float | None
    entered_by: str
    entered_at: datetime
    note: str | None
    gas_unit: str | None = None
    pao2_entered: float | None = None
    paco2_entered: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExclusionRow:
    """One confirmation of one exclusion criterion."""

    id: int
    study_id: str
    item: str
    present: bool
    by: str
    t: datetime
    note: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceCoverage:
    """How completely one device's data covers a window: its gaps longer than the limit."""

    device: str
    first: datetime | None
    last: datetime | None
    samples: int  # distinct sample times
    gaps: tuple[tuple[datetime, datetime], ...]  # (last sample before, first sample after)
    since: datetime
    until: datetime
    min_gap_s: float

    @property
    def missing_s(self) -> float:
        """Seconds of the window not covered: the gaps, and the stretches before the first and
        after the last sample when those are longer than the limit."""
        total = sum((b - a).total_seconds() for a, b in self.gaps)
        if self.first is None or self.last is None:
            return (self.until - self.since).total_seconds()
        head = (self.first - self.since).total_seconds()
        tail = (self.until - self.last).total_seconds()
        total += head if head > self.min_gap_s else 0.0
        total += tail if tail > self.min_gap_s else 0.0
        return total

    @property
    def coverage_pct(self) -> float:
        span = (self.until - self.since).total_seconds()
        if span <= 0:
            return 0.0
        return max(0.0, min(100.0, 100.0 * (1.0 - self.missing_s / span)))


class TrialQueries(EnrolmentQueries, AdverseEventQueries, StoreBase):
    # ── blood gases ─────────────────────────────────────────────────────────────────────
    async def add_blood_gas(
        self,
        *,
        study_id: str,
        t: datetime,
        entered_by: str,
        pao2_mmhg: float | None = None,
        paco2_mmhg: float | None = None,
        ph: float | None = None,
        fio2_pct: float | None = None,
        note: str | None = None,
        entered_at: datetime | None = None,
        entered: tuple[str, float | None, float | None] | None = None,
    ) -> BloodGasRow:
        """Record a blood gas for a patient (unknown study id → KeyError); `entered` is the
        (unit, PaO2, PaCO2) as typed, when it was not mmHg."""
        for name, v in (("pao2_mmhg", pao2_mmhg), ("paco2_mmhg", paco2_mmhg), ("ph", ph)):
            if v is not None and not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number, not {v!r}")
        if pao2_mmhg is None and paco2_mmhg is None and ph is None:
            raise ValueError("a blood gas needs at least one of pao2_mmhg, paco2_mmhg, ph")
        if fio2_pct is not None and not 21 <= fio2_pct <= 100:
            raise ValueError(f"fio2_pct must be 21..100 %, not {fio2_pct!r}")
        if not entered_by:
            raise ValueError("entered_by is empty")
        values = {
            "study_id": study_id,
            "t": t,
            "pao2_mmhg": pao2_mmhg,
            "paco2_mmhg": paco2_mmhg,
            "ph": ph,
            "fio2_pct": fio2_pct,
            "entered_by": entered_by,
            "entered_at": entered_at or self._clock.now(),
            "note": note,
        }
        if entered is not None:
            values |= dict(zip(("gas_unit", "pao2_entered", "paco2_entered"), entered, strict=True))
        async with self._write() as conn:
            if await conn.scalar(_patient_id(study_id)) is None:
                raise KeyError(study_id)
            result = await conn.execute(blood_gases.insert().values(**values))
            new_id = inserted_id(result)
            row = (
                (await conn.execute(select(blood_gases).where(blood_gases.c.id == new_id)))
                .mappings()
                .one()
            )
        return _gas(row)

    async def blood_gases(self, study_id: str) -> list[BloodGasRow]:
        """A patient's blood gases, oldest first."""
        c = blood_gases.c
        stmt = select(blood_gases).where(c.study_id == study_id).order_by(c.t, c.id)
        async with self._read() as conn:
            return [_gas(r) for r in (await conn.execute(stmt)).mappings()]

    # ── exclusion criteria ──────────────────────────────────────────────────────────────
    async def confirm_exclusion(
        self,
        *,
        study_id: str,
        item: str,
        present: bool,
        by: str,
        t: datetime,
        note: str | None = None,
    ) -> ExclusionRow:
        """Record a clinician's answer for one exclusion criterion, audit-logged in the same
        transaction (unknown study id → KeyError)."""
        if not item or not by:
            raise ValueError("item and by are required")
        answer = "present" if present else "absent"
        async with self._write() as conn:
            if await conn.scalar(_patient_id(study_id)) is None:
                raise KeyError(study_id)
            result = await conn.execute(
                exclusion_answers.insert().values(
                    study_id=study_id, item=item, answer=answer, by=by, t=t, note=note
                )
            )
            new_id = inserted_id(result)
            await conn.execute(
                audit_log.insert().values(
                    t=t,
                    actor=by,
                    action="trial.exclusion",
                    target=study_id,
                    details={"item": item, "answer": answer, "note": note},
                )
            )
            row = (
                (
                    await conn.execute(
                        select(exclusion_answers).where(exclusion_answers.c.id == new_id)
                    )
                )
                .mappings()
                .one()
            )
        return _answer(row)

    async def exclusion_history(self, study_id: str) -> list[ExclusionRow]:
        """Every answer given for the patient, oldest first."""
        c = exclusion_answers.c
        stmt = select(exclusion_answers).where(c.study_id == study_id).order_by(c.t, c.id)
        async with self._read() as conn:
            return [_answer(r) for r in (await conn.execute(stmt)).mappings()]

    async def exclusions(self, study_id: str) -> dict[str, ExclusionRow]:
        """The answer in force per criterion (the newest)."""
        out: dict[str, ExclusionRow] = {}
        for row in await self.exclusion_history(study_id):
            out[row.item] = row
        return out

    # ── observations around a time ─────────────────────────────────────────────────────
    async def nearest_observation(
        self, bed: str, code: str, t: datetime, within_s: float, *, before_only: bool = False
    ) -> Observation | None:
        """The usable observation of `code` at `bed` nearest to `t`, at most `within_s` away
        (the earlier one on a tie: the setting in force when a blood gas was drawn);
        `before_only`: the last one at or before `t` (the FiO2 a gas was drawn at)."""
        lo, hi = t - timedelta(seconds=within_s), t + timedelta(seconds=within_s)
        async with self._read() as conn:
            near = await read_observations(conn, bed, [code], lo, t if before_only else hi)
        usable = [o for o in near if o.usable]
        before = [o for o in usable if o.t <= t][-1:]
        after = [] if before_only else [o for o in usable if o.t > t][:1]
        found = before + after
        if not found:
            return None
        return min(found, key=lambda o: abs((o.t - t).total_seconds()))

    async def last_observation_time(
        self, bed: str, codes: list[str], until: datetime
    ) -> datetime | None:
        """The time of the newest usable observation of any of `codes` at or before `until`."""
        async with self._read() as conn:
            newest = await last_usable_time(conn, bed, set(codes), until)
        return None if newest is None else from_micros(newest)

    # ── data completeness ───────────────────────────────────────────────────────────────
    async def device_coverage(
        self, bed: str, since: datetime, until: datetime, *, min_gap_s: float = 60.0
    ) -> list[DeviceCoverage]:
        """Per device that sent observations to `bed` in [since, until]: its sample count,
        first and last sample, and every gap longer than `min_gap_s` between two samples."""
        if until <= since:
            raise ValueError("device_coverage: `until` must be after `since`")
        times: dict[str, set[int]] = {}
        async with self._read() as conn:
            for stream, t, *_ in await frame_rows(conn, bed, None, since, until):
                times.setdefault(stream.device or "(unknown)", set()).add(t)
        out = []
        for device in sorted(times):
            ts = [from_micros(t) for t in sorted(times[device])]
            gaps = tuple(
                (a, b) for a, b in itertools.pairwise(ts) if (b - a).total_seconds() > min_gap_s
            )
            out.append(
                DeviceCoverage(
                    device=device,
                    first=ts[0],
                    last=ts[-1],
                    samples=len(ts),
                    gaps=gaps,
                    since=since,
                    until=until,
                    min_gap_s=min_gap_s,
                )
            )
        return out

    # ── audit ───────────────────────────────────────────────────────────────────────────
    async def audit_for(self, target: str, *, prefix: str | None = None) -> list[dict[str, Any]]:
        """Audit entries about `target` (a study id, a bed), oldest first; `prefix` filters
        the action (`trial.` for the trial's own entries)."""
        c = audit_log.c
        stmt = select(audit_log).where(c.target == target).order_by(c.t, c.id)
        if prefix is not None:
            stmt = stmt.where(c.action.startswith(prefix))
        async with self._read() as conn:
            return [
                {
                    "t": r["t"],
                    "actor": r["actor"],
                    "action": r["action"],
                    "details": dict(r["details"] or {}),
                }
                for r in (await conn.execute(stmt)).mappings()
            ]


def _patient_id(study_id: str) -> Any:
    return select(patients.c.id).where(patients.c.study_id == study_id)


def _gas(row: RowMapping) -> BloodGasRow:
    return BloodGasRow(
        id=row["id"],
        study_id=row["study_id"],
        t=row["t"],
        pao2_mmhg=row["pao2_mmhg"],
        paco2_mmhg=row["paco2_mmhg"],
        ph=row["ph"],
        fio2_pct=row["fio2_pct"],
        entered_by=row["entered_by"],
        entered_at=row["entered_at"],
        note=row["note"],
        gas_unit=row["gas_unit"],
        pao2_entered=row["pao2_entered"],
        paco2_entered=row["paco2_entered"],
    )


def _answer(row: RowMapping) -> ExclusionRow:
    return ExclusionRow(
        id=row["id"],
        study_id=row["study_id"],
        item=row["item"],
        present=row["answer"] == "present",
        by=row["by"],
        t=row["t"],
        note=row["note"],
    )
