"""Free disk space under the database: a technical alert at every bed before writes fail.

A full disk stops the store, and with it every alert (an alert is committed before it is
pushed). So the space left on the database's file system is checked once a `tick`: below
`warn_bytes` each bed gets a medium-priority `storage_low` alert, below `critical_bytes` a
high one (an escalation of the same alert), and both end once the space is back above the
warning level. Only a local database has a disk to look at: for PostgreSQL, the server's
own monitoring watches its disk.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import NamedTuple, Protocol

from app.alert_desk import technical_alert
from core.model import Alert, AlertState, Phase, Priority

log = logging.getLogger(__name__)

RULE = "storage_low"
NAMESPACE = uuid.UUID("0b9f6c52-5d0e-4b7a-9a55-7d1f43c2e6a0")
MB = 1024 * 1024


class DiskUsage(NamedTuple):
    total: int
    used: int
    free: int


class Desk(Protocol):
    async def commit(self, alert: Alert) -> Alert: ...


class StorageWatch:
    """Raises, escalates and ends `storage_low` at every bed; see the module docstring."""

    def __init__(
        self,
        *,
        path: Path,
        desk: Desk,
        beds: Callable[[], Awaitable[Iterable[str]]],
        warn_bytes: int,
        critical_bytes: int,
        disk_usage: Callable[[Path], DiskUsage] = lambda p: DiskUsage(*shutil.disk_usage(p)),
    ) -> None:
        if not 0 < critical_bytes < warn_bytes:
            raise ValueError("need 0 < critical < warning free space")
        self.path = path
        self.desk = desk
        self.beds = beds
        self.warn_bytes = warn_bytes
        self.critical_bytes = critical_bytes
        self.disk_usage = disk_usage
        self.open: dict[str, Alert] = {}
        self.free: int | None = None

    async def check(self, now: datetime) -> None:
        """One look at the disk: raise, escalate or end the alerts."""
        usage = self.disk_usage(self.path)
        self.free = usage.free
        if usage.free >= self.warn_bytes:
            for alert in list(self.open.values()):
                await self._end(alert, now, usage)
            return
        priority = Priority.HIGH if usage.free < self.critical_bytes else Priority.MEDIUM
        for bed in await self.beds():
            current = self.open.get(bed)
            if current is None:
                await self._raise(bed, priority, now, usage)
            elif current.priority is Priority.MEDIUM and priority is Priority.HIGH:
                await self._update(current, Phase.ESCALATE, priority, now, usage)

    def _message(self, usage: DiskUsage) -> str:
        return (
            f"Database disk almost full: {usage.free / MB:.0f} MB free of "
            f"{usage.total / MB:.0f} MB at {self.path}; when it is full no alert can be stored"
        )

    def _evidence(self, usage: DiskUsage) -> dict[str, object]:
        return {
            "path": str(self.path),
            "free_mb": round(usage.free / MB, 1),
            "total_mb": round(usage.total / MB, 1),
            "warn_mb": round(self.warn_bytes / MB, 1),
            "critical_mb": round(self.critical_bytes / MB, 1),
        }

    async def _raise(self, bed: str, priority: Priority, now: datetime, usage: DiskUsage) -> None:
        alert = technical_alert(
            NAMESPACE,
            bed=bed,
            rule=RULE,
            priority=priority,
            onset=now,
            t=now,
            message=self._message(usage),
            evidence=self._evidence(usage),
        )
        log.error("storage: %s", alert.message)
        self.open[bed] = await self.desk.commit(alert)

    async def _update(
        self, alert: Alert, phase: Phase, priority: Priority, now: datetime, usage: DiskUsage
    ) -> None:
        changed = replace(
            alert,
            phase=phase,
            priority=priority,
            t=now,
            message=self._message(usage),
            evidence=self._evidence(usage),
            seq=None,
        )
        self.open[alert.bed] = await self.desk.commit(changed)

    async def _end(self, alert: Alert, now: datetime, usage: DiskUsage) -> None:
        ended = replace(
            alert,
            phase=Phase.END,
            state=AlertState.RESOLVED,
            t=now,
            ended_at=now,
            message=f"Database disk space back: {usage.free / MB:.0f} MB free",
            evidence=self._evidence(usage),
            seq=None,
        )
        await self.desk.commit(ended)
        del self.open[alert.bed]
