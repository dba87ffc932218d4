"""How a committed transition changes an alert's stored state (pure; no I/O).

The rules engine does not know about acknowledgements, so the store merges each incoming
transition with what it holds:

    stored           incoming                       stored after
    ─────────────    ───────────────────────────    ────────────────────────────────────────
    (none)           any                            as given (END or RESOLVED → resolved)
    ended            START                          a new episode: as given, ack cleared
    ended            UPDATE / ESCALATE / END        stays resolved (first ended_at kept)
    acknowledged     UPDATE / END                   keeps who/when acked; END → resolved
    acknowledged     ESCALATE to a higher priority  ack cleared: active again (must be heard)
    any              ACK (with acked_by)            acknowledged (or resolved if ended)

State is then derived, never trusted from the input:
    ended → resolved; else acknowledged if someone acked; else active.
A resolved alert nobody acknowledged is "latched": the station keeps showing it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from core.model import Alert, AlertState, Phase


def merge(stored: Alert | None, incoming: Alert) -> Alert:
    """The alert as it must be stored after `incoming` (seq left for the store to assign)."""
    new_episode = stored is None or (incoming.phase is Phase.START and stored.ended_at is not None)
    ends_now = incoming.phase is Phase.END or incoming.state is AlertState.RESOLVED
    ended_at: datetime | None
    if stored is None or new_episode:
        onset = incoming.onset
        acked_by, acked_at = incoming.acked_by, incoming.acked_at
        ended_at = (incoming.ended_at or incoming.t) if ends_now else None
    else:
        onset = min(stored.onset, incoming.onset)
        acked_by = stored.acked_by or incoming.acked_by
        acked_at = stored.acked_at if stored.acked_by else incoming.acked_at
        if stored.ended_at is not None:
            ended_at = stored.ended_at
        elif ends_now:
            ended_at = incoming.ended_at or incoming.t
        else:
            ended_at = None
        escalated = (
            incoming.phase is Phase.ESCALATE
            and incoming.priority.rank > stored.priority.rank
            and ended_at is None
        )
        if escalated:
            acked_by = acked_at = None
    return replace(
        incoming,
        onset=onset,
        state=derived_state(ended=ended_at is not None, acked=acked_by is not None),
        acked_by=acked_by,
        acked_at=acked_at,
        ended_at=ended_at,
        seq=None,
    )


def acknowledged(stored: Alert, *, by: str, t: datetime) -> Alert:
    """`stored` after `by` acknowledged it at `t` (a transition with phase ACK)."""
    return replace(
        stored,
        phase=Phase.ACK,
        t=max(t, stored.onset),  # a transition cannot precede its onset, even on a skewed clock
        state=derived_state(ended=stored.ended_at is not None, acked=True),
        acked_by=by,
        acked_at=t,
        seq=None,
    )


def derived_state(*, ended: bool, acked: bool) -> AlertState:
    if ended:
        return AlertState.RESOLVED
    return AlertState.ACKNOWLEDGED if acked else AlertState.ACTIVE


def on_station(alert: Alert) -> bool:
    """Whether the station must show it: not ended, or ended but never acknowledged."""
    return alert.ended_at is None or alert.acked_by is None
