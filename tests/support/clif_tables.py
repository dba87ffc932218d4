"""A small CLIF folder written with pyarrow: one hospitalization (H1, patient P1) in the ICU
from 08:00 to the next day 20:00, intubated at 10:00, with a few rows of each table we map."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

D0 = datetime(2150, 1, 1, tzinfo=UTC)


def at(h: float) -> datetime:
    return D0 + timedelta(hours=h)


TABLES: dict[str, list[dict[str, Any]]] = {
    "patient": [{"patient_id": "P1", "death_dttm": at(30)}],
    "hospitalization": [
        {"hospitalization_id": "H1", "patient_id": "P1", "discharge_dttm": at(40)},
        {"hospitalization_id": "H2", "patient_id": "P1", "discharge_dttm": at(90)},
    ],
    "adt": [
        {
            "hospitalization_id": "H1",
            "in_dttm": at(0),
            "out_dttm": at(8),
            "location_category": "ed",
        },
        {
            "hospitalization_id": "H1",
            "in_dttm": at(8),
            "out_dttm": at(20),
            "location_category": "icu",
        },
        {
            "hospitalization_id": "H1",
            "in_dttm": at(20.5),
            "out_dttm": at(44),
            "location_category": "icu",
        },
        {
            "hospitalization_id": "H2",
            "in_dttm": at(80),
            "out_dttm": at(90),
            "location_category": "ward",
        },
    ],
    "vitals": [
        {
            "hospitalization_id": "H1",
            "recorded_dttm": at(7),
            "vital_category": "weight_kg",
            "vital_name": "Admission Weight (Kg)",
            "vital_value": 70.0,
            "meas_site_name": None,
        },
        {
            "hospitalization_id": "H1",
            "recorded_dttm": at(9),
            "vital_category": "heart_rate",
            "vital_name": "Heart Rate",
            "vital_value": 88.0,
            "meas_site_name": None,
        },
        {
            "hospitalization_id": "H1",
            "recorded_dttm": at(9),
            "vital_category": "map",
            "vital_name": "Arterial Blood Pressure mean",
            "vital_value": 71.0,
            "meas_site_name": None,
        },
        {
            "hospitalization_id": "H1",
            "recorded_dttm": at(9),
            "vital_category": "sbp",
            "vital_name": "Non Invasive Blood Pressure systolic",
            "vital_value": 118.0,
            "meas_site_name": None,
        },
        {
            "hospitalization_id": "H1",
            "recorded_dttm": at(9),
            "vital_category": "temp_c",
            "vital_name": "Temperature Fahrenheit",
            "vital_value": 37.5,
            "meas_site_name": "Blood",
        },
        {
            "hospitalization_id": "H1",
            "recorded_dttm": at(9),
            "vital_category": "spo2",
            "vital_name": "O2 saturation pulseoxymetry",
            "vital_value": float("nan"),
            "meas_site_name": None,
        },
        {
            "hospitalization_id": "H1",
            "recorded_dttm": at(9),
            "vital_category": "height_cm",
            "vital_name": "Height (cm)",
            "vital_value": 170.0,
            "meas_site_name": None,
        },
        {
            "hospitalization_id": "H1",
            "recorded_dttm": at(3),
            "vital_category": "heart_rate",
            "vital_name": "Heart Rate",
            "vital_value": 120.0,
            "meas_site_name": None,
        },
    ],
    "respiratory_support": [
        {
            "hospitalization_id": "H1",
            "recorded_dttm": at(9),
            "device_category": "Nasal Cannula",
            "fio2_set": None,
            "peep_set": None,
            "peep_obs": None,
            "plateau_pressure_obs": None,
            "peak_inspiratory_pressure_obs": None,
            "mean_airway_pressure_obs": None,
            "tidal_volume_obs": None,
            "minute_vent_obs": None,
            "resp_rate_obs": None,
        },
        {
            "hospitalization_id": "H1",
            "recorded_dttm": at(10),
            "device_category": "IMV",
            "fio2_set": 0.6,
            "peep_set": None,
            "peep_obs": 10.0,
            "plateau_pressure_obs": 28.0,
            "peak_inspiratory_pressure_obs": 32.0,
            "mean_airway_pressure_obs": 15.0,
            "tidal_volume_obs": 420.0,
            "minute_vent_obs": 8.4,
            "resp_rate_obs": 20.0,
        },
    ],
    "labs": [
        {
            "hospitalization_id": "H1",
            "lab_collect_dttm": at(11),
            "lab_category": "po2_arterial",
            "lab_value_numeric": 9.0,
            "reference_unit": "kPa",
        },
        {
            "hospitalization_id": "H1",
            "lab_collect_dttm": at(11),
            "lab_category": "ph_arterial",
            "lab_value_numeric": 7.31,
            "reference_unit": None,
        },
        {
            "hospitalization_id": "H1",
            "lab_collect_dttm": at(11),
            "lab_category": "sodium",
            "lab_value_numeric": 140.0,
            "reference_unit": "mmol/L",
        },
    ],
    "medication_admin_continuous": [
        {
            "hospitalization_id": "H1",
            "med_order_id": "1",
            "med_category": "norepinephrine",
            "admin_dttm": at(12),
            "mar_action_category": "start",
            "med_dose": 0.1,
            "med_dose_unit": "mcg/kg/min",
        },
        {
            "hospitalization_id": "H1",
            "med_order_id": "2",
            "med_category": "norepinephrine",
            "admin_dttm": at(13),
            "mar_action_category": "start",
            "med_dose": 60.0,
            "med_dose_unit": "mcg/hour",
        },
        {
            "hospitalization_id": "H1",
            "med_order_id": "1",
            "med_category": "norepinephrine",
            "admin_dttm": at(14),
            "mar_action_category": "stop",
            "med_dose": 0.0,
            "med_dose_unit": "mcg/kg/min",
        },
        {
            "hospitalization_id": "H1",
            "med_order_id": "3",
            "med_category": "vasopressin",
            "admin_dttm": at(14),
            "mar_action_category": "start",
            "med_dose": 2.4,
            "med_dose_unit": "units/hour",
        },
        {
            "hospitalization_id": "H1",
            "med_order_id": "4",
            "med_category": "propofol",
            "admin_dttm": at(14),
            "mar_action_category": "start",
            "med_dose": 20.0,
            "med_dose_unit": "mcg/kg/min",
        },
    ],
}


_NUMBERS = {"vital_value", "lab_value_numeric", "med_dose"}


def _type(col: str, values: list[Any]) -> pa.DataType:
    if col.endswith("_dttm"):
        return pa.timestamp("us", tz="UTC")
    if col in _NUMBERS or col.endswith(("_set", "_obs")):
        return (
            pa.float64() if all(v is None or isinstance(v, float) for v in values) else pa.string()
        )
    return pa.string()


def write_clif(folder: Path, **changes: list[dict[str, Any]]) -> Path:
    """Write the tables (a keyword replaces one table's rows) to `folder`; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in {**TABLES, **changes}.items():
        cols = list(rows[0]) if rows else []
        schema = pa.schema([(c, _type(c, [r.get(c) for r in rows])) for c in cols])
        table = pa.Table.from_pylist(rows, schema=schema)
        pq.write_table(table, folder / f"clif_{name}.parquet")
    return folder
