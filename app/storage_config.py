"""The `storage:` section of the ICU configuration: retention and the disk-space alarm.

storage:                       # optional; the defaults are shown
  full_resolution_days: 7      # every sample, from its time or its window's end
  aggregate_days: 3650         # then per-minute min/median/max, then deleted
  prune_every_min: 60
  free_warn_mb: 2048           # free space under the database → storage_low (medium)
  free_critical_mb: 512        # → escalated to high
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from app.store._retention import RetentionRule
from core.check import Checker
from core.yamlfile import Marked

_KEYS = (
    "full_resolution_days",
    "aggregate_days",
    "prune_every_min",
    "free_warn_mb",
    "free_critical_mb",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class StorageConfig:
    full_resolution_days: float = 7.0
    aggregate_days: float = 3650.0
    prune_every_min: float = 60.0
    free_warn_mb: float = 2048.0
    free_critical_mb: float = 512.0

    @property
    def rule(self) -> RetentionRule:
        return RetentionRule(
            full=timedelta(days=self.full_resolution_days),
            aggregates=timedelta(days=self.aggregate_days),
        )


def read_storage(data: Marked, c: Checker) -> StorageConfig:
    """The `storage:` section of `data` (the defaults when absent)."""
    if "storage" not in data:
        return StorageConfig()
    raw = c.mapping(data["storage"], data.line_of("storage"), "storage")
    c.keys(raw, "storage", _KEYS)
    default = StorageConfig()

    def get(key: str, low: float, high: float) -> float:
        value = c.get(raw, key, "storage", partial(c.number, minimum=low, maximum=high))
        return getattr(default, key) if value is None else value

    full = get("full_resolution_days", 1.0, 3650.0)  # a restart reads the last day back
    aggregate = get("aggregate_days", 1.0, 36500.0)
    if aggregate < full:
        c.fail(
            f"must be at least full_resolution_days ({full:g})",
            raw.line_of("aggregate_days"),
            "storage.aggregate_days",
        )
    warn = get("free_warn_mb", 1.0, 1e9)
    critical = get("free_critical_mb", 1.0, 1e9)
    if critical >= warn:
        c.fail(
            f"must be below free_warn_mb ({warn:g})",
            raw.line_of("free_critical_mb") if "free_critical_mb" in raw else raw.line,
            "storage.free_critical_mb",
        )
    return StorageConfig(
        full_resolution_days=full,
        aggregate_days=aggregate,
        prune_every_min=get("prune_every_min", 1.0, 10080.0),
        free_warn_mb=warn,
        free_critical_mb=critical,
    )
