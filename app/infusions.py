"""Starting and ending the study infusion: written once, for the pump and the clinician.

A pump's `infusion_start` (from the pipeline, or a scenario run into a store) and a clinician's
start (from either REST endpoint, after its own checks) both go through `start_infusion`: one
running infusion per bed, its row in the store. The caller pushes the bed to the stations, and
puts a clinician's event on the bus afterwards (a pump's is already there): the rules engine
learns of the start from that event, whoever sent it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from core.model import DeviceEvent, EventSource

if TYPE_CHECKING:
    from app.store import InfusionRow, Store

log = logging.getLogger(__name__)


class InfusionRunning(Exception):
    """A start at a bed where an infusion already runs (the first start stands)."""

    def __init__(self, running: InfusionRow) -> None:
        self.running = running
        super().__init__(f"an infusion is running at {running.bed}")


def order_fields(ev: DeviceEvent) -> tuple[float | None, float | None, float | None]:
    """(weight_kg, volume_ml, planned_min) an `infusion_start` event carries."""
    f = ev.fields
    return _num(f.get("weight_kg")), _num(f.get("volume_ml")), _num(f.get("planned_min"))


async def start_infusion(store: Store, ev: DeviceEvent) -> InfusionRow:
    """Record the `infusion_start` `ev`; InfusionRunning if an infusion runs at the bed."""
    current = await store.current_infusion(ev.bed)
    if current is not None and current.running:
        raise InfusionRunning(current)
    return await _record_start(store, ev)


async def _record_start(store: Store, ev: DeviceEvent) -> InfusionRow:
    weight, volume, planned = order_fields(ev)
    return await store.start_infusion(
        bed=ev.bed,
        t=ev.t,
        weight_kg=weight,
        volume_ml=volume,
        planned_min=planned,
        source=_source(ev),
        **start_certainty(ev),
    )


def start_certainty(ev: DeviceEvent) -> dict[str, Any]:
    """How sure the `infusion_start` `ev`'s time is, as the store keeps it: the pump's own
    time, or seen at reconnection with the outage (the start lies within it); else Nones."""
    f = ev.fields
    if f.get("time_source") == "pump":
        return {"start_time_source": "pump", "start_uncertainty_s": None}
    if f.get("seen_at_reconnect") is True:
        return {
            "start_time_source": "seen_at_reconnect",
            "start_uncertainty_s": _num(f.get("gap_s")),
        }
    return {"start_time_source": None, "start_uncertainty_s": None}


async def end_infusion(store: Store, ev: DeviceEvent) -> InfusionRow | None:
    """Record the `infusion_end` `ev` (None when no infusion ran)."""
    return await store.end_infusion(bed=ev.bed, t=ev.t)


async def record_device_infusion(
    store: Store, ev: DeviceEvent, *, monitoring_window_h: float | None = None
) -> bool:
    """A pump's `infusion_start` or `infusion_end` is recorded here (a clinician's was recorded
    by the endpoint that took it). True when the bed's infusion record changed.

    A start is not recorded while the bed's infusion runs, nor (given `monitoring_window_h`)
    inside the monitoring window of its last infusion: the rules engine ignores such a start
    too (`monitors.engine.infusion`), so the record and the alerts keep the first start."""
    if ev.source is EventSource.CLINICIAN:
        return False
    if ev.event == "infusion_start":
        current = await store.current_infusion(ev.bed)  # read once for both checks
        if current is not None and current.running:
            _start_ignored(ev, current, "while the infusion runs that")
            return False
        if current is not None and monitoring_window_h is not None:
            window_end = current.started_at + timedelta(hours=monitoring_window_h)
            if ev.t < window_end:
                _start_ignored(
                    ev, current, f"inside the {monitoring_window_h:g} h window of the infusion"
                )
                return False
        await _record_start(store, ev)
        return True
    if ev.event == "infusion_end":
        return await end_infusion(store, ev) is not None
    return False


def _start_ignored(ev: DeviceEvent, first: InfusionRow, why: str) -> None:
    log.warning(
        "%s: %s reports a new infusion start at %s, %s started at %s: not recorded, and the "
        "rules engine ignores it too (its windows run from that first start)",
        ev.bed,
        ev.device or "a pump",
        ev.t.isoformat(),
        why,
        first.started_at.isoformat(),
    )


def _source(ev: DeviceEvent) -> str:
    if ev.source is EventSource.CLINICIAN:
        return EventSource.CLINICIAN.value
    return ev.device or "device"


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None
