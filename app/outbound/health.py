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
    last_sent_at: datetime | None = None
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

    def device_row(self) -> dict[str, Any]:
        """This endpoint as a row of the engineer's device panel (`/api/devices` shape)."""
        return {
            "bed": PANEL_BED,
            "device_id": self.name,
            "kind": self.kind,
            "protocol": "http" if self.kind == "webhook" else "hl7-mllp",
            "address": self.address,
            "state": _PANEL_STATE[self.state],
            "since": format_time_or_none(self.last_error_at or self.last_sent_at),
            "last_frame": format_time_or_none(self.last_sent_at),
            "frames": self.sent,
            "bad_frames": self.errors,
            "reconnects": 0,
            "last_error": self.last_error,
            "identification": {
                "queue depth": str(self.depth),
                "oldest unsent": format_time_or_none(self.oldest) or "none",
            },
        }


PANEL_BED = "outbound"
"""What the device panel shows in the bed column for an outbound endpoint."""

_PANEL_STATE = {
    EndpointState.CONNECTING: "connecting",
    EndpointState.CONNECTED: "connected",
    EndpointState.RETRYING: "disconnected",
    EndpointState.STOPPED: "stopped",
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
