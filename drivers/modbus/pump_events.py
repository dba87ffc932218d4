"""What a sequence of pump readings means: observations and events. Pure, no I/O.

`PumpInterpreter` keeps the previous reading and turns each new one into:
- study pump: rate, VTBI and volume infused as observations; `infusion_start` when the pump
  starts a programme (weight, volume and planned minutes = VTBI / rate), `infusion_end` when it
  completes; `pump_program` whenever rate, VTBI or state change (for the order check);
- vasopressor pump: the dose in the drug's clinical unit as `IAEW_DOSE_<DRUG>` (0 while not
  delivering; vasopressin in U/min, its library concentration being U/mL). A per-kg drug
  without a known weight is sent in ug/min for the consumer to convert once it is known;
- any pump: `pump_alarm` {kind} on an alarm's rising edge, `pump_alarm_cleared` {kind} when it
  clears.

A pump first seen already running mid-programme does not claim `infusion_start`: the start
was earlier and is entered or taken from the record (a restart of iaewatch must not move the
24 h window).

Times are the pump's own when its profile maps them, else the reading's:
- `infusion_start` at `infusion_started_at` or `infusion_elapsed_s` before the reading;
- `infusion_end` at `infusion_stopped_at`;
- the volume infused at `volume_at`.
A timed event says `time_source: pump`. A start or an end first seen in the reading after a
link outage (`gap_s` given) without the pump's own time happened somewhere in that outage:
the event says `seen_at_reconnect: true` and `gap_s`, so the uncertainty shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from core.errors import UnitError
from core.params import PARAMETERS, VASOPRESSOR_CODES
from core.units import convert
from core.vocabulary import STOPPING_PUMP_ALARMS
from drivers.modbus.codec import PumpReading

Role = Literal["study", "vasopressor"]


@dataclass(frozen=True, slots=True)
class Obs:
    """An observation; `at` (the pump's own clock) when its time is not the reading's."""

    code: str
    value: float | None
    unit: str
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Evt:
    """An event; `at` (the pump's own clock) or `ago_s` (before the reading) when its time is
    not the reading's."""

    name: str
    fields: dict[str, Any]
    at: datetime | None = None
    ago_s: float | None = None


_FRESH_PROGRAMME_ML = 1.0  # volume infused below which a running pump has just started


class PumpInterpreter:
    """Readings in, observations and events out, for one pump."""

    def __init__(
        self,
        *,
        role: Role,
        drug: str | None = None,
        concentration_ug_ml: float | None = None,
        weight_kg: Callable[[], float | None] = lambda: None,
    ) -> None:
        self.role = role
        self.drug = drug.lower() if drug else None
        self.concentration_ug_ml = concentration_ug_ml
        self.weight_kg = weight_kg
        self._prev: PumpReading | None = None
        self._running_programme = False

    def interpret(self, r: PumpReading, *, gap_s: float | None = None) -> list[Obs | Evt]:
        """What `r` means after the previous reading; `gap_s`: the link was down that long
        just before `r` (the first reading after a reconnection)."""
        out: list[Obs | Evt] = []
        prev = self._prev
        if self.role == "study":
            out += self._study(r, prev, gap_s)
        else:
            out += self._vasopressor(r)
        before = prev.alarms if prev else frozenset()
        out += [Evt("pump_alarm", {"kind": k}) for k in sorted(r.alarms - before)]
        out += [Evt("pump_alarm_cleared", {"kind": k}) for k in sorted(before - r.alarms)]
        self._prev = r
        return out

    def _study(
        self, r: PumpReading, prev: PumpReading | None, gap_s: float | None
    ) -> list[Obs | Evt]:
        out: list[Obs | Evt] = [Obs("MDC_FLOW_FLUID_PUMP", r.rate_ml_h, "mL/h")]
        if r.volume_infused_ml is not None:
            out.append(
                Obs("MDC_VOL_FLUID_DELIV", r.volume_infused_ml, "mL", _pump_time(r.volume_at))
            )
        if r.vtbi_ml is not None:
            out.append(Obs("MDC_VOL_FLUID_TBI", r.vtbi_ml, "mL"))
        running = r.state == "running" if r.state else bool(r.rate_ml_h)
        if prev is None or (prev.state, prev.rate_ml_h, prev.vtbi_ml) != (
            r.state,
            r.rate_ml_h,
            r.vtbi_ml,
        ):
            out.append(
                Evt(
                    "pump_program",
                    {
                        "state": r.state,
                        "rate_ml_h": r.rate_ml_h,
                        "vtbi_ml": r.vtbi_ml,
                        "volume_infused_ml": r.volume_infused_ml,
                    },
                )
            )
        fresh = (r.volume_infused_ml or 0.0) <= _FRESH_PROGRAMME_ML
        if running and not self._running_programme and (prev is not None or fresh):
            self._running_programme = True
            planned = (
                round(r.vtbi_ml / r.rate_ml_h * 60.0, 1) if r.vtbi_ml and r.rate_ml_h else None
            )
            fields = {
                "weight_kg": self.weight_kg(),
                "volume_ml": r.vtbi_ml,
                "planned_min": planned,
                "rate_ml_h": r.rate_ml_h,
            }
            out.append(_timed_start(fields, r, gap_s))
        elif running and prev is None:
            self._running_programme = True  # mid-programme: the start is not ours to claim
        finished = r.state == "completed" or "end_of_infusion" in r.alarms
        if self._running_programme and finished:
            self._running_programme = False
            out.append(_timed_end({"volume_infused_ml": r.volume_infused_ml}, r, gap_s))
        return out

    def _vasopressor(self, r: PumpReading) -> list[Obs | Evt]:
        drug = self.drug or r.drug
        conc = self.concentration_ug_ml or r.concentration_ug_ml
        code = VASOPRESSOR_CODES.get(drug or "")
        if code is None or conc is None or r.rate_ml_h is None:
            return []  # drug or concentration unknown: the driver reports it at connect
        # a profile without a state register: the programmed rate is what runs
        running = r.state == "running" if r.state is not None else r.rate_ml_h > 0
        delivering = running and not r.alarms & STOPPING_PUMP_ALARMS
        per_min = r.rate_ml_h * conc / 60.0 if delivering else 0.0
        unit = PARAMETERS[code].unit
        if unit == "U/min":  # vasopressin: the library concentration is in U/mL
            return [Obs(code, round(per_min, 5), unit)]
        try:
            dose = convert(per_min, "ug/min", unit, weight_kg=self.weight_kg())
        except UnitError:  # a per-kg drug before the weight is known: the consumer converts
            return [Obs(code, round(per_min, 4), "ug/min")]
        return [Obs(code, round(dose, 4), unit)]


def _pump_time(unix_s: float | None) -> datetime | None:
    return None if unix_s is None else datetime.fromtimestamp(unix_s, UTC)


def _timed_start(fields: dict[str, Any], r: PumpReading, gap_s: float | None) -> Evt:
    """`infusion_start` at the pump's own time when it reports one, else marked as seen at
    reconnection when a link outage came just before."""
    if r.infusion_started_at is not None:
        at = _pump_time(r.infusion_started_at)
        return Evt("infusion_start", {**fields, "time_source": "pump"}, at=at)
    if r.infusion_elapsed_s is not None:
        return Evt("infusion_start", {**fields, "time_source": "pump"}, ago_s=r.infusion_elapsed_s)
    return Evt("infusion_start", _seen_at_reconnect(fields, gap_s))


def _timed_end(fields: dict[str, Any], r: PumpReading, gap_s: float | None) -> Evt:
    """`infusion_end` at the pump's own stop time when it reports one, else marked as seen at
    reconnection when a link outage came just before."""
    if r.infusion_stopped_at is not None:
        at = _pump_time(r.infusion_stopped_at)
        return Evt("infusion_end", {**fields, "time_source": "pump"}, at=at)
    return Evt("infusion_end", _seen_at_reconnect(fields, gap_s))


def _seen_at_reconnect(fields: dict[str, Any], gap_s: float | None) -> dict[str, Any]:
    if gap_s is None:
        return fields
    return {**fields, "seen_at_reconnect": True, "gap_s": round(gap_s, 1)}
