"""The REDCap export: a data dictionary (REDCap's 18-column metadata CSV) and an import CSV
whose header is exactly the dictionary's variables, in order (record id first).

Types: integers and numbers are `text` fields with REDCap's `integer` / `number` validation,
times `text` with `datetime_seconds_ymd` (written `YYYY-MM-DD HH:MM:SS`, UTC), booleans
`yesno` (1/0), coded values `radio` (`code, label | ...`). Instruments: registration,
covariates, outcomes, biomarkers, record_status.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.dataset.assemble import PatientData
from app.dataset.export_csv import Files, csv_bytes, manifest
from app.dataset.fields import Column, text
from app.dataset.provenance import Provenance
from app.dataset.schedule import Schedule
from app.dataset.tables import patients_table

HEADER = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)
REGISTRATION = frozenset(
    [
        "study_id",
        "group",
        "arm",
        "enrolled_at",
        "infusion_start",
        "infusion_end",
        "age_years",
        "sex",
        "weight_kg",
        "height_cm",
        "bmi",
    ]
)
RECORD_STATUS = frozenset(
    [
        "record_locked",
        "locked_by",
        "locked_at",
        "outcomes_version",
        "covariates_version",
        "biomarkers_version",
    ]
)
OUTCOMES_FIRST, OUTCOMES_LAST = "vital_status_d28", "oxy_src_d7"
VALIDATION = {"integer": "integer", "float": "number", "datetime": "datetime_seconds_ymd"}


def instruments(columns: Sequence[Column], schedule: Schedule) -> list[str]:
    """The REDCap instrument of each column."""
    names = [c.name for c in columns]
    first, last = names.index(OUTCOMES_FIRST), names.index(OUTCOMES_LAST)
    markers = {f"{m.name}_{t.name}" for m in schedule.markers for t in schedule.timepoints}
    out = []
    for i, n in enumerate(names):
        if n in REGISTRATION:
            out.append("registration")
        elif n in RECORD_STATUS:
            out.append("record_status")
        elif first <= i <= last:
            out.append("outcomes")
        elif n.removesuffix("_t") in markers:
            out.append("biomarkers")
        else:
            out.append("covariates")
    return out


def metadata_row(c: Column, form: str) -> list[str]:
    if c.kind == "boolean":
        ftype, choices = "yesno", ""
    elif c.kind == "choice":
        ftype, choices = "radio", " | ".join(f"{v}, {v.replace('_', ' ')}" for v in c.choices)
    else:
        ftype, choices = "text", ""
    note = "; ".join(x for x in (c.unit, c.note, "UTC" if c.kind == "datetime" else "") if x)
    identifier = "y" if c.name == "study_id" else ""
    row = [c.name, form, "", ftype, c.label, choices, note, VALIDATION.get(c.kind, "")]
    return [*row, "", "", identifier, "", "", "", "", "", "", ""]


def redcap_value(c: Column, value: object) -> str:
    out = text(value)
    if c.kind == "datetime" and out:
        return out.replace("T", " ").removesuffix("Z")[:19]
    return out


def export_redcap(data: Sequence[PatientData], schedule: Schedule, prov: Provenance) -> Files:
    table = patients_table(schedule, prov.include_arm)
    forms = instruments(table.columns, schedule)
    dictionary = csv_bytes(
        HEADER, [metadata_row(c, f) for c, f in zip(table.columns, forms, strict=True)]
    )
    rows = [[redcap_value(c, r.get(c.name)) for c in table.columns] for r in table.rows(data)]
    files: Files = {
        "redcap_data_dictionary.csv": dictionary,
        "redcap_import.csv": csv_bytes([c.name for c in table.columns], rows),
    }
    files["manifest.json"] = manifest(
        prov,
        files,
        {
            "redcap_data_dictionary.csv": "REDCap metadata: one row per variable",
            "redcap_import.csv": "REDCap import: one row per patient (record id study_id)",
        },
    )
    return files
