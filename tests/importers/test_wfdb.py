"""WFDB numerics → recorded stream, on records written here with the wfdb package itself
(wfdb 4.3 ships no sample records)."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import wfdb as wfdb_pkg
from hypothesis import given, settings
from hypothesis import strategies as st

from core.model import Observation
from importers import wfdb
from importers.common import SourceError

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
NAN = float("nan")


def write(
    folder: Path,
    names: list[str],
    units: list[str],
    rows: list[list[float]],
    *,
    fs: float = 1 / 60,
    base: datetime | None = T0,
) -> Path:
    """A record `num` in `folder` (16-bit, gain 10: one decimal survives)."""
    folder.mkdir(parents=True, exist_ok=True)
    wfdb_pkg.wrsamp(
        "num",
        fs=fs,
        units=units,
        sig_name=names,
        p_signal=np.array(rows, dtype=float),
        fmt=["16"] * len(names),
        adc_gain=[10.0] * len(names),
        baseline=[0] * len(names),
        base_date=base.date() if base else None,
        base_time=base.time().replace(tzinfo=None) if base else None,
        write_dir=str(folder),
    )
    return folder / "num"


def _values(rec: list[Observation]) -> list[tuple[int, str, float, str]]:
    return [(int((o.t - T0).total_seconds()), o.code, o.value or 0, o.unit) for o in rec]


def test_minute_numerics_map_to_codes_and_times(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        ["HR", "%SpO2", "ABP Sys", "ABPMean", "Temp", "PAP Mean"],
        ["bpm", "%", "mmHg", "mmHg", "degF", "mmHg"],
        [[80, 97, 120, 80, 98.6, 20], [82, NAN, 118, 79, 99.5, 21], [12, 96, 70, 28, NAN, 22]],
    )
    rec = wfdb.read(path)
    assert (rec.start, rec.fs) == (T0, 1 / 60)
    out, left_out = wfdb.recording(rec, "ICU-9")
    assert left_out == ["PAP Mean"]
    got = [(s, c, round(v, 2), u) for s, c, v, u in _values(out.sorted())]
    assert got == [
        (0, "MDC_ECG_HEART_RATE", 80.0, "/min"),
        (0, "MDC_PULS_OXIM_SAT_O2", 97.0, "%"),
        (0, "MDC_PRESS_BLD_ART_SYS", 120.0, "mm[Hg]"),
        (0, "MDC_PRESS_BLD_ART_MEAN", 80.0, "mm[Hg]"),
        (0, "MDC_TEMP", 37.0, "Cel"),
        (60, "MDC_ECG_HEART_RATE", 82.0, "/min"),  # SpO2 missing in this minute: left out
        (60, "MDC_PRESS_BLD_ART_SYS", 118.0, "mm[Hg]"),
        (60, "MDC_PRESS_BLD_ART_MEAN", 79.0, "mm[Hg]"),
        (60, "MDC_TEMP", 37.5, "Cel"),
        (120, "MDC_ECG_HEART_RATE", 12.0, "/min"),
        (120, "MDC_PULS_OXIM_SAT_O2", 96.0, "%"),
        (120, "MDC_PRESS_BLD_ART_SYS", 70.0, "mm[Hg]"),
        (120, "MDC_PRESS_BLD_ART_MEAN", 28.0, "mm[Hg]"),
    ]


def test_header_time_is_read_in_the_given_zone(tmp_path: Path) -> None:
    path = write(tmp_path, ["HR"], ["bpm"], [[70]], base=datetime(2026, 3, 1, 16, 0))
    rec = wfdb.read(path.with_suffix(".hea"), tz=ZoneInfo("Asia/Shanghai"))
    assert rec.start == T0  # 16:00 in Shanghai is 08:00 UTC


def test_a_record_without_a_base_date_needs_a_start(tmp_path: Path) -> None:
    path = write(tmp_path, ["HR"], ["bpm"], [[70], [71]], fs=1.0, base=None)
    with pytest.raises(SourceError) as exc:
        wfdb.read(path)
    assert str(exc.value) == (
        f"{path}.hea: base_date: the header has no base date and time: give the start"
    )
    rec = wfdb.read(path, start=T0)
    out, _ = wfdb.recording(rec, "B")
    assert [o.t for o in out.sorted()] == [T0, T0 + timedelta(seconds=1)]


def test_a_unit_that_cannot_be_converted_names_the_signal(tmp_path: Path) -> None:
    path = write(tmp_path, ["HR", "SpO2"], ["bpm", "mmHg"], [[70, 97]])
    with pytest.raises(SourceError) as exc:
        wfdb.recording(wfdb.read(path), "B")
    assert str(exc.value) == f"{path}.hea: signal SpO2: unit 'mmHg' cannot be converted to %"


def test_missing_or_broken_header(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"nothing\.hea: missing: no WFDB header here"):
        wfdb.read(tmp_path / "nothing")
    (tmp_path / "bad.hea").write_text("bad 2 x250 notanumber\n")
    with pytest.raises(SourceError, match=r"bad\.hea: not a readable WFDB record"):
        wfdb.read(tmp_path / "bad")


def test_signal_names_across_databases() -> None:
    assert wfdb.signal_code("ABPSys") == wfdb.signal_code("ABP SYS") == "MDC_PRESS_BLD_ART_SYS"
    assert wfdb.signal_code("NBP Mean") == "MDC_PRESS_BLD_NONINV_MEAN"
    assert wfdb.signal_code("PULSE") == "MDC_PULS_OXIM_PULS_RATE"
    assert wfdb.signal_code("CVP") is None


def test_etco2_in_kpa_is_converted_to_mmhg(tmp_path: Path) -> None:
    path = write(tmp_path, ["RESP", "etCO2"], ["bpm", "kPa"], [[18, 5.0]])
    out, _ = wfdb.recording(wfdb.read(path), "B")
    assert [(o.code, round(o.value or 0, 2), o.unit) for o in out.sorted()] == [
        ("MDC_RESP_RATE", 18.0, "/min"),
        ("MDC_AWAY_CO2_ET", 37.5, "mm[Hg]"),
    ]


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=120))
def test_any_header_text_is_read_or_a_source_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "rec.hea").write_text(text, encoding="utf-8")
        try:
            rec = wfdb.read(Path(tmp) / "rec", start=T0)
        except SourceError as exc:
            assert str(exc).startswith(f"{tmp}/rec.hea: ")
        else:
            wfdb.recording(rec, "B")
