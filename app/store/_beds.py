"""Beds, patients, devices (and their connection history), infusions."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from app.store.base import StoreBase, inserted_id
from app.store.rows import (
    Arm,
    BedRow,
    DeviceConnectionRow,
    DeviceRow,
    InfusionRow,
    PatientRow,
)
from app.store.schema import beds, device_connections, devices, infusions, patients


class BedQueries(StoreBase):
    # ── beds ────────────────────────────────────────────────────────────────────────────
    async def upsert_bed(self, bed: str, *, label: str | None = None) -> None:
        """Add a bed, or change its label (None keeps the label it has)."""
        _require(bed, "bed")
        stmt = self._upsert(beds).values(bed=bed, label=label)
        if label is None:
            stmt = stmt.on_conflict_do_nothing(index_elements=["bed"])
        else:
            stmt = stmt.on_conflict_do_update(index_elements=["bed"], set_={"label": label})
        async with self._write() as conn:
            await conn.execute(stmt)

    async def list_beds(self) -> list[BedRow]:
        """Every configured bed, in natural order (ICU-2 before ICU-10), with patient and
        current infusion."""
        async with self._read() as conn:
            bed_rows = (await conn.execute(select(beds))).mappings().all()
            current = (
                await conn.execute(
                    select(patients)
                    .where(patients.c.discharged_at.is_(None), patients.c.bed.is_not(None))
                    .order_by(patients.c.enrolled_at, patients.c.id)
                )
            ).mappings()
            by_bed = {row["bed"]: _patient(row) for row in current}  # latest enrolment wins
            ranked = select(
                infusions,
                func.row_number()
                .over(
                    partition_by=infusions.c.bed,
                    order_by=(infusions.c.started_at.desc(), infusions.c.id.desc()),
                )
                .label("rank"),
            ).subquery()
            latest = (await conn.execute(select(ranked).where(ranked.c.rank == 1))).mappings()
            infusion_by_bed = {row["bed"]: _infusion(row) for row in latest}
        out = [
            BedRow(
                bed=row["bed"],
                label=row["label"],
                patient=by_bed.get(row["bed"]),
                infusion=_of_patient(infusion_by_bed.get(row["bed"]), by_bed.get(row["bed"])),
            )
            for row in bed_rows
        ]
        return sorted(out, key=lambda b: _natural(b.bed))

    # ── patients ────────────────────────────────────────────────────────────────────────
    async def enrol_patient(
        self,
        *,
        bed: str,
        study_id: str,
        weight_kg: float,
        arm: str,
        ards_onset: datetime | None,
        age_years: int | None = None,
        enrolled_at: datetime | None = None,
    ) -> PatientRow:
        """Put a trial patient in a bed (creating the bed if needed).

        The same study id again updates that patient (a corrected weight, a move to another
        bed). Whoever else occupied the bed is discharged at `enrolled_at` (default: now).
        """
        _require(bed, "bed")
        _require(study_id, "study_id")
        try:
            arm_value = Arm(arm)
        except ValueError:
            raise ValueError(f"arm must be one of {', '.join(Arm)}, not {arm!r}") from None
        if not (math.isfinite(weight_kg) and 0 < weight_kg < 500):
            raise ValueError(f"weight_kg must be a plausible weight in kg, not {weight_kg!r}")
        if age_years is not None and not 0 <= age_years < 130:
            raise ValueError(f"age_years must be 0..129, not {age_years!r}")
        t = enrolled_at or self._clock.now()
        fields: dict[str, Any] = {
            "bed": bed,
            "weight_kg": float(weight_kg),
            "arm": arm_value.value,
            "ards_onset": ards_onset,
            "age_years": age_years,
            "discharged_at": None,
        }
        async with self._write() as conn:
            await self._ensure_bed(conn, bed)
            await conn.execute(
                update(patients)
                .where(
                    patients.c.bed == bed,
                    patients.c.discharged_at.is_(None),
                    patients.c.study_id != study_id,
                )
                .values(discharged_at=t)
            )
            found = await conn.scalar(select(patients.c.id).where(patients.c.study_id == study_id))
            if found is None:
                await conn.execute(
                    patients.insert().values(study_id=study_id, enrolled_at=t, **fields)
                )
            else:
                await conn.execute(update(patients).where(patients.c.id == found).values(**fields))
            row = (
                (await conn.execute(select(patients).where(patients.c.study_id == study_id)))
                .mappings()
                .one()
            )
        return _patient(row)

    async def discharge_patient(self, study_id: str, *, t: datetime) -> PatientRow | None:
        """Mark a patient as gone from their bed (the bed then shows no patient)."""
        async with self._write() as conn:
            await conn.execute(
                update(patients)
                .where(patients.c.study_id == study_id, patients.c.discharged_at.is_(None))
                .values(discharged_at=t)
            )
            row = (
                (await conn.execute(select(patients).where(patients.c.study_id == study_id)))
                .mappings()
                .one_or_none()
            )
        return None if row is None else _patient(row)

    async def patient(self, study_id: str) -> PatientRow | None:
        async with self._read() as conn:
            row = (
                (await conn.execute(select(patients).where(patients.c.study_id == study_id)))
                .mappings()
                .one_or_none()
            )
        return None if row is None else _patient(row)

    async def patient_at_bed(self, bed: str) -> PatientRow | None:
        """The patient currently in `bed` (not discharged), if any."""
        async with self._read() as conn:
            return await self._patient_at_bed(conn, bed)

    # ── devices ─────────────────────────────────────────────────────────────────────────
    async def upsert_device(
        self, *, bed: str, device_id: str, kind: str, protocol: str, address: str
    ) -> None:
        """Add a device to a bed (creating the bed if needed) or update its description."""
        _require(bed, "bed")
        _require(device_id, "device_id")
        values = {"kind": kind, "protocol": protocol, "address": address}
        stmt = (
            self._upsert(devices)
            .values(bed=bed, device_id=device_id, **values)
            .on_conflict_do_update(index_elements=["bed", "device_id"], set_=values)
        )
        async with self._write() as conn:
            await self._ensure_bed(conn, bed)
            await conn.execute(stmt)

    async def list_devices(self, bed: str | None = None) -> list[DeviceRow]:
        stmt = select(devices).order_by(devices.c.bed, devices.c.device_id)
        if bed is not None:
            stmt = stmt.where(devices.c.bed == bed)
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [
            DeviceRow(
                bed=r["bed"],
                device_id=r["device_id"],
                kind=r["kind"],
                protocol=r["protocol"],
                address=r["address"],
                state=r["state"],
                state_since=r["state_since"],
            )
            for r in rows
        ]

    async def record_device_connection(
        self, *, bed: str, device_id: str, state: str, t: datetime, reason: str = ""
    ) -> None:
        """Append to a device's connection history and update its current state.

        A device not configured yet is added with an empty description rather than refused.
        A record older than the current state is kept in the history only.
        """
        _require(state, "state")
        async with self._write() as conn:
            await self._ensure_bed(conn, bed)
            await conn.execute(
                self._upsert(devices)
                .values(bed=bed, device_id=device_id, kind="", protocol="", address="")
                .on_conflict_do_nothing(index_elements=["bed", "device_id"])
            )
            await conn.execute(
                device_connections.insert().values(
                    bed=bed, device_id=device_id, state=state, t=t, reason=reason
                )
            )
            await conn.execute(
                update(devices)
                .where(
                    devices.c.bed == bed,
                    devices.c.device_id == device_id,
                    devices.c.state.is_distinct_from(state),
                    (devices.c.state_since.is_(None) | (devices.c.state_since <= t)),
                )
                .values(state=state, state_since=t)
            )

    async def device_history(
        self, bed: str, device_id: str, since: datetime | None = None
    ) -> list[DeviceConnectionRow]:
        """The device's connection changes, oldest first."""
        c = device_connections.c
        stmt = (
            select(device_connections)
            .where(c.bed == bed, c.device_id == device_id)
            .order_by(c.t, c.id)
        )
        if since is not None:
            stmt = stmt.where(c.t >= since)
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [
            DeviceConnectionRow(
                bed=r["bed"],
                device_id=r["device_id"],
                state=r["state"],
                t=r["t"],
                reason=r["reason"],
            )
            for r in rows
        ]

    # ── infusions ───────────────────────────────────────────────────────────────────────
    async def start_infusion(
        self,
        *,
        bed: str,
        t: datetime,
        weight_kg: float | None,
        volume_ml: float | None,
        planned_min: float | None,
        source: str,
        start_uncertainty_s: float | None = None,
        start_time_source: str | None = None,
    ) -> InfusionRow:
        """Record an infusion start for the bed's current patient.

        Idempotent while that infusion runs: a repeated start (pump and clinician both report
        it) returns the running infusion, only filling order fields it lacked. The weight
        defaults to the patient's. `start_time_source` ("pump", "seen_at_reconnect") and
        `start_uncertainty_s` say how sure the start time `t` is (None: seen live).
        """
        _require(bed, "bed")
        async with self._write() as conn:
            await self._ensure_bed(conn, bed)
            patient = await self._patient_at_bed(conn, bed)
            study_id = patient.study_id if patient else None
            running = await self._latest_infusion(conn, bed, running_only=True)
            if running is not None and running.study_id in (None, study_id):
                filled = {
                    name: value
                    for name, value in (
                        ("weight_kg", weight_kg),
                        ("volume_ml", volume_ml),
                        ("planned_min", planned_min),
                        ("study_id", study_id),
                    )
                    if value is not None and getattr(running, name) is None
                }
                if filled:
                    await conn.execute(
                        update(infusions).where(infusions.c.id == running.id).values(**filled)
                    )
                return await self._infusion_by_id(conn, running.id)
            if weight_kg is None and patient is not None:
                weight_kg = patient.weight_kg
            result = await conn.execute(
                infusions.insert().values(
                    bed=bed,
                    study_id=study_id,
                    started_at=t,
                    ended_at=None,
                    weight_kg=weight_kg,
                    volume_ml=volume_ml,
                    planned_min=planned_min,
                    source=source,
                    start_uncertainty_s=start_uncertainty_s,
                    start_time_source=start_time_source,
                )
            )
            return await self._infusion_by_id(conn, inserted_id(result))

    async def end_infusion(self, *, bed: str, t: datetime) -> InfusionRow | None:
        """End the bed's running infusion at `t`; None when none is running."""
        async with self._write() as conn:
            running = await self._latest_infusion(conn, bed, running_only=True)
            if running is None:
                return None
            await conn.execute(
                update(infusions).where(infusions.c.id == running.id).values(ended_at=t)
            )
            return await self._infusion_by_id(conn, running.id)

    async def current_infusion(self, bed: str) -> InfusionRow | None:
        """The bed's latest infusion (running or ended) — unless it belongs to a patient who
        has since left the bed."""
        async with self._read() as conn:
            latest = await self._latest_infusion(conn, bed, running_only=False)
            patient = await self._patient_at_bed(conn, bed)
        return _of_patient(latest, patient)

    async def infusions(
        self, *, bed: str | None = None, study_id: str | None = None
    ) -> list[InfusionRow]:
        """Infusions, oldest first (for reports)."""
        stmt = select(infusions).order_by(infusions.c.started_at, infusions.c.id)
        if bed is not None:
            stmt = stmt.where(infusions.c.bed == bed)
        if study_id is not None:
            stmt = stmt.where(infusions.c.study_id == study_id)
        async with self._read() as conn:
            return [_infusion(r) for r in (await conn.execute(stmt)).mappings()]

    # ── helpers ─────────────────────────────────────────────────────────────────────────
    async def _ensure_bed(self, conn: AsyncConnection, bed: str) -> None:
        await conn.execute(
            self._upsert(beds).values(bed=bed).on_conflict_do_nothing(index_elements=["bed"])
        )

    async def _patient_at_bed(self, conn: AsyncConnection, bed: str) -> PatientRow | None:
        row = (
            (
                await conn.execute(
                    select(patients)
                    .where(patients.c.bed == bed, patients.c.discharged_at.is_(None))
                    .order_by(patients.c.enrolled_at.desc(), patients.c.id.desc())
                    .limit(1)
                )
            )
            .mappings()
            .one_or_none()
        )
        return None if row is None else _patient(row)

    async def _latest_infusion(
        self, conn: AsyncConnection, bed: str, *, running_only: bool
    ) -> InfusionRow | None:
        stmt = (
            select(infusions)
            .where(infusions.c.bed == bed)
            .order_by(infusions.c.started_at.desc(), infusions.c.id.desc())
            .limit(1)
        )
        if running_only:
            stmt = stmt.where(infusions.c.ended_at.is_(None))
        row = (await conn.execute(stmt)).mappings().one_or_none()
        return None if row is None else _infusion(row)

    async def _infusion_by_id(self, conn: AsyncConnection, infusion_id: int) -> InfusionRow:
        row = (
            (await conn.execute(select(infusions).where(infusions.c.id == infusion_id)))
            .mappings()
            .one()
        )
        return _infusion(row)


