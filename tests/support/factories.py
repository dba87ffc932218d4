"""Small builders shared by test folders."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.model import Alert, AlertState, Category, Phase, Priority

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def make_alert(n: int = 1, **kw: Any) -> Alert:
    """An alert transition (a medium hypoxemia start at T0); keywords override the defaults."""
    fields: dict[str, Any] = {
        "id": f"alert-{n}",
        "bed": "ICU-1",
        "category": Category.HYPOXEMIA,
        "rule": "spo2_low",
        "priority": Priority.MEDIUM,
        "phase": Phase.START,
        "state": AlertState.ACTIVE,
        "onset": T0,
        "t": T0,
        "message": "SpO2 86 % (baseline 95 %)",
        "evidence": {"MDC_PULS_OXIM_SAT_O2": 86, "baseline": 95},
    }
    fields.update(kw)
    return Alert(**fields)
