"""docs/dataset.md describes every exported table and field."""

from __future__ import annotations

from pathlib import Path

from app.dataset.export_csv import tables
from app.dataset.export_sdtm import DOMAINS
from app.dataset.schedule import load_schedule

DOC = (Path(__file__).parents[2] / "docs" / "dataset.md").read_text(encoding="utf-8")


def test_every_csv_table_and_field_is_documented() -> None:
    schedule = load_schedule()
    markers = tuple(f"{m.name}_" for m in schedule.markers)
    for t in tables(schedule, include_arm=True):
        assert f"`{t.name}.csv`" in DOC
        for c in t.columns:
            if t.name == "patients" and c.name.startswith(markers):
                continue  # documented as <marker>_<timepoint>[_t]
            assert f"`{c.name}`" in DOC, (t.name, c.name)
    assert "`<marker>_<timepoint>`" in DOC and "`<marker>_<timepoint>_t`" in DOC


def test_every_sdtm_variable_is_documented() -> None:
    for domain, (_, columns) in DOMAINS.items():
        for c in columns:
            assert c in DOC, (domain, c)
