"""End to end: a pump's infusion start seen at reconnection (2 min link outage) goes through
the same replay as the pipeline (store + trial engine) into the 24 h report in every format;
a VT within that gap of the 6 h window's end says its window edge is uncertain."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import zlib
from datetime import timedelta

from app.report import ReportFormat, build_report, render
from app.report.data import start_note
from app.report.scenario import replay_records
from app.store import Store
from core.model import DeviceEvent
from monitors import default_ruleset
from monitors.trial.order_check import TrialEngine

from .conftest import BED, SID, T0

GAP = 120.0
NOTE = "seen at reconnect, up to 120 s earlier"


async def _replay(store: Store) -> None:
    await store.upsert_bed(BED)
    await store.enrol_patient(
        bed=BED, study_id=SID, weight_kg=70, arm="cells", ards_onset=None, enrolled_at=T0
    )
    start = DeviceEvent(
        t=T0,
        bed=BED,
        event="infusion_start",
        fields={
            "weight_kg": 70.0,
            "volume_ml": 100.0,
            "planned_min": 45.0,
            "seen_at_reconnect": True,
            "gap_s": GAP,
        },
        device="pump-1",
    )
    vt = DeviceEvent(
        t=T0 + timedelta(hours=6, seconds=-60),
        bed=BED,
        event="arrhythmia",
        fields={"rhythm": "VT"},
        device="monitor-1",
    )
    await replay_records(store, [start, vt], TrialEngine(default_ruleset()))


async def test_the_report_shows_a_start_seen_at_reconnect(store: Store) -> None:
    await _replay(store)
    rep = await build_report(store, SID, T0 + timedelta(hours=25), ruleset=default_ruleset())
    inf = rep.infusion
    assert inf is not None and inf["started_at"] == T0
    assert inf["start_time_source"] == "seen_at_reconnect"
    assert inf["start_uncertainty_s"] == GAP and inf["start_note"] == NOTE

    doc = json.loads(render(rep, ReportFormat.JSON))
    assert doc["infusion"]["start_time_source"] == "seen_at_reconnect"
    assert doc["infusion"]["start_uncertainty_s"] == GAP
    [vt] = [a for a in doc["alerts"] if a["rule"] == "arrhythmia"]
    ev = vt["evidence"]
    assert ev["in_window"] is True and ev["window_edge_uncertain"] is True
    assert ev["infusion_start_uncertainty_s"] == GAP

    rows = list(csv.DictReader(io.StringIO(render(rep, ReportFormat.CSV).decode())))
    got = {r["item"]: r["value"] for r in rows if r["section"] == "infusion"}
    assert got["start_time_source"] == "seen_at_reconnect"
    assert float(got["start_uncertainty_s"]) == GAP and got["start_note"] == NOTE

    html = render(rep, ReportFormat.HTML).decode()
    assert NOTE in html
    assert "window edge uncertain: the infusion start may lie up to 120 s earlier" in html
    pdf = _pdf_text(render(rep, ReportFormat.PDF))
    assert "seen at reconnect, up to 120 s earlier" in pdf


def _pdf_text(pdf: bytes) -> str:
    """The text drawn in a ReportLab PDF (its page streams are ASCII85 + Flate encoded)."""
    out = []
    for m in re.finditer(rb"/Filter \[([^\]]*)\].*?stream\r?\n(.*?)endstream", pdf, re.S):
        data = m.group(2).strip()
        if b"ASCII85Decode" in m.group(1):
            data = base64.a85decode(data, adobe=True)
        if b"FlateDecode" in m.group(1):
            data = zlib.decompress(data)
        out += re.findall(rb"\((.*?)\) Tj", data)
    return " ".join(t.decode("latin-1") for t in out)


def test_the_start_note_in_words() -> None:
    assert start_note("pump", None) == "pump's own time"
    assert start_note("seen_at_reconnect", 31.5) == "seen at reconnect, up to 31.5 s earlier"
    assert start_note(None, None) is None