def _require(value: str, name: str) -> None:
    if not value or not value.strip():
        raise ValueError(f"{name} is empty")


def _patient(row: RowMapping) -> PatientRow:
    return PatientRow(
        study_id=row["study_id"],
        bed=row["bed"],
        weight_kg=row["weight_kg"],
        arm=Arm(row["arm"]),
        ards_onset=row["ards_onset"],
        age_years=row["age_years"],
        enrolled_at=row["enrolled_at"],
        discharged_at=row["discharged_at"],
    )


def _infusion(row: RowMapping) -> InfusionRow:
    return InfusionRow(
        id=row["id"],
        bed=row["bed"],
        study_id=row["study_id"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        weight_kg=row["weight_kg"],
        volume_ml=row["volume_ml"],
        planned_min=row["planned_min"],
        source=row["source"],
        start_uncertainty_s=row["start_uncertainty_s"],
        start_time_source=row["start_time_source"],
    )


def _of_patient(infusion: InfusionRow | None, patient: PatientRow | None) -> InfusionRow | None:
    """Hide a previous occupant's infusion from the bed's new patient."""
    if infusion is None or patient is None or infusion.study_id is None:
        return infusion
    return infusion if infusion.study_id == patient.study_id else None


def _natural(text: str) -> list[Any]:
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text)]
