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

The rules engine and the study order check both keep their episodes in an `EpisodeBook` and
build their alerts with `alert()`: one episode type, one way to open, acknowledge and end one.
Alert ids are uuid5(book namespace, bed, rule, onset), so a replay gives the same ids.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from core.model import Alert, AlertState, Category, Phase, Priority


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


class EpisodeBook:
    """The episodes of one alert source still to be acknowledged or ended, by alert id."""

    def __init__(self, namespace: uuid.UUID, *, latching: bool = True) -> None:
        self.namespace = namespace
        self.latching = latching
        self.by_id: dict[str, Episode] = {}

    def open(
        self, *, bed: str, rule_id: str, onset: datetime, started: float, iae: bool
    ) -> Episode:
        """A new ACTIVE episode, its id uuid5(namespace, bed, rule, onset)."""
        stamp = onset.astimezone(UTC).isoformat()
        aid = str(uuid.uuid5(self.namespace, f"{bed}\x1f{rule_id}\x1f{stamp}"))
        ep = Episode(id=aid, bed=bed, rule_id=rule_id, onset=onset, started=started, iae=iae)
        self.by_id[aid] = ep
        return ep

    def put(self, ep: Episode) -> None:
        """Keep an episode restored from the store (`monitors.engine.restore`), as it was."""
        self.by_id[ep.id] = ep

    def acknowledge(self, alert_id: str, by: str, at: datetime) -> Episode | None:
        """Record the acknowledgement; the episode, or None when the id is unknown here or
        the episode's state takes no acknowledgement."""
        ep = self.by_id.get(alert_id)
        if ep is None:
            return None
        nxt = step(ep.state, Trigger.ACK)
        if nxt is None:
            return None
        ep.state = nxt[0]
        ep.acked_by, ep.acked_at = by, at
        if ep.state is EpState.CLOSED:
            del self.by_id[alert_id]
        return ep

    def end(self, ep: Episode, at: datetime) -> bool:
        """The condition is over (latched until acknowledged, unless latching is off);
        False when the episode's state takes no end."""
        nxt = step(ep.state, Trigger.CLEAR if self.latching else Trigger.CLEAR_UNLATCHED)
        if nxt is None:
            return False
        ep.state = nxt[0]
        ep.ended_at = at
        if ep.state is EpState.CLOSED:
            self.by_id.pop(ep.id, None)
        return True

    def active(self, bed: str) -> int:
        """Episodes at `bed` not yet forgotten (open, or latched unacknowledged)."""
        return sum(1 for ep in self.by_id.values() if ep.bed == bed)


def alert(
    ep: Episode,
    *,
    category: Category,
    priority: Priority,
    phase: Phase,
    t: datetime,
    message: str,
    evidence: dict[str, Any],
) -> Alert:
    """The alert transition `phase` of episode `ep` at `t`."""
    return Alert(
        id=ep.id,
        bed=ep.bed,
        category=category,
        rule=ep.rule_id,
        priority=priority,
        phase=phase,
        state=ALERT_STATE[ep.state] if phase is not Phase.END else AlertState.RESOLVED,
        onset=ep.onset,
        t=t,
        message=message,
        evidence=evidence,
        iae=ep.iae,
        acked_by=ep.acked_by,
        acked_at=ep.acked_at,
        ended_at=ep.ended_at,
    )
