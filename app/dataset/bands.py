"""Points from banded tables, as the published scores print them (shared by APACHE II and
SOFA): a band is the lowest value it starts at and its points, highest band first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

Bands = Sequence[tuple[float, int]]


def points(value: float, bands: Bands, below: int) -> int:
    """The points of the first band whose lower bound `value` reaches, else `below`."""
    for lower, pts in bands:
        if value >= lower:
            return pts
    return below


@dataclass(frozen=True, slots=True)
class Score:
    """A score from what was known: the total of the items scored, each item's points, and
    the inputs that were missing (items without them score nothing and are listed)."""

    total: int
    items: dict[str, int]
    missing: tuple[str, ...] = field(default=())

    @property
    def complete(self) -> bool:
        return not self.missing

    def as_dict(self) -> dict[str, object]:
        return {
            "total": self.total,
            "complete": self.complete,
            "items": dict(self.items),
            "missing": list(self.missing),
        }
