"""The audit log's hash chain: each row carries the hash of the one before it.

`hash = sha256(prev_hash + "\\n" + canonical row)`, where the canonical row is the JSON of
its time (`core.records.format_time`), actor, action, target and details with sorted keys.
The first row's `prev_hash` is `GENESIS`. Both columns are filled by the table's own column
defaults (`chain_defaults`), so every insert into `audit_log`, from any query module, is
chained without calling anything; concurrent writers are serialised (PostgreSQL: an advisory
transaction lock; SQLite: the one writer). Rows can be neither updated nor deleted (triggers
from migration 0008). `verify` walks the rows in id order and names the first row whose
content no longer matches its hash (tampered) or whose `prev_hash` is not the hash before it
(a missing or reordered row). The newest hash, `head`, is printed in reports and exports, so
that even cutting rows off the end is noticed against a copy.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine.default import DefaultExecutionContext

from app.store.types import json_dumps
from core.records import format_time

GENESIS = "0" * 64
CHAIN_LOCK_KEY = 0x69616561  # "iaea": pg_advisory_xact_lock key of audit appends
_LAST = "SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1"
_CONTEXT_KEY = "_iaewatch_audit_prev"


def canonical(t: datetime, actor: str, action: str, target: str, details: Any) -> str:
    """The text a row's hash covers (details as they read back from the database)."""
    doc = json.loads(json_dumps(details or {}))
    return json.dumps(
        [format_time(t), actor, action, target, doc],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def link(prev_hash: str, row_text: str) -> str:
    """The hash of a row given the hash before it."""
    return hashlib.sha256(f"{prev_hash}\n{row_text}".encode()).hexdigest()


def row_hash(prev_hash: str, row: Mapping[Any, Any]) -> str:
    return link(
        prev_hash, canonical(row["t"], row["actor"], row["action"], row["target"], row["details"])
    )


# -- column defaults: fill prev_hash and hash at insert ----------------------------------------
def _prev(context: DefaultExecutionContext) -> str:
    """The hash this insert links to (computed once per row, remembered for `hash`)."""
    params = context.get_current_parameters()  # type: ignore[no-untyped-call]
    cached = getattr(context, _CONTEXT_KEY, None)
    if cached is not None and cached[0] is params:
        return str(cached[1])
    previous = cached[2] if cached is not None else None  # an earlier row of the same batch
    if previous is None:
        conn = context.connection
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK_KEY})
        previous = conn.execute(text(_LAST)).scalar() or GENESIS
    own = row_hash(previous, params)
    setattr(context, _CONTEXT_KEY, (params, previous, own))
    return str(previous)


def prev_hash_default(context: DefaultExecutionContext) -> str:
    """Column default of `audit_log.prev_hash`."""
    return _prev(context)


def hash_default(context: DefaultExecutionContext) -> str:
    """Column default of `audit_log.hash` (after `prev_hash`'s, which leaves it ready)."""
    _prev(context)
    return str(getattr(context, _CONTEXT_KEY)[2])


# -- verification ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ChainReport:
    """What `verify` found: the rows checked, the head, and the first broken link if any."""

    rows: int
    head: str
    broken_id: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def verify(rows: Iterable[Mapping[Any, Any]]) -> ChainReport:
    """Check rows (id order, with `id`, `t`, `actor`, `action`, `target`, `details`,
    `prev_hash`, `hash`); stops at the first broken or missing link."""
    expected_prev = GENESIS
    n = 0
    for row in rows:
        n += 1
        if row["prev_hash"] != expected_prev:
            return ChainReport(
                n,
                expected_prev,
                row["id"],
                f"row {row['id']}: its previous-hash does not match the row before it "
                "(a row is missing, reordered or inserted)",
            )
        if row["hash"] != row_hash(expected_prev, row):
            return ChainReport(
                n,
                expected_prev,
                row["id"],
                f"row {row['id']}: its content does not match its hash (altered)",
            )
        expected_prev = row["hash"]
    return ChainReport(n, expected_prev)
