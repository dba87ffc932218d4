"""Each endpoint's health as the engineer sees it: `/metrics`, `/api/outbound`, alerts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from core.records import format_time_or_none


class EndpointState(StrEnum):
    CONNECTING = "connecting"  # not yet delivered anything since start
    CONNECTED = "connected"  # the last attempt reached the endpoint
    RETRYING = "retrying"  # the last attempt failed; backing off
    STOPPED = "stopped"  # the endpoint rejected a message (AR): nothing more is sent


@dataclass(slots=True, kw_only=True)
class EndpointHealth:
    """One endpoint's live state (the sender updates it; readers only read)."""

    name: str
    kind: str
    address: str
    state: EndpointState = EndpointState.CONNECTING
    depth: int = 0
    oldest: datetime | None = None
    sent: int = 0
    errors: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None

    @property
    def connected(self) -> bool:
        return self.state is EndpointState.CONNECTED

    def oldest_age_s(self, now: datetime) -> float:
        return 0.0 if self.oldest is None else max(0.0, (now - self.oldest).total_seconds())

    def as_dict(self, now: datetime) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "address": self.address,
            "state": self.state.value,
            "connected": self.connected,
            "queue_depth": self.depth,
            "oldest_unsent": format_time_or_none(self.oldest),
            "oldest_unsent_age_s": round(self.oldest_age_s(now), 3),
            "sent": self.sent,
            "errors": self.errors,
            "last_error": self.last_error,
            "last_error_at": format_time_or_none(self.last_error_at),
        }


class OutboundHealth:
    """Every configured endpoint's health, by name (empty when none is configured)."""

    def __init__(self) -> None:
        self._by_name: dict[str, EndpointHealth] = {}

    def add(self, health: EndpointHealth) -> None:
        self._by_name[health.name] = health

    def __iter__(self) -> Iterator[EndpointHealth]:
        return iter(self._by_name.values())

    def as_dicts(self, now: datetime) -> list[dict[str, Any]]:
        return [h.as_dict(now) for h in self]
