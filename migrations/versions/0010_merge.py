"""One head again: the branches added side by side from 0003 (adverse events and product,
the dataset, the outbox, the audit chain, retention) meet here. No schema change.

Revision ID: 0010
Revises: 0005, 0006, 0007, 0008, 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0010"
down_revision: str | Sequence[str] | None = ("0005", "0006", "0007", "0008", "0009")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
