"""Alert episodes and their state table.

One episode per condition occurrence: `start` when the condition has held for the rule's
persistence, `update` when it gets worse, `end` when it has been clear for the rule's clear
time (or its window closed). Alerts latch (IEC 60601-1-8): an episode that ends without
having been acknowledged stays visible as `resolved` until someone acknowledges it. A high
priority episode still unacknowledged after the engine's escalation time is escalated once.

    state          trigger     → state          phase emitted   Alert.state
    ─────────────  ──────────    ─────────────  ──────────────  ────────────
    (pending)      confirmed     ACTIVE         start           active
    ACTIVE         worse         ACTIVE         update          active
    ACKNOWLEDGED   worse         ACKNOWLEDGED   update          acknowledged
    ACTIVE         ack           ACKNOWLEDGED   —               acknowledged
    ACTIVE         clear         LATCHED        end             resolved
    ACTIVE         clear (*)     CLOSED         end             resolved
    ACKNOWLEDGED   clear         CLOSED         end             resolved
    LATCHED        ack           CLOSED         —               resolved
    ACTIVE         overdue       ACTIVE         escalate        active
    LATCHED        overdue       LATCHED        escalate        resolved
    (*) when the rule set turns latching off. Window end counts as `clear`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from core.model import AlertState, Phase


class EpState(Enum):
    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    LATCHED = "latched"  # condition over, not yet acknowledged
    CLOSED = "closed"  # condition over and acknowledged: forgotten


class Trigger(Enum):
    CONFIRMED = "confirmed"
    WORSE = "worse"
    ACK = "ack"
    CLEAR = "clear"
    CLEAR_UNLATCHED = "clear_unlatched"
    OVERDUE = "overdue"


TABLE: dict[tuple[EpState | None, Trigger], tuple[EpState, Phase | None]] = {
    (None, Trigger.CONFIRMED): (EpState.ACTIVE, Phase.START),
    (EpState.ACTIVE, Trigger.WORSE): (EpState.ACTIVE, Phase.UPDATE),
    (EpState.ACKNOWLEDGED, Trigger.WORSE): (EpState.ACKNOWLEDGED, Phase.UPDATE),
    (EpState.ACTIVE, Trigger.ACK): (EpState.ACKNOWLEDGED, None),
    (EpState.ACTIVE, Trigger.CLEAR): (EpState.LATCHED, Phase.END),
    (EpState.ACTIVE, Trigger.CLEAR_UNLATCHED): (EpState.CLOSED, Phase.END),
    (EpState.ACKNOWLEDGED, Trigger.CLEAR): (EpState.CLOSED, Phase.END),
    (EpState.ACKNOWLEDGED, Trigger.CLEAR_UNLATCHED): (EpState.CLOSED, Phase.END),
    (EpState.LATCHED, Trigger.ACK): (EpState.CLOSED, None),
    (EpState.ACTIVE, Trigger.OVERDUE): (EpState.ACTIVE, Phase.ESCALATE),
    (EpState.LATCHED, Trigger.OVERDUE): (EpState.LATCHED, Phase.ESCALATE),
}

ALERT_STATE: dict[EpState, AlertState] = {
    EpState.ACTIVE: AlertState.ACTIVE,
    EpState.ACKNOWLEDGED: AlertState.ACKNOWLEDGED,
    EpState.LATCHED: AlertState.RESOLVED,
    EpState.CLOSED: AlertState.RESOLVED,
}


def step(state: EpState | None, trigger: Trigger) -> tuple[EpState, Phase | None] | None:
    """The next state and the phase to emit, or None when the trigger means nothing here."""
    return TABLE.get((state, trigger))


@dataclass(slots=True, kw_only=True)
class Episode:
    """One alert episode of one rule at one bed."""

    id: str
    bed: str
    rule_id: str
    onset: datetime
    started: float  # engine seconds at `start`
    iae: bool
    state: EpState = EpState.ACTIVE
    acked_by: str | None = None
    acked_at: datetime | None = None
    ended_at: datetime | None = None
    escalated: bool = False
    worst: dict[str, float] = field(default_factory=dict)
    count: int = 1  # triggers seen (event rules)
    keys: set[str] = field(default_factory=set)  # open keys of paired events (event rules)
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def open(self) -> bool:
        return self.state in (EpState.ACTIVE, EpState.ACKNOWLEDGED)
