"""One head again: compact observation frames (0011) and persistent login counters (0012),
both added from 0010, meet here. No schema change.

Revision ID: 0013
Revises: 0011, 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0013"
down_revision: str | Sequence[str] | None = ("0011", "0012")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
