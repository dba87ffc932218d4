"""The JSON shapes the REST API and the station websocket share: bed, device, infusion,
patient and value dicts (an alert's is `core.records.alert_record`).

One builder per shape, so a bed looks the same in `GET /api/beds`, in a snapshot and in a
`bed` push. Times are `core.records.format_time`'s: ISO 8601 in UTC with a `Z`. `Views` also
keeps the latest numerics per bed as the hub publishes them, so listing beds needs no query
per parameter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from app.live.registry import DeviceRegistry, StatusProvider
from core.clock import Clock
from core.model import Alert, Observation
from core.records import format_time_or_none as iso
from drivers.base import ConnectionState

if TYPE_CHECKING:
    from app.store import BedRow, InfusionRow, PatientRow, Store

IAE_WINDOW = timedelta(hours=24)
PROTOCOL_WINDOW = timedelta(hours=6)
"""Most protocol IAEs count within 6 h of the infusion start; cardiac arrest and death in 24 h."""
RATE_CODE = "MDC_FLOW_FLUID_PUMP"
INFUSED_CODE = "MDC_VOL_FLUID_DELIV"


def value_dict(o: Observation) -> dict[str, Any]:
    return {"value": o.value, "unit": o.unit, "t": iso(o.t), "status": o.status.value}


def values_dict(values: Mapping[str, Observation]) -> dict[str, dict[str, Any]]:
    return {code: value_dict(o) for code, o in sorted(values.items())}


STALE_FRACTION = 0.5
"""A connected device is shown stale once it has been quiet for this part of its
`stale_after` (after the whole of it the driver drops the session: offline)."""


def presence(p: StatusProvider, now: datetime) -> tuple[str, datetime | None]:
    """What a device's dot shows and since when: `connected` (since it connected), `stale`
    (connected, but nothing received for `STALE_FRACTION` of its `stale_after`: since its last
    frame), `offline` (lost or failing: since its last frame, else its current state's start)
    or `connecting` (the first attempt, nothing failed yet)."""
    s = p.status
    if s.state is ConnectionState.CONNECTED:
        heard = max((t for t in (s.last_frame, s.since) if t is not None), default=None)
        if heard is not None and (now - heard).total_seconds() >= p.stale_after * STALE_FRACTION:
            return "stale", heard
        return "connected", s.since
    if s.state is ConnectionState.CONNECTING and s.last_frame is None and not s.last_error:
        return "connecting", s.since
    return "offline", s.last_frame or s.since


def device_dict(bed: str, device_id: str, p: StatusProvider, now: datetime) -> dict[str, Any]:
    s = p.status
    shown, shown_since = presence(p, now)
    return {
        "bed": bed,
        "device_id": device_id,
        "kind": p.kind,
        "protocol": p.protocol,
        "address": p.address,
        "state": s.state.value,
        "since": iso(s.since),
        "last_frame": iso(s.last_frame),
        "frames": s.frames,
        "bad_frames": s.bad_frames,
        "reconnects": s.reconnects,
        "last_error": s.last_error,
        "identification": dict(s.identification),
        "stale": shown == "stale",
        "stale_after_s": p.stale_after,
        "presence": shown,
        "presence_since": iso(shown_since),
    }


def patient_dict(p: PatientRow) -> dict[str, Any]:
    return {
        "study_id": p.study_id,
        "bed": p.bed,
        "weight_kg": p.weight_kg,
        "arm": p.arm.value,
        "ards_onset": iso(p.ards_onset),
        "age_years": p.age_years,
    }


def infusion_state(
    inf: InfusionRow, rate: float | None, alerts: Iterable[Alert]
) -> tuple[str, str | None]:
    """What the infusion is doing, truthfully: `complete` once ended; `stopped` (with the pump
    alarm's kind) while a pump alarm alert of the bed is open; `paused` at a rate of 0;
    else `running`."""
    if inf.ended_at is not None:
        return "complete", None
    for a in alerts:
        if a.ended_at is None and a.evidence.get("event") == "pump_alarm":
            kind = (a.evidence.get("fields") or {}).get("kind")
            return "stopped", str(kind) if kind else None
    if rate is not None and rate <= 0:
        return "paused", None
    return "running", None


def infusion_dict(
    inf: InfusionRow,
    latest: Mapping[str, Observation],
    now: datetime,
    alerts: Iterable[Alert] = (),
) -> dict[str, Any]:
    """An infusion with its progress (the pump's figures when it reports, else elapsed time),
    its state (`infusion_state`, from the bed's open `alerts`) and both windows' ends."""
    started, ended = inf.started_at, inf.ended_at

    def since_start(code: str) -> float | None:
        o = latest.get(code)
        if o is None or not o.usable or o.t < started:
            return None
        return o.value

    infused = since_start(INFUSED_CODE)
    rate = since_start(RATE_CODE) if ended is None else None
    volume, planned = inf.volume_ml, inf.planned_min
    planned_rate = volume / planned * 60.0 if volume and planned else None
    progress: float | None = None
    source: str | None = None
    if infused is not None and volume:
        progress, source = min(1.0, infused / volume), "pump"
    elif planned:
        elapsed = ((ended or now) - started).total_seconds() / 60.0
        progress, source = min(1.0, max(0.0, elapsed / planned)), "time"
    state, reason = infusion_state(inf, rate, alerts)
    return {
        "state": state,
        "state_reason": reason,
        "started_at": iso(started),
        "ended_at": iso(ended),
        "planned_min": inf.planned_min,
        "volume_ml": inf.volume_ml,
        "weight_kg": inf.weight_kg,
        "volume_infused_ml": infused,
        "rate_ml_h": rate,
        "planned_rate_ml_h": planned_rate,
        "progress": progress,
        "progress_source": source,
        "window_end": iso(started + IAE_WINDOW),
        "window_6h_end": iso(started + PROTOCOL_WINDOW),
        "source": inf.source,
        "start_time_source": inf.start_time_source,
        "start_uncertainty_s": inf.start_uncertainty_s,
    }


STATION_HIDDEN = frozenset({"bed", "arm"})
"""Patient fields a bed payload leaves out: the bed is the key, and the arm would unblind."""


def alert_summary(alerts: Iterable[Alert]) -> dict[str, Any]:
    alerts = list(alerts)
    top = max(alerts, key=lambda a: a.priority.rank, default=None)
    return {"count": len(alerts), "highest_priority": top.priority.value if top else None}


class Views:
    """Builds bed dicts from the store, the latest numerics and the device registry."""

    def __init__(self, store: Store, devices: DeviceRegistry, clock: Clock) -> None:
        self._store = store
        self._devices = devices
        self._clock = clock
        self._latest: dict[str, dict[str, Observation]] = {}

    def note_numerics(self, bed: str, values: Mapping[str, Observation]) -> None:
        """Keep the newest value per code (called by the hub as numerics are published)."""
        mine = self._latest.setdefault(bed, {})
        for code, o in values.items():
            old = mine.get(code)
            if old is None or o.t >= old.t:
                mine[code] = o

    async def latest(self, bed: str) -> dict[str, Observation]:
        if bed not in self._latest:
            stored = await self._store.latest_values(bed)
            self.note_numerics(bed, stored)
        return self._latest[bed]

    def devices(self, bed: str | None = None) -> list[dict[str, Any]]:
        now = self._clock.now()
        if bed is None:
            return [device_dict(b, d, p, now) for (b, d), p in self._devices.items()]
        return [device_dict(bed, d, p, now) for d, p in sorted(self._devices.at_bed(bed))]

    def device(self, bed: str, device_id: str) -> dict[str, Any] | None:
        """One device's dict, None when no such device is configured."""
        p = self._devices.get(bed, device_id)
        return None if p is None else device_dict(bed, device_id, p, self._clock.now())

    async def bed_dict(self, row: BedRow, alerts: Iterable[Alert]) -> dict[str, Any]:
        """A bed as every station sees it: blinded (no trial arm: `STATION_HIDDEN`)."""
        latest = await self.latest(row.bed)
        now = self._clock.now()
        mine = [a for a in alerts if a.bed == row.bed]
        return {
            "bed": row.bed,
            "label": row.label,
            "patient": (
                None
                if row.patient is None
                else {k: v for k, v in patient_dict(row.patient).items() if k not in STATION_HIDDEN}
            ),
            "infusion": (
                None if row.infusion is None else infusion_dict(row.infusion, latest, now, mine)
            ),
            "latest": values_dict(latest),
            "alert": alert_summary(mine),
            "devices": self.devices(row.bed),
        }

    async def beds(self, station_alerts: list[Alert] | None = None) -> list[dict[str, Any]]:
        """Every bed; `station_alerts` when the caller already read them."""
        alerts = await self._store.station_alerts() if station_alerts is None else station_alerts
        rows = await self._store.list_beds()
        return [await self.bed_dict(row, alerts) for row in rows]

    async def bed(self, bed: str) -> dict[str, Any] | None:
        for row in await self._store.list_beds():
            if row.bed == bed:
                return await self.bed_dict(row, await self._store.station_alerts())
        return None
