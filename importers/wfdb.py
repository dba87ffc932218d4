"""WFDB numerics records (PhysioNet's format: `NAME.hea` + signal files; the MIMIC
waveform databases' numerics, one sample a second or a minute) → recorded stream, read with
the `wfdb` package.

Signals are matched by name, ignoring case, spaces and punctuation (MIMIC-II "ABPSys",
MIMIC-III "ABP SYS", "%SpO2" all match); a signal we have no code for is left out and named.
Units go through core.units; one that cannot reach the code's unit is an error naming the
signal. Sample i is at base time + i / fs; a missing sample (NaN) is left out.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import wfdb

from core.errors import UnitError
from core.params import parameter
from core.units import convert
from importers.common import Recording, SourceError, as_utc, observation, unit_of

_SIGNALS: dict[str, str] = {
    "hr": "MDC_ECG_HEART_RATE",
    "heartrate": "MDC_ECG_HEART_RATE",
    "pulse": "MDC_PULS_OXIM_PULS_RATE",
    "pleth": "MDC_PULS_OXIM_PULS_RATE",
    "spo2": "MDC_PULS_OXIM_SAT_O2",
    "sao2": "MDC_PULS_OXIM_SAT_O2",
    "abpsys": "MDC_PRESS_BLD_ART_SYS",
    "abpdias": "MDC_PRESS_BLD_ART_DIA",
    "abpdia": "MDC_PRESS_BLD_ART_DIA",
    "abpmean": "MDC_PRESS_BLD_ART_MEAN",
    "artsys": "MDC_PRESS_BLD_ART_SYS",
    "artdias": "MDC_PRESS_BLD_ART_DIA",
    "artdia": "MDC_PRESS_BLD_ART_DIA",
    "artmean": "MDC_PRESS_BLD_ART_MEAN",
    "nbpsys": "MDC_PRESS_BLD_NONINV_SYS",
    "nbpdias": "MDC_PRESS_BLD_NONINV_DIA",
    "nbpdia": "MDC_PRESS_BLD_NONINV_DIA",
    "nbpmean": "MDC_PRESS_BLD_NONINV_MEAN",
    "resp": "MDC_RESP_RATE",
    "rr": "MDC_RESP_RATE",
    "etco2": "MDC_AWAY_CO2_ET",
    "co2": "MDC_AWAY_CO2_ET",
    "temp": "MDC_TEMP",
    "tblood": "MDC_TEMP_BLD",
}


@dataclass(frozen=True, slots=True)
class WfdbRecord:
    """A record read from disk: its header file, start, frequency and signals."""

    header: Path
    start: datetime
    fs: float
    names: list[str]
    units: list[str]
    samples: Any  # numpy array (samples × signals), physical units


def signal_code(name: str) -> str | None:
    """The parameter code of a WFDB signal name, or None."""
    return _SIGNALS.get(re.sub(r"[^a-z0-9]", "", name.lower()))


def read(path: Path, *, start: datetime | None = None, tz: tzinfo | None = None) -> WfdbRecord:
    """Read the record at `path` (with or without `.hea`). Its start is `start`, else the
    header's base date and time in `tz` (UTC when None); SourceError on bad input."""
    base = path.with_suffix("") if path.suffix in (".hea", ".dat") else path
    header = base.with_name(base.name + ".hea")
    if not header.is_file():
        raise SourceError("missing: no WFDB header here", file=str(header))
    try:
        rec = wfdb.rdrecord(str(base))
    except Exception as exc:  # a foreign library's errors (ValueError, OSError, ...), once
        raise SourceError(f"not a readable WFDB record ({exc})", file=str(header)) from None
    if start is None:
        if rec.base_datetime is None:
            raise SourceError(
                "the header has no base date and time: give the start",
                file=str(header),
                field="base_date",
            )
        start = rec.base_datetime.replace(tzinfo=tz) if tz is not None else rec.base_datetime
    fs = float(rec.fs or 0)
    if not (fs > 0 and math.isfinite(fs)):
        raise SourceError(
            f"sampling frequency {rec.fs!r} is not positive", file=str(header), field="fs"
        )
    if rec.p_signal is None:
        raise SourceError("no signals", file=str(header))
    return WfdbRecord(header, as_utc(start), fs, list(rec.sig_name), list(rec.units), rec.p_signal)


def recording(
    rec: WfdbRecord, bed: str, *, weight_kg: float | None = None
) -> tuple[Recording, list[str]]:
    """The record's observations as one bed's recording, and the signals left out."""
    mapped: list[tuple[int, str, str]] = []
    skipped: list[str] = []
    for j, (name, unit) in enumerate(zip(rec.names, rec.units, strict=True)):
        code = signal_code(name)
        if code is None:
            skipped.append(name)
            continue
        param = parameter(code)
        assert param is not None
        u = unit_of(unit or param.unit)
        try:
            convert(1.0, u, param.unit, weight_kg=weight_kg)
        except UnitError:
            raise SourceError(
                f"unit {unit!r} cannot be converted to {param.unit}",
                file=str(rec.header),
                field=f"signal {name}",
            ) from None
        mapped.append((j, code, u))
    out = Recording(bed, weight_kg=weight_kg)
    for i, row in enumerate(rec.samples):
        t = rec.start + timedelta(seconds=round(i / rec.fs, 3))
        for j, code, u in mapped:
            v = float(row[j])
            if math.isfinite(v):
                out.records.append(observation(t, bed, code, v, u, weight_kg=weight_kg))
    return out, skipped
