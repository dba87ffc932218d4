"""A pump server's messages as the Modbus pump driver's observations and events, sans-IO.

Each configured `hl7-pump` source (a bed's study or vasopressor pump) keeps the pump's last
known reading. A message updates what it says (`drivers.hl7.pump.PumpData`: a PCD-01 status,
a PCD-10 event with the parameters in force, a PCD-04 alarm) and the merged reading goes
through the Modbus driver's own `drivers.modbus.pump_events.PumpInterpreter`: the same
`pump_program`, `infusion_start` / `infusion_end`, `pump_alarm` / `pump_alarm_cleared`,
rate / volume observations and vasopressor doses, so the trial's order check and the
vasopressor rules see no difference.

What HL7 adds to a reading:
- IPEC delivery start: the infusion's start time (`time_source: pump`); a start also ends
  the alarms that stopped the pump (a pump restarts only once they are resolved);
- IPEC delivery complete: the end time and the `end_of_infusion` alarm a Modbus pump raises;
- a PCD-04 alarm with phase start/continue raises its kind, phase end clears it;
- a vasopressor pump that gives its dose rate but no concentration: the concentration is
  derived from the dose rate, the rate and (per-kg doses) the patient's weight;
- a vasopressor source whose pump is labelled with another vasopressor (`drug_of_label`:
  "Noradrenaline" is norepinephrine) gives no dose and one `device_code_conflict` event:
  unknown, never a wrong drug's dose.

Which source a pump is: one whose identifiers (the configured `eui64`, or those learned from
its earlier messages) it carries. Else, among the sources not yet bound to identifiers: the
bed's only source for a pump with no drug label; a vasopressor source with the drug on the
pump; the study source for a pump whose drug is not a vasopressor. The first match binds the
source to that pump's identifiers: another pump never takes it over. A PCD-04 alarm names no
drug: it reaches only a pump known by its identifiers, and binds none. So a bed whose pump
server reports several non-vasopressor pumps needs its study pump's `eui64` configured. A
pump that matches none is counted in `PumpFeed.unmatched`, logged once, and ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from core.errors import UnitError
from core.model import DeviceEvent, EventSource, Observation, ValueStatus
from core.params import VASOPRESSOR_CODES
from core.units import convert
from core.vocabulary import STOPPING_PUMP_ALARMS
from drivers.hl7 import pump_terms
from drivers.hl7.pump import PumpAlarm, PumpData, PumpMessage
from drivers.modbus.codec import PumpReading
from drivers.modbus.pump_events import Evt, Obs, PumpInterpreter, Role

log = logging.getLogger(__name__)

Output = Observation | DeviceEvent
_STOPPING = STOPPING_PUMP_ALARMS | {"end_of_infusion"}


@dataclass(frozen=True, slots=True, kw_only=True)
class PumpSource:
    """One configured pump reached through a pump server (an `hl7-pump` device)."""

    device_id: str
    role: Role = "study"
    drug: str | None = None
    concentration_ug_ml: float | None = None
    ids: tuple[str, ...] = ()  # the pump's identifiers (OBX-18 entity id or EUI-64)
    weight_kg: Callable[[], float | None] = field(default=lambda: None, compare=False)


@dataclass(slots=True)
class _Track:
    source: PumpSource
    interpreter: PumpInterpreter
    ids: set[str]
    last: PumpReading | None = None


class PumpFeed:
    """Pump server messages in, the Modbus pump driver's outputs out, per configured pump."""

    def __init__(self, sources: Mapping[str, Sequence[PumpSource]]) -> None:
        self._tracks: dict[str, list[_Track]] = {
            bed: [
                _Track(
                    s,
                    PumpInterpreter(
                        role=s.role,
                        drug=s.drug,
                        concentration_ug_ml=s.concentration_ug_ml,
                        weight_kg=s.weight_kg,
                    ),
                    set(s.ids),
                )
                for s in group
            ]
            for bed, group in sources.items()
            if group
        }
        self.unmatched = 0  # pumps that matched no source
        self.unusable = 0  # values left out: a unit we cannot convert (`PumpData.unusable`)
        self._unmatched_logged: set[tuple[str, tuple[str, ...]]] = set()
        self._conflicts: set[tuple[str, str, str]] = set()

    def serves(self, bed: str) -> bool:
        """Whether `bed` has a pump configured on this feed."""
        return bed in self._tracks

    def translate(
        self, bed: str, message: PumpMessage, when: Callable[[datetime | None], datetime]
    ) -> list[Output]:
        """The outputs of one message for `bed`; `when(t)` is the time a sender's `t` (None:
        none given) stands for on our clock."""
        out: list[Output] = []
        for data in message.pumps:
            self.unusable += len(data.unusable)
            track = self._match(bed, data.ids, data.drug)
            if track is None:
                continue
            t = when(data.time or message.event_time)
            conflict = _drug_conflict(track.source, data.drug)
            if conflict:  # not this pump's drug: no dose rather than a wrong one
                if (bed, track.source.device_id, conflict) not in self._conflicts:
                    self._conflicts.add((bed, track.source.device_id, conflict))
                    log.warning("HL7 pump %s at %s: %s", track.source.device_id, bed, conflict)
                    fields = {
                        "device": track.source.device_id,
                        "obx3": _DRUG_LABEL,
                        "reason": conflict,
                    }
                    out.append(
                        DeviceEvent(
                            t=t,
                            bed=bed,
                            event="device_code_conflict",
                            fields=fields,
                            device=track.source.device_id,
                            source=EventSource.DEVICE,
                        )
                    )
                continue
            reading = self._merge(track, data, message, when)
            out += self._interpret(track, reading, bed, t)
        for alarm in message.alarms:
            track = self._alarmed_pump(bed, alarm.ids)
            if track is not None:
                out += self._interpret(track, _alarmed(track.last, alarm), bed, when(alarm.time))
        return out

    # -- which pump ---------------------------------------------------------------------
    def _match(self, bed: str, ids: tuple[str, ...], drug: str | None) -> _Track | None:
        tracks = self._tracks.get(bed, [])
        found = next((t for t in tracks if t.ids & set(ids)), None)
        free = [t for t in tracks if not t.ids]  # not yet bound to a pump's identifiers
        if found is None and len(tracks) == 1 and free and not drug:
            found = free[0]
        if found is None and drug:
            same = [t for t in free if t.source.role == "vasopressor" and t.source.drug == drug]
            study = [t for t in free if t.source.role == "study"]
            pick = same or (study if drug not in VASOPRESSOR_CODES else [])
            found = pick[0] if len(pick) == 1 else None
        if found is None:
            self._unmatched(bed, ids, drug)
            return None
        found.ids.update(i for i in ids if i)
        return found

    def _unmatched(self, bed: str, ids: tuple[str, ...], drug: str | None) -> None:
        self.unmatched += 1
        if (bed, ids) not in self._unmatched_logged:
            self._unmatched_logged.add((bed, ids))
            log.warning("HL7 pump %s (drug %s) at %s matches no hl7-pump source", ids, drug, bed)

    def _alarmed_pump(self, bed: str, ids: tuple[str, ...]) -> _Track | None:
        """An alarm names no drug: it reaches a pump known by its identifiers (or the bed's
        only pump when it carries none), never binds one."""
        tracks = self._tracks.get(bed, [])
        found = next((t for t in tracks if t.ids & set(ids)), None)
        if found is None and not ids and len(tracks) == 1:
            found = tracks[0]
        if found is None:
            self._unmatched(bed, ids, None)
        return found

    # -- the reading ----------------------------------------------------------------------
    def _merge(
        self,
        track: _Track,
        data: PumpData,
        message: PumpMessage,
        when: Callable[[datetime | None], datetime],
    ) -> PumpReading:
        prev = track.last or PumpReading()
        said = {
            name: getattr(data, name)
            for name in ("rate_ml_h", "vtbi_ml", "volume_infused_ml", "state", "drug")
            if getattr(data, name) is not None
        }
        conc = data.concentration if data.concentration is not None else prev.concentration_ug_ml
        if conc is None and track.source.role == "vasopressor":
            conc = _from_dose_rate(data, track.source.weight_kg())
        alarms = set(prev.alarms)
        started = stopped = None
        event_at = when(message.event_time).timestamp() if message.event else None
        if message.event == pump_terms.DELIV_START.name and data.state == "running":
            alarms -= _STOPPING
            started = event_at
        elif message.event == pump_terms.DELIV_COMP.name:
            alarms.add("end_of_infusion")
            stopped = event_at
        elif message.event == pump_terms.DELIV_STOP.name:
            stopped = event_at
        return replace(
            prev,
            **said,
            concentration_ug_ml=conc,
            alarms=frozenset(alarms),
            infusion_started_at=started,
            infusion_stopped_at=stopped,
            infusion_elapsed_s=None,
            volume_at=None,
        )

    def _interpret(
        self, track: _Track, reading: PumpReading, bed: str, t: datetime
    ) -> list[Output]:
        track.last = reading
        device = track.source.device_id
        out: list[Output] = []
        for item in track.interpreter.interpret(reading):
            if isinstance(item, Obs):
                status = ValueStatus.VALID if item.value is not None else ValueStatus.UNAVAILABLE
                at = min(item.at, t) if item.at is not None else t
                out.append(
                    Observation(
                        t=at,
                        bed=bed,
                        code=item.code,
                        value=item.value,
                        unit=item.unit,
                        device=device,
                        status=status,
                    )
                )
            else:
                out.append(_event(item, bed, device, t))
        return out


