"""Alert burden of a replay (`iaewatch replay --summary`): alert starts per patient-hour by
category and priority, inside and outside the monitoring window, non-technical apart from
technical.

A bed's patient-hours run from its first record to its last. The monitoring window runs
from the bed's first `infusion_start` for the rule set's `monitoring_window_h`; its hours
inside the recording count as "inside", the rest of the recording as "outside" (a bed
without an infusion is all outside). An alert start counts where its start transition
falls (the moment it sounds).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.model import Alert, Category, DeviceEvent, Observation, Phase

INSIDE, OUTSIDE = "inside", "outside"


@dataclass
class _Bed:
    first: datetime
    last: datetime
    start: datetime | None = None


@dataclass
class Burden:
    """A running tally: `see` every record, `count` every transition, per replayed stream."""

    window: timedelta
    beds: dict[tuple[str, str], _Bed] = field(default_factory=dict)
    starts: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    stream: str = ""

    def see(self, msg: Observation | DeviceEvent) -> None:
        """A record of the current stream (records come in time order)."""
        bed = self.beds.get((self.stream, msg.bed))
        if bed is None:
            bed = self.beds[(self.stream, msg.bed)] = _Bed(msg.t, msg.t)
        bed.last = msg.t
        if bed.start is None and isinstance(msg, DeviceEvent) and msg.event == "infusion_start":
            bed.start = msg.t

    def count(self, a: Alert) -> None:
        """An alert transition of the current stream (only starts are counted)."""
        if a.phase is not Phase.START:
            return
        kind = "technical" if a.category is Category.TECHNICAL else "non-technical"
        self.starts[(kind, a.category.value, a.priority.value, self.where(a))] += 1

    def where(self, a: Alert) -> str:
        """INSIDE when the transition falls in its bed's monitoring window, else OUTSIDE."""
        bed = self.beds.get((self.stream, a.bed))
        start = bed.start if bed is not None else None
        return INSIDE if start is not None and start <= a.t < start + self.window else OUTSIDE

    def hours(self) -> dict[str, float]:
        """Patient-hours inside and outside the monitoring window."""
        inside = total = 0.0
        for b in self.beds.values():
            total += (b.last - b.first).total_seconds()
            if b.start is not None:
                lo, hi = max(b.first, b.start), min(b.last, b.start + self.window)
                inside += max(0.0, (hi - lo).total_seconds())
        return {INSIDE: inside / 3600, OUTSIDE: (total - inside) / 3600}

    def as_dict(self) -> dict[str, Any]:
        """The summary as data: beds, hours, and per (kind, category, priority) the starts and
        the rate per patient-hour inside and outside the window (rates None without hours)."""
        hours = self.hours()
        rows = []
        for kind, cat, prio in sorted({k[:3] for k in self.starts}):
            row: dict[str, Any] = {"kind": kind, "category": cat, "priority": prio}
            for where in (INSIDE, OUTSIDE):
                n = self.starts[(kind, cat, prio, where)]
                row[where] = {"starts": n, "per_patient_hour": _rate(n, hours[where])}
            rows.append(row)
        totals: dict[str, dict[str, dict[str, Any]]] = {}
        for kind in ("non-technical", "technical"):
            totals[kind] = {}
            for where in (INSIDE, OUTSIDE):
                n = sum(v for k, v in self.starts.items() if k[0] == kind and k[3] == where)
                totals[kind][where] = {"starts": n, "per_patient_hour": _rate(n, hours[where])}
        return {
            "beds": len(self.beds),
            "window_h": self.window.total_seconds() / 3600,
            "patient_hours": hours,
            "rows": rows,
            "totals": totals,
        }

    def table(self) -> str:
        """The summary as a text table."""
        d = self.as_dict()
        h = d["patient_hours"]
        lines = [
            f"alert burden: {d['beds']} bed(s), {h[INSIDE] + h[OUTSIDE]:.1f} patient-hours "
            f"({h[INSIDE]:.1f} inside the {d['window_h']:g} h monitoring window, "
            f"{h[OUTSIDE]:.1f} outside)",
            f"{'':<44}{'inside':>18}{'outside':>18}",
            f"{'kind / category / priority':<44}{'starts  /pt-h':>18}{'starts  /pt-h':>18}",
        ]
        for kind in ("non-technical", "technical"):
            for r in (r for r in d["rows"] if r["kind"] == kind):
                label = f"{kind} {r['category']} {r['priority']}"
                lines.append(f"{label:<44}{_cell(r[INSIDE])}{_cell(r[OUTSIDE])}")
            t = d["totals"][kind]
            lines.append(f"{'all ' + kind:<44}{_cell(t[INSIDE])}{_cell(t[OUTSIDE])}")
        return "\n".join(lines)


def _rate(n: int, hours: float) -> float | None:
    return round(n / hours, 4) if hours > 0 else None


def _cell(c: dict[str, Any]) -> str:
    rate = c["per_patient_hour"]
    return f"{c['starts']:>8}{'—' if rate is None else f'{rate:.3f}':>10}"
