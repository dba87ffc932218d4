"""A seeded random recording that reaches most of the engine's branches: every monitored and
ventilator parameter at its own cadence with noise, excursions of any of them (one every
5 min or so, for up to 20 min), drop-outs, unusable and implausible values, EtCO2 in kPa at
odd beds, a cuff every 15 min, a plateau every 10 min, noradrenaline doses, the study
infusion with its pump, and events (arrhythmias, clinical signs, blood gases,
disconnections, pump alarms).

`tests/app/test_replay_golden.py` replays it against stored transitions, so that a change
made for speed is shown to change nothing.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)

# code: unit, typical value, noise, lowest, highest, seconds between samples
PARAMS: dict[str, tuple[str, float, float, float, float, int]] = {
    "MDC_PULS_OXIM_SAT_O2": ("%", 93, 1.5, 50, 100, 1),
    "MDC_PULS_OXIM_PULS_RATE": ("/min", 95, 4, 20, 220, 1),
    "MDC_ECG_HEART_RATE": ("/min", 95, 4, 20, 220, 1),
    "MDC_PRESS_BLD_ART_SYS": ("mm[Hg]", 115, 6, 0, 260, 1),
    "MDC_PRESS_BLD_ART_DIA": ("mm[Hg]", 60, 4, 0, 150, 1),
    "MDC_PRESS_BLD_ART_MEAN": ("mm[Hg]", 78, 4, 0, 180, 1),
    "MDC_PRESS_BLD_NONINV_SYS": ("mm[Hg]", 118, 8, 40, 260, 900),
    "MDC_PRESS_BLD_NONINV_MEAN": ("mm[Hg]", 80, 6, 30, 180, 900),
    "MDC_TEMP_BLD": ("Cel", 37.3, 0.1, 33, 42, 1),
    "MDC_RESP_RATE": ("/min", 22, 2, 0, 60, 1),
    "MDC_VENT_CONC_AWAY_O2_INSP": ("%", 50, 0, 21, 100, 5),
    "MDC_PRESS_AWAY_END_EXP_POS": ("cm[H2O]", 10, 0, 0, 30, 5),
    "MDC_PRESS_AWAY_INSP_PEAK": ("cm[H2O]", 28, 1.5, 5, 70, 1),
    "MDC_PRESS_AWAY_MEAN": ("cm[H2O]", 16, 1, 3, 50, 1),
    "MDC_PRESS_RESP_PLAT": ("cm[H2O]", 24, 0.7, 5, 60, 600),
    "MDC_AWAY_CO2_ET": ("mm[Hg]", 38, 1.5, 0, 100, 1),
    "MDC_VOL_AWAY_TIDAL_EXP": ("mL", 420, 20, 50, 1200, 1),
    "MDC_VOL_MINUTE_AWAY_EXP": ("L/min", 9.2, 0.4, 0, 30, 1),
}
_MONITOR = ("MDC_PULS", "MDC_ECG", "MDC_PRESS_BLD", "MDC_TEMP", "MDC_RESP")


class _Bed:
    def __init__(self, rng: random.Random, index: int) -> None:
        self.name = f"ICU-{index + 1}"
        self.index = index
        self.start = rng.randint(1800, 3 * 3600)
        self.duration = rng.choice([20, 45, 70]) * 60
        self.noradrenaline = rng.choice([None, 0.0, 5.0, 12.0])
        self.excursion: dict[str, tuple[int, float]] = {}  # code -> (until, offset)
        self.off_until: dict[str, int] = {}
        self.value = {code: spec[1] for code, spec in PARAMS.items()}


def records(hours: float, beds: int, seed: int) -> Iterator[dict[str, Any]]:
    """The recording's records, in time order."""
    rng = random.Random(seed)
    state = [_Bed(rng, i) for i in range(beds)]
    for s in range(int(hours * 3600)):
        ts = (T0 + timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for bed in state:
            yield from _second(rng, bed, s, ts)


def _second(rng: random.Random, bed: _Bed, s: int, ts: str) -> Iterator[dict[str, Any]]:
    name, i = bed.name, bed.index
    since = s - bed.start
    if since == 0:
        weight = rng.choice([55, 70, 90])
        yield {
            "t": ts,
            "bed": name,
            "event": "infusion_start",
            "weight_kg": weight,
            "volume_ml": 100,
            "planned_min": 45,
            "device": f"pump-{i}",
        }
    if since == bed.duration:
        yield {"t": ts, "bed": name, "event": "infusion_end", "device": f"pump-{i}"}
    event = _event(rng, name, i, ts)
    if event is not None:
        yield event
    if rng.random() < 0.003:
        code = rng.choice(list(PARAMS))
        offset = rng.choice([-1, 1]) * rng.uniform(0.1, 0.45) * PARAMS[code][1]
        bed.excursion[code] = (s + rng.randint(20, 1200), offset)
    if rng.random() < 0.001:
        bed.off_until[rng.choice(list(PARAMS))] = s + rng.randint(30, 400)
    for code, (unit, typical, noise, low, high, every) in PARAMS.items():
        if s % every or bed.off_until.get(code, -1) > s:
            continue
        exc = bed.excursion.get(code)
        away = exc is not None and exc[0] > s
        target = typical + (exc[1] if exc is not None and away else 0.0)
        v = bed.value[code] = bed.value[code] + 0.1 * (target - bed.value[code])
        v += rng.gauss(0, noise)
        if away and code == "MDC_VENT_CONC_AWAY_O2_INSP":
            v = 80.0
        elif away and code == "MDC_PRESS_AWAY_END_EXP_POS":
            v = 16.0
        v = min(high, max(low, v))
        device = ("mon" if code.startswith(_MONITOR) else "vent") + f"-{i}"
        rec: dict[str, Any] = {
            "t": ts,
            "bed": name,
            "code": code,
            "value": round(v, 2),
            "unit": unit,
            "device": device,
        }
        q = rng.random()
        if q < 0.002:
            rec["status"] = "questionable"
        elif q < 0.003:
            rec["value"], rec["status"] = None, "unavailable"
        elif q > 0.9995:
            rec["value"] = round(v * 3, 2)  # a spike: implausible, or an outlier
        if code == "MDC_AWAY_CO2_ET" and i % 2 and rec["value"] is not None:
            rec["value"], rec["unit"] = round(rec["value"] * 0.133322, 3), "kPa"
        yield rec
    if bed.noradrenaline is not None and s % 60 == 0:
        low_map = bed.excursion.get("MDC_PRESS_BLD_ART_MEAN", (0, 0.0))[0] > s
        yield {
            "t": ts,
            "bed": name,
            "code": "IAEW_DOSE_NOREPINEPHRINE",
            "value": bed.noradrenaline + (8 if low_map else 0),
            "unit": "ug/min",
            "device": f"pump2-{i}",
        }
    if 0 <= since < bed.duration and s % 5 == 0:
        rate = rng.choice([133.0, 0.0, 250.0, 80.0]) if rng.random() < 0.01 else 133.0
        pump = f"pump-{i}"
        yield {
            "t": ts,
            "bed": name,
            "code": "MDC_FLOW_FLUID_PUMP",
            "value": rate,
            "unit": "mL/h",
            "device": pump,
        }
        delivered = round(since * 100 / bed.duration, 2)
        yield {
            "t": ts,
            "bed": name,
            "code": "MDC_VOL_FLUID_DELIV",
            "value": delivered,
            "unit": "mL",
            "device": pump,
        }


def _event(rng: random.Random, bed: str, i: int, ts: str) -> dict[str, Any] | None:
    def event(name: str, **fields: Any) -> dict[str, Any]:
        return {"t": ts, "bed": bed, "event": name, **fields}

    r = rng.random()
    if r < 0.0004:
        rhythm = rng.choice(["VT", "AF", "SVT", "brady", "VF"])
        sustained = rng.random() < 0.5
        return event("arrhythmia", rhythm=rhythm, sustained=sustained, device=f"mon-{i}")
    if r < 0.0007:
        sign = rng.choice(["rash", "urticaria", "wheeze", "rigors", "flushing"])
        return event("clinical_sign", sign=sign, source="clinician")
    if r < 0.0009:
        return event("blood_gas", pao2_mmhg=round(rng.uniform(50, 120), 1), source="clinician")
    if r < 0.00095:
        return event("device_disconnected", device=f"vent-{i}", source="driver")
    if r < 0.0010:
        return event("device_connected", device=f"vent-{i}", source="driver")
    if r < 0.00105:
        kind = rng.choice(["occlusion", "low_battery"])
        return event("pump_alarm", kind=kind, device=f"pump-{i}")
    if r < 0.0011:
        return event("pump_alarm_cleared", device=f"pump-{i}")
    return None


def lines(hours: float, beds: int, seed: int) -> Iterator[str]:
    """The recording as JSON lines (`json.dumps` of each record, as an import writes)."""
    for rec in records(hours, beds, seed):
        yield json.dumps(rec)
