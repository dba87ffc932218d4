"""The CDISC ODM 1.3.2 export: one XML file with the study's metadata (one study event,
the forms of the REDCap export as FormDefs, one ItemGroupDef per form, an ItemDef per field,
CodeLists for coded fields, MeasurementUnits) and the clinical data (one SubjectData per
patient). A snapshot (`FileType="Snapshot"`); `CreationDateTime` is the newest record's time
and the audit chain head is in the study description, so the same database gives the same
bytes. `validate_odm` checks a document against the ODM 1.3.2 schema (the XSDs shipped in
the `odmlib` package, `odmlib/schemas/odm/1.3.2/ODM1-3-2.xsd`).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from app.dataset.assemble import PatientData
from app.dataset.export_redcap import instruments
from app.dataset.fields import Column, text
from app.dataset.provenance import STUDY, Provenance
from app.dataset.schedule import Schedule
from app.dataset.tables import patients_table
from core.records import format_time

NS = "http://www.cdisc.org/ns/odm/v1.3"
MDV = "MDV.1"
EVENT = "SE.DAY0"
DATA_TYPE = {
    "text": "text",
    "choice": "text",
    "integer": "integer",
    "float": "float",
    "datetime": "datetime",
    "boolean": "boolean",
}


def _oid(text_: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", text_)


def _sub(parent: ET.Element, tag: str, **attrs: str) -> ET.Element:
    return ET.SubElement(parent, tag, attrs)


def _translated(parent: ET.Element, tag: str, words: str) -> None:
    holder = _sub(parent, tag)
    t = _sub(holder, "TranslatedText", **{"xml:lang": "en"})
    t.text = words


def _odm_value(c: Column, value: object) -> str:
    out = text(value)
    if c.kind == "boolean" and out:
        return "true" if out == "1" else "false"
    return out


def _metadata(
    study: ET.Element, columns: Sequence[Column], forms: Sequence[str], prov: Provenance
) -> None:
    gv = _sub(study, "GlobalVariables")
    _sub(gv, "StudyName").text = STUDY
    _sub(gv, "StudyDescription").text = (
        f"UC-MSC in ARDS trial dataset as of {format_time(prov.as_of)}; "
        f"audit chain head {prov.chain_head}"
    )
    _sub(gv, "ProtocolName").text = STUDY
    units = sorted({c.unit for c in columns if c.unit})
    if units:
        basic = _sub(study, "BasicDefinitions")
        for u in units:
            mu = _sub(basic, "MeasurementUnit", OID=f"MU.{_oid(u)}", Name=u)
            _translated(mu, "Symbol", u)
    mdv = _sub(study, "MetaDataVersion", OID=MDV, Name="iaewatch dataset")
    protocol = _sub(mdv, "Protocol")
    _sub(protocol, "StudyEventRef", StudyEventOID=EVENT, OrderNumber="1", Mandatory="Yes")
    form_names = list(dict.fromkeys(forms))
    sed = _sub(
        mdv, "StudyEventDef", OID=EVENT, Name="Day 0 to day 28", Repeating="No", Type="Common"
    )
    for i, f in enumerate(form_names, 1):
        _sub(sed, "FormRef", FormOID=f"F.{f.upper()}", OrderNumber=str(i), Mandatory="No")
    for f in form_names:
        fd = _sub(mdv, "FormDef", OID=f"F.{f.upper()}", Name=f, Repeating="No")
        _sub(fd, "ItemGroupRef", ItemGroupOID=f"IG.{f.upper()}", Mandatory="Yes")
    for f in form_names:
        ig = _sub(mdv, "ItemGroupDef", OID=f"IG.{f.upper()}", Name=f, Repeating="No")
        for c, cf in zip(columns, forms, strict=True):
            if cf == f:
                _sub(ig, "ItemRef", ItemOID=f"IT.{c.name.upper()}", Mandatory="No")
    for c in columns:
        item = _sub(
            mdv, "ItemDef", OID=f"IT.{c.name.upper()}", Name=c.name, DataType=DATA_TYPE[c.kind]
        )
        _translated(item, "Description", c.label + (f" ({c.note})" if c.note else ""))
        if c.unit:
            _sub(item, "MeasurementUnitRef", MeasurementUnitOID=f"MU.{_oid(c.unit)}")
        if c.kind == "choice":
            _sub(item, "CodeListRef", CodeListOID=f"CL.{c.name.upper()}")
    for c in columns:
        if c.kind == "choice":
            cl = _sub(mdv, "CodeList", OID=f"CL.{c.name.upper()}", Name=c.name, DataType="text")
            for code in c.choices:
                cli = _sub(cl, "CodeListItem", CodedValue=code)
                _translated(cli, "Decode", code.replace("_", " "))


def export_odm(data: Sequence[PatientData], schedule: Schedule, prov: Provenance) -> bytes:
    """The dataset as an ODM 1.3.2 snapshot (UTF-8 bytes)."""
    table = patients_table(schedule, prov.include_arm)
    forms = instruments(table.columns, schedule)
    stamp = format_time(prov.as_of)
    root = ET.Element(
        "ODM",
        {
            "xmlns": NS,
            "FileType": "Snapshot",
            "FileOID": f"iaewatch.{STUDY}.{stamp.replace(':', '')}",
            "CreationDateTime": stamp,
            "ODMVersion": "1.3.2",
            "Originator": "iaewatch",
            "Granularity": "All",
        },
    )
    _metadata(_sub(root, "Study", OID=STUDY), table.columns, forms, prov)
    clinical = _sub(root, "ClinicalData", StudyOID=STUDY, MetaDataVersionOID=MDV)
    for row in table.rows(data):
        subject = _sub(clinical, "SubjectData", SubjectKey=str(row["study_id"]))
        event = _sub(subject, "StudyEventData", StudyEventOID=EVENT)
        for f in dict.fromkeys(forms):
            items = [
                (c, v)
                for c, cf in zip(table.columns, forms, strict=True)
                if cf == f and (v := _odm_value(c, row.get(c.name))) != ""
            ]
            if not items:
                continue
            form = _sub(event, "FormData", FormOID=f"F.{f.upper()}")
            group = _sub(form, "ItemGroupData", ItemGroupOID=f"IG.{f.upper()}")
            for c, v in items:
                _sub(group, "ItemData", ItemOID=f"IT.{c.name.upper()}", Value=v)
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True)) + b"\n"


def odm_schema_path() -> Path:
    """The ODM 1.3.2 schema shipped in the `odmlib` package."""
    return Path(str(resources.files("odmlib") / "schemas" / "odm" / "1.3.2" / "ODM1-3-2.xsd"))


def validate_odm(document: bytes) -> list[str]:
    """The ODM 1.3.2 schema's complaints about `document` (empty: valid)."""
    import xmlschema

    schema = xmlschema.XMLSchema(str(odm_schema_path()))
    return [str(e.reason or e) for e in schema.iter_errors(document.decode("utf-8"))]
