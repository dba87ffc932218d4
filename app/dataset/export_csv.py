"""The CSV export: `patients.csv` (one row per patient), the long tables, a data dictionary
and a manifest (provenance, audit chain head, each file's SHA-256). Deterministic: rows in
study-id order, then time; `\\n` line ends; UTF-8."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Sequence

from app.dataset.assemble import PatientData
from app.dataset.provenance import Provenance
from app.dataset.schedule import Schedule
from app.dataset.tables import Table, long_tables, patients_table
from app.store.types import json_default

Files = dict[str, bytes]


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def tables(schedule: Schedule, include_arm: bool) -> list[Table]:
    return [patients_table(schedule, include_arm), *long_tables(schedule)]


def dictionary(all_tables: Sequence[Table]) -> bytes:
    """The data dictionary: one row per field of every table."""
    rows = [
        [t.name, c.name, c.label, c.kind, c.unit, " | ".join(c.choices), c.note]
        for t in all_tables
        for c in t.columns
    ]
    return csv_bytes(["table", "field", "label", "type", "unit", "choices", "note"], rows)


def manifest(prov: Provenance, files: Files, descriptions: dict[str, str]) -> bytes:
    doc = {
        **prov.as_dict(),
        "files": {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "rows": descriptions.get(name, "")}
            for name, data in sorted(files.items())
        },
    }
    return (json.dumps(doc, default=json_default, indent=2, sort_keys=True) + "\n").encode()


def export_csv(data: Sequence[PatientData], schedule: Schedule, prov: Provenance) -> Files:
    all_tables = tables(schedule, prov.include_arm)
    files: Files = {
        f"{t.name}.csv": csv_bytes([c.name for c in t.columns], t.text_rows(data))
        for t in all_tables
    }
    files["data_dictionary.csv"] = dictionary(all_tables)
    desc = {f"{t.name}.csv": t.description for t in all_tables}
    desc["data_dictionary.csv"] = "one row per field of every table"
    files["manifest.json"] = manifest(prov, files, desc)
    return files