def _event(item: Evt, bed: str, device: str, t: datetime) -> DeviceEvent:
    """The event at the pump's own time when it gave one (never later than `t`)."""
    at = t
    if item.at is not None:
        at = min(item.at, t)
    elif item.ago_s is not None:
        at = t - timedelta(seconds=max(0.0, item.ago_s))
    return DeviceEvent(
        t=at, bed=bed, event=item.name, fields=item.fields, device=device, source=EventSource.DEVICE
    )


_DRUG_LABEL = pump_terms.term("drug").name


def _drug_conflict(source: PumpSource, drug: str | None) -> str:
    """Why a vasopressor source must not take this pump's data ('' when it may): the pump's
    label names another vasopressor than the one configured."""
    if source.role != "vasopressor" or drug is None or drug == source.drug:
        return ""
    if drug not in VASOPRESSOR_CODES:
        return ""
    return f"configured {source.drug}, the pump is labelled {drug}: no dose is computed"


def _alarmed(prev: PumpReading | None, alarm: PumpAlarm) -> PumpReading:
    reading = prev or PumpReading()
    alarms = set(reading.alarms)
    if alarm.active:
        alarms.add(alarm.kind)
    else:
        alarms.discard(alarm.kind)
    return replace(
        reading, alarms=frozenset(alarms), infusion_started_at=None, infusion_stopped_at=None
    )


def _from_dose_rate(data: PumpData, weight_kg: float | None) -> float | None:
    """The concentration (ug/mL) a pump's dose rate and rate imply, or None."""
    if data.dose_rate is None or not data.rate_ml_h:
        return None
    value, unit = data.dose_rate
    try:
        ug_min = convert(value, unit, "ug/min", weight_kg=data.weight_kg or weight_kg)
    except UnitError:
        return None
    return round(ug_min * 60.0 / data.rate_ml_h, 6)
