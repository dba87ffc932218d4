"""Adjudications, adverse events (the AE/SAE CRF) and electronic signatures (migration 0005).

- `signatures`: one row per electronic signature (21 CFR Part 11 §11.50: printed name, time
  and meaning), bound to the signed record by the SHA-256 of its content at signing, so a
  later change of the record is visible (`record_sha256` no longer matches).
- `adjudications`: one row per alert per adjudication (the newest per alert counts), each
  signed; `ae_id` groups the confirmed alerts into one adverse event.
- `adverse_events`: the CRF; `adverse_event_alerts` the alerts grouped into it (an alert
  belongs to at most one AE).
Every write is audit-logged in its transaction.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    select,
    true,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from app.store._enrolment import _audit, _require_patient
from app.store.base import StoreBase, inserted_id
from app.store.schema import BigId, alerts, metadata
from app.store.types import JSONDoc, UTCDateTime, json_dumps

signatures = Table(
    "signatures",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("record_kind", String(), nullable=False),
    Column("record_id", String(), nullable=False),
    Column("signer", String(), nullable=False),
    Column("role", String(), nullable=False),
    Column("meaning", String(), nullable=False),
    Column("t", UTCDateTime(), nullable=False),
    Column("record_sha256", String(64), nullable=False),
    Index("ix_signatures_record_kind_record_id", "record_kind", "record_id"),
)

adverse_events = Table(
    "adverse_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("study_id", String(), ForeignKey("patients.study_id"), nullable=False),
    Column("term", Text(), nullable=False),
    Column("meddra_code", String(), nullable=True),
    Column("onset", UTCDateTime(), nullable=False),
    Column("resolved_at", UTCDateTime(), nullable=True),
    Column("ctcae_grade", Integer(), nullable=False),
    Column("seriousness", JSONDoc, nullable=False),
    Column("causality_product", String(), nullable=False),
    Column("causality_procedure", String(), nullable=False),
    Column("expected", Boolean(), nullable=False),
    Column("action_taken", String(), nullable=False),
    Column("treatment", Text(), nullable=True),
    Column("outcome", String(), nullable=False),
    Column("reporter", String(), nullable=False),
    Column("aware_at", UTCDateTime(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("sponsor_reported_at", UTCDateTime(), nullable=True),
    Column("susar_reported_at", UTCDateTime(), nullable=True),
    CheckConstraint("ctcae_grade BETWEEN 1 AND 5", name="ctcae_grade"),
    Index("ix_adverse_events_study_id", "study_id"),
)

adverse_event_alerts = Table(
    "adverse_event_alerts",
    metadata,
    Column("ae_id", BigId, ForeignKey("adverse_events.id"), primary_key=True),
    Column("alert_id", String(), ForeignKey("alerts.id"), primary_key=True),
    Index("ix_adverse_event_alerts_alert_id", "alert_id", unique=True),
)

adjudications = Table(
    "adjudications",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("alert_id", String(), ForeignKey("alerts.id"), nullable=False),
    Column("verdict", String(), nullable=False),
    Column("reason", String(), nullable=True),
    Column("reason_text", Text(), nullable=True),
    Column("ae_id", BigId, ForeignKey("adverse_events.id"), nullable=True),
    Column("signature_id", BigId, ForeignKey("signatures.id"), nullable=False),
    Column("t", UTCDateTime(), nullable=False),
    CheckConstraint("verdict IN ('iae', 'not_iae')", name="verdict"),
    Index("ix_adjudications_alert_id", "alert_id"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SignatureRow:
    """One electronic signature: who, in which role, what it means, when, over what."""

    id: int
    record_kind: str
    record_id: str
    signer: str
    role: str
    meaning: str
    t: datetime
    record_sha256: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AdjudicationRow:
    """The adjudication of one alert, with its signature."""

    id: int
    alert_id: str
    verdict: str
    reason: str | None
    reason_text: str | None
    ae_id: int | None
    t: datetime
    signature: SignatureRow


@dataclass(frozen=True, slots=True, kw_only=True)
class AdverseEventRow:
    """One AE/SAE as the CRF records it, with its grouped alerts and signatures."""

    id: int
    study_id: str
    term: str
    meddra_code: str | None
    onset: datetime
    resolved_at: datetime | None
    ctcae_grade: int
    seriousness: list[str]
    causality_product: str
    causality_procedure: str
    expected: bool
    action_taken: str
    treatment: str | None
    outcome: str
    reporter: str
    aware_at: datetime
    created_at: datetime
    sponsor_reported_at: datetime | None
    susar_reported_at: datetime | None
    alert_ids: tuple[str, ...] = ()
    signatures: tuple[SignatureRow, ...] = ()

    def content(self) -> dict[str, Any]:
        """The signed content: the CRF fields and the grouped alerts (not the signatures)."""
        skip = {"signatures", "created_at", "sponsor_reported_at", "susar_reported_at"}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}


AE_COLUMNS = tuple(
    c.name for c in adverse_events.columns if c.name not in ("id", "study_id", "created_at")
)


def content_sha256(content: dict[str, Any]) -> str:
    """The SHA-256 of a record's content in canonical JSON (what a signature is bound to)."""
    text = json.dumps(json.loads(json_dumps(content)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class AdverseEventQueries(StoreBase):
    # ── signatures ──────────────────────────────────────────────────────────────────────
    async def _sign(
        self,
        conn: AsyncConnection,
        *,
        kind: str,
        record_id: str,
        signer: str,
        role: str,
        meaning: str,
        t: datetime,
        content: dict[str, Any],
    ) -> SignatureRow:
        values: dict[str, Any] = {
            "record_kind": kind,
            "record_id": record_id,
            "signer": signer,
            "role": role,
            "meaning": meaning,
            "t": t,
            "record_sha256": content_sha256(content),
        }
        new_id = inserted_id(await conn.execute(signatures.insert().values(**values)))
        await _audit(
            conn,
            t=t,
            actor=signer,
            action="esign",
            target=f"{kind}:{record_id}",
            details={"meaning": meaning, "sha256": values["record_sha256"]},
        )
        return SignatureRow(id=new_id, **values)

    async def signatures_of(self, kind: str, record_id: str) -> list[SignatureRow]:
        c = signatures.c
        stmt = (
            select(signatures)
            .where(c.record_kind == kind, c.record_id == record_id)
            .order_by(c.t, c.id)
        )
        async with self._read() as conn:
            return [SignatureRow(**dict(r)) for r in (await conn.execute(stmt)).mappings()]

    # ── adverse events ──────────────────────────────────────────────────────────────────
    async def add_adverse_event(
        self, *, study_id: str, by: str, t: datetime, alert_ids: list[str], **crf: Any
    ) -> AdverseEventRow:
        """Record an AE (CRF fields in `crf`), grouping `alert_ids` into it. Unknown patient or
        alert → KeyError; an alert already in another AE → ValueError."""
        async with self._write() as conn:
            await _require_patient(conn, study_id)
            values: dict[str, Any] = {"study_id": study_id, "created_at": t, **crf}
            ae_id = inserted_id(await conn.execute(adverse_events.insert().values(**values)))
            await self._group(conn, ae_id, alert_ids)
            await _audit(
                conn,
                t=t,
                actor=by,
                action="trial.adverse_event",
                target=study_id,
                details={"ae_id": ae_id, "alert_ids": alert_ids, **crf},
            )
        found = await self.adverse_event(ae_id)
        assert found is not None
        return found

    async def update_adverse_event(
        self, ae_id: int, *, by: str, t: datetime, **changes: Any
    ) -> AdverseEventRow:
        """Change CRF fields of an AE (audit-logged with the old values; unknown id → KeyError).
        A signature made before keeps its hash, so the change shows against it."""
        before = await self.adverse_event(ae_id)
        if before is None:
            raise KeyError(ae_id)
        async with self._write() as conn:
            await conn.execute(
                update(adverse_events).where(adverse_events.c.id == ae_id).values(**changes)
            )
            old = {k: getattr(before, k) for k in changes}
            await _audit(
                conn,
                t=t,
                actor=by,
                action="trial.adverse_event_update",
                target=before.study_id,
                details={"ae_id": ae_id, "new": changes, "old": old},
            )
        after = await self.adverse_event(ae_id)
        assert after is not None
        return after

    async def _group(self, conn: AsyncConnection, ae_id: int, alert_ids: list[str]) -> None:
        for alert_id in dict.fromkeys(alert_ids):
            if await conn.scalar(select(alerts.c.id).where(alerts.c.id == alert_id)) is None:
                raise KeyError(alert_id)
            owner = await conn.scalar(
                select(adverse_event_alerts.c.ae_id).where(
                    adverse_event_alerts.c.alert_id == alert_id
                )
            )
            if owner is not None and owner != ae_id:
                raise ValueError(f"alert {alert_id} already belongs to adverse event {owner}")
            if owner is None:
                await conn.execute(
                    adverse_event_alerts.insert().values(ae_id=ae_id, alert_id=alert_id)
                )

    async def sign_adverse_event(
        self, ae_id: int, *, signer: str, role: str, meaning: str, t: datetime
    ) -> AdverseEventRow:
        """The investigator's signature over the AE's content as it stands now."""
        ae = await self.adverse_event(ae_id)
        if ae is None:
            raise KeyError(ae_id)
        async with self._write() as conn:
            await self._sign(
                conn,
                kind="adverse_event",
                record_id=str(ae_id),
                signer=signer,
                role=role,
                meaning=meaning,
                t=t,
                content=ae.content(),
            )
        signed = await self.adverse_event(ae_id)
        assert signed is not None
        return signed

    async def adverse_event(self, ae_id: int) -> AdverseEventRow | None:
        found = await self._adverse_events(adverse_events.c.id == ae_id)
        return found[0] if found else None

    async def adverse_events_of(self, study_id: str) -> list[AdverseEventRow]:
        """A patient's AEs, by onset."""
        return await self._adverse_events(adverse_events.c.study_id == study_id)

    async def serious_events(self) -> list[AdverseEventRow]:
        """Every serious AE (for the reporting clock)."""
        return [ae for ae in await self._adverse_events(true()) if ae.seriousness]

    async def _adverse_events(self, where: Any) -> list[AdverseEventRow]:
        c = adverse_events.c
        stmt = select(adverse_events).where(where).order_by(c.onset, c.id)
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
            links = (
                (
                    await conn.execute(
                        select(adverse_event_alerts).where(
                            adverse_event_alerts.c.ae_id.in_([r["id"] for r in rows])
                        )
                    )
                )
                .mappings()
                .all()
            )
            sigs = (
                (
                    await conn.execute(
                        select(signatures)
                        .where(
                            signatures.c.record_kind == "adverse_event",
                            signatures.c.record_id.in_([str(r["id"]) for r in rows]),
                        )
                        .order_by(signatures.c.t, signatures.c.id)
                    )
                )
                .mappings()
                .all()
            )
        return [_ae(r, links, sigs) for r in rows]

    # ── adjudications ───────────────────────────────────────────────────────────────────
    async def adjudicate(
        self,
        *,
        alert_ids: list[str],
        verdict: str,
        reason: str | None,
        reason_text: str | None,
        ae_id: int | None,
        signer: str,
        role: str,
        meaning: str,
        t: datetime,
    ) -> list[AdjudicationRow]:
        """Adjudicate `alert_ids` under one signature; confirmed ones join `ae_id`."""
        content = {
            "alert_ids": sorted(alert_ids),
            "verdict": verdict,
            "reason": reason,
            "reason_text": reason_text,
            "ae_id": ae_id,
        }
        async with self._write() as conn:
            for alert_id in alert_ids:
                if await conn.scalar(select(alerts.c.id).where(alerts.c.id == alert_id)) is None:
                    raise KeyError(alert_id)
            if ae_id is not None:
                await self._group(conn, ae_id, alert_ids)
            sig = await self._sign(
                conn,
                kind="adjudication",
                record_id=",".join(sorted(alert_ids)),
                signer=signer,
                role=role,
                meaning=meaning,
                t=t,
                content=content,
            )
            out = []
            for alert_id in alert_ids:
                values: dict[str, Any] = {
                    "alert_id": alert_id,
                    "verdict": verdict,
                    "reason": reason,
                    "reason_text": reason_text,
                    "ae_id": ae_id,
                    "t": t,
                }
                new_id = inserted_id(
                    await conn.execute(adjudications.insert().values(signature_id=sig.id, **values))
                )
                out.append(AdjudicationRow(id=new_id, signature=sig, **values))
                await _audit(
                    conn,
                    t=t,
                    actor=signer,
                    action="alert.adjudicate",
                    target=alert_id,
                    details={k: v for k, v in values.items() if k != "t"},
                )
        return out

    async def adjudications_for(self, alert_ids: list[str]) -> dict[str, AdjudicationRow]:
        """The adjudication in force per alert (the newest), for the alerts that have one."""
        a, s = adjudications.c, signatures.c
        stmt = (
            select(adjudications, *[col.label(f"sig_{col.name}") for col in signatures.columns])
            .join(signatures, s.id == a.signature_id)
            .where(a.alert_id.in_(alert_ids))
            .order_by(a.t, a.id)
        )
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return {r["alert_id"]: _adjudication(r) for r in rows}


def _adjudication(r: RowMapping) -> AdjudicationRow:
    sig = SignatureRow(**{c.name: r[f"sig_{c.name}"] for c in signatures.columns})
    return AdjudicationRow(
        id=r["id"],
        alert_id=r["alert_id"],
        verdict=r["verdict"],
        reason=r["reason"],
        reason_text=r["reason_text"],
        ae_id=r["ae_id"],
        t=r["t"],
        signature=sig,
    )


def _ae(row: RowMapping, links: Any, sigs: Any) -> AdverseEventRow:
    data = {k: row[k] for k in AE_COLUMNS}
    data["seriousness"] = list(row["seriousness"] or [])
    return AdverseEventRow(
        id=row["id"],
        study_id=row["study_id"],
        created_at=row["created_at"],
        alert_ids=tuple(sorted(li["alert_id"] for li in links if li["ae_id"] == row["id"])),
        signatures=tuple(SignatureRow(**dict(s)) for s in sigs if s["record_id"] == str(row["id"])),
        **data,
    )
