"""One door to every export: `build_export(store, format)` gives the files (name → bytes),
`zip_bytes` packs them deterministically (sorted names, fixed times, stored in a fixed order),
`write_files` writes them to a folder. Formats: csv, redcap, odm, sdtm."""

from __future__ import annotations

import io
import zipfile
from enum import StrEnum
from pathlib import Path

from app.dataset.assemble import assemble_all
from app.dataset.export_csv import Files, export_csv
from app.dataset.export_odm import export_odm
from app.dataset.export_redcap import export_redcap
from app.dataset.export_sdtm import export_sdtm
from app.dataset.provenance import Provenance, provenance
from app.dataset.schedule import Schedule, load_schedule
from app.store import Store


class ExportFormat(StrEnum):
    CSV = "csv"
    REDCAP = "redcap"
    ODM = "odm"
    SDTM = "sdtm"


async def build_export(
    store: Store,
    fmt: ExportFormat,
    *,
    include_arm: bool = False,
    schedule: Schedule | None = None,
) -> tuple[Files, Provenance]:
    """The files of one export of the whole dataset, and what they were made from."""
    schedule = schedule or load_schedule()
    data = await assemble_all(store)
    prov = await provenance(store, data, include_arm=include_arm)
    if fmt is ExportFormat.CSV:
        return export_csv(data, schedule, prov), prov
    if fmt is ExportFormat.REDCAP:
        return export_redcap(data, schedule, prov), prov
    if fmt is ExportFormat.ODM:
        return {"dataset_odm.xml": export_odm(data, schedule, prov)}, prov
    return export_sdtm(data, schedule, prov), prov


def zip_bytes(files: Files) -> bytes:
    """The files in a zip whose bytes depend only on the files."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, files[name])
    return buf.getvalue()


def write_files(files: Files, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name in sorted(files):
        path = folder / name
        path.write_bytes(files[name])
        out.append(path)
    return out
