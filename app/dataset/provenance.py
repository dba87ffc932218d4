"""What an export was made from: the time of the newest record in it (`as_of`, so the same
database gives the same bytes) and the head of the hash-chained audit log.

The chain head is `Store.audit_head()` (the hash-chained audit log, migration 0008): the
number of audit rows and the newest row's hash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from app.dataset.assemble import PatientData
from app.store import Store
from core.records import format_time

STUDY = "UCMSC-ARDS"
"""The study identifier in every export (CDISC STUDYID, ODM Study OID)."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
AE_SOURCE = (
    "the AE/SAE record, and the IAE alerts that no AE groups and no adjudication called "
    "not_iae (source iae_alert)"
)


@dataclass(frozen=True, slots=True)
class Provenance:
    as_of: datetime
    audit_rows: int
    chain_head: str
    include_arm: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "study": STUDY,
            "as_of": format_time(self.as_of),
            "audit_rows": self.audit_rows,
            "audit_chain_head": self.chain_head,
            "arm_included": self.include_arm,
            "adverse_events_from": AE_SOURCE,
        }


def as_of(data: Sequence[PatientData]) -> datetime:
    """The newest time recorded in the data (the epoch when there is none)."""
    times: list[datetime] = [EPOCH]
    for p in data:
        times.append(p.t0)
        times += [h["entered_at"] for h in p.history]
        if p.lock is not None:
            times.append(p.lock.t)
        if p.infusion is not None:
            times += [t for t in (p.infusion.started_at, p.infusion.ended_at) if t is not None]
        times += [a.t for a in p.alerts]
        times += [g.t for g in p.gases]
    return max(times)


async def provenance(store: Store, data: Sequence[PatientData], *, include_arm: bool) -> Provenance:
    rows, head = await store.audit_head()
    return Provenance(as_of(data), rows, head, include_arm)
