"""What a pump server's HL7 message says about its pumps, sans-IO.

A pump server (an infusion pump's gateway) reports through the same HL7 feed as a central
station, with three kinds of message (terms and their sources: `drivers.hl7.pump_terms`):
- PCD-01 `ORU^R01`: the pumps' programme and status, periodically;
- PCD-10 IPEC `ORU^R42^ORU_R01`: one infusion event (delivery start, stop, complete, programme
  cleared) with the parameters in force, at the time it happened (OBR-7 / OBX-14);
- PCD-04 `ORU^R40`: a pump's alarms (occlusion, door open, ...), read by `drivers.hl7.pcd`.

Containment (OBX-4 `MDS.VMD.CHANNEL.METRIC`, IHE PCD TF-2 Appendix B.8): one VMD is one
delivery channel, so one infusion; its channels are the delivery info and the fluid sources
(primary, secondary). A value is taken from the active source first (IPEC
`MDC_DEV_PUMP_ACTIVE_SOURCES`), then the other channels in order; MDS-level rows (IPEC's
event condition, a patient weight) apply to every VMD of that MDS. A pump is named by the
OBX-18 identifiers on its rows (entity id and EUI-64), and channel n ≥ 2 of a multi-channel
pump by `<id>:<n>` (`channel_ids`); MSH-3 names the pump server, which serves many pumps, so
it never names a pump.

State (our `pump_program.state`): the IPEC event decides (start → running, or completed when
it starts KVO; stop → paused, or alarm when the reason is `pump-stopped-alarming`; complete →
completed; programme cleared → stopped; a stop whose delivery status is `transitioning`, as
in a titration, changes no state); without one the delivery status, then
`MDC_PUMP_STAT`, then `MDC_PUMP_INFUSING_STATUS` (`drivers.hl7.pump_terms`). Not delivering
(paused) is refined by the pump's own status: ready or standby is stopped. A value in a
unit we cannot convert is left out and named in `PumpData.unusable`.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from core.errors import UnitError
from core.params import VASOPRESSOR_CODES
from core.units import convert, normalise_unit
from drivers.hl7 import mdc, pump_terms
from drivers.hl7.message import Segment, parse_dtm
from drivers.hl7.pcd import Report
from drivers.hl7.pump_terms import Field

CONCENTRATION_TO_UG_ML = {"ug/mL": 1.0, "mg/mL": 1000.0, "mg/L": 1.0, "g/L": 1000.0}
"""Mass concentrations in ug/mL (UCUM); `U/mL` (vasopressin) is kept as sent."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PumpData:
    """What one message says about one infusion channel (one VMD); None: not said."""

    ids: tuple[str, ...]  # the pump's identifiers, most specific first
    channel: str  # containment "MDS.VMD"
    rate_ml_h: float | None = None
    vtbi_ml: float | None = None
    volume_infused_ml: float | None = None
    drug: str | None = None  # our drug name (`drug_of_label`), else the label in lower case
    concentration: float | None = None  # ug/mL, or U/mL when `concentration_unit` says so
    concentration_unit: str = "ug/mL"
    dose_rate: tuple[float, str] | None = None  # as the pump computes it, in its unit
    weight_kg: float | None = None
    state: str | None = None  # running, paused, stopped, alarm, completed
    mode: str | None = None  # MDC_PUMP_MODE / programme delivery mode, as sent
    time: datetime | None = None  # the newest OBX-14 among its rows
    unusable: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PumpAlarm:
    """A pump alarm from PCD-04, in our vocabulary."""

    kind: str  # core.vocabulary.PUMP_ALARM_KINDS
    active: bool
    ids: tuple[str, ...]
    time: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PumpMessage:
    """One pump server message: an IPEC event (or none) and what it says per channel."""

    event: str = ""  # the IPEC event's reference name, "" for PCD-01 / PCD-04
    event_time: datetime | None = None
    pumps: tuple[PumpData, ...] = ()
    alarms: tuple[PumpAlarm, ...] = ()
    ignored_alarms: tuple[str, ...] = ()  # PCD-04 alarm codes that are not pump alarm kinds


DRUG_SYNONYMS = {
    # British Approved Names and a brand seen on pump library labels -> the INN we use
    "noradrenaline": "norepinephrine",
    "levophed": "norepinephrine",
    "adrenaline": "epinephrine",
    "argipressin": "vasopressin",
}


def drug_of_label(label: str) -> str | None:
    """The drug a pump's library label names: a vasopressor's INN when one of its words is one
    (or a synonym: "NORepinephrine 4 mg/250 mL", "Noradrenaline" → norepinephrine), else the
    label in lower case; None for no label."""
    text = label.strip().lower()
    for word in re.findall(r"[a-z]+", text):
        name: str = DRUG_SYNONYMS.get(word, word)
        if name in VASOPRESSOR_CODES:
            return name
    return text or None


def is_pump_message(report: Report) -> bool:
    """Whether a message comes from a pump server: an IPEC event, rows naming a pump's
    device hierarchy, or a PCD-04 alarm whose source is a pump."""
    if report.header.trigger == "R42":
        return True
    for seg in report.message.all("OBX"):
        number, name = _coded(seg, 3)
        if pump_terms.is_pump_device(number, name):
            return True
        source = mdc.attribute_name(number, name) == "MDC_ATTR_ALERT_SOURCE"
        if source and pump_terms.is_pump_device(*_coded(seg, 5)):
            return True
    return False


def decode_pump(report: Report, *, assume_tz: tzinfo = UTC) -> PumpMessage:
    """Read a pump server's PCD-01, PCD-10 or PCD-04 message (already read by
    `drivers.hl7.pcd.decode_report`)."""
    msg = report.message
    if report.is_alarm:
        return _alarms(report)
    rows: dict[tuple[int, int], list[_Row]] = defaultdict(list)
    sources: dict[tuple[int, int, int], str] = {}  # channel -> its device row's name
    ids: dict[int, list[str]] = defaultdict(list)
    event, event_time = "", None
    obr_time = parse_dtm((msg.first("OBR") or msg.msh).component(7, 1), assume_tz)
    for seg in msg.all("OBX"):
        path = _containment(seg.text(4))
        for i in _ids(seg):
            if i not in ids[path[0]]:
                ids[path[0]].append(i)
        number, name = _coded(seg, 3)
        if seg.component(11, 1).upper() == "X":
            sources[path[:3]] = name
            continue
        which = pump_terms.field_of(number, name)
        if which is None:
            continue
        t = parse_dtm(seg.component(14, 1), assume_tz)
        if which == "event":
            found = pump_terms.event_of(*_coded(seg, 5))
            event, event_time = (found.name if found else ""), t or obr_time
            continue
        rows[path[:2]].append(_Row(which, seg, path[2], t))
    pumps: list[PumpData] = []
    mds_rows = {mds: r for (mds, vmd), r in rows.items() if vmd == 0}
    vmds = [k for k in rows if k[1] != 0] or list(rows)
    for mds, vmd in sorted(vmds):
        own = [*rows[(mds, vmd)], *(mds_rows.get(mds, []) if vmd else [])]
        pumps.append(_pump(own, sources, (mds, vmd), channel_ids(ids[mds], vmd), event))
    return PumpMessage(event=event, event_time=event_time or obr_time, pumps=tuple(pumps))


@dataclass(frozen=True, slots=True)
class _Row:
    field: Field
    seg: Segment
    channel: int
    time: datetime | None


def _pump(
    rows: list[_Row],
    sources: dict[tuple[int, int, int], str],
    key: tuple[int, int],
    ids: tuple[str, ...],
    event: str,
) -> PumpData:
    active = _first_text([r for r in rows if r.field == "active_sources"]).upper()
    side = active.rsplit("-", 1)[-1] if active else ""

    def rank(r: _Row) -> tuple[int, int]:
        source = sources.get((*key, r.channel), "")
        return (0 if side and source.endswith(side) else 1, r.channel)

    values: dict[Field, _Row] = {}
    for r in sorted(rows, key=rank):
        values.setdefault(r.field, r)
    unusable: list[str] = []
    out: dict[str, object] = {}
    for name, fld, unit in (
        ("rate_ml_h", "rate", "mL/h"),
        ("vtbi_ml", "vtbi", "mL"),
        ("volume_infused_ml", "volume_total", "mL"),
        ("weight_kg", "weight", "kg"),
    ):
        if fld in values:
            out[name] = _quantity(values[fld], unit, unusable)
    if "concentration" in values:
        out.update(_concentration(values["concentration"], unusable))
    if "dose_rate" in values:
        r = values["dose_rate"]
        value = _number(r.seg)
        unit = normalise_unit(mdc.unit_from_obx6(r.seg.components(6)))
        out["dose_rate"] = (value, unit) if value is not None and unit else None
    drug = _text(values["drug"]) if "drug" in values else ""
    mode_row = values.get("delivery_mode") or values.get("mode")
    mode = _text(mode_row) if mode_row is not None else ""
    times = [r.time for r in rows if r.time is not None]
    return PumpData(
        ids=ids,
        channel=f"{key[0]}.{key[1]}",
        drug=drug_of_label(drug),
        mode=mode or None,
        state=_state(values, event),
        time=max(times) if times else None,
        unusable=tuple(unusable),
        **out,  # type: ignore[arg-type]
    )


def _state(values: dict[Field, _Row], event: str) -> str | None:
    delivery = _text(values["delivery_status"]) if "delivery_status" in values else ""
    reason = _text(values["not_delivering_reason"]) if "not_delivering_reason" in values else ""
    tables: tuple[tuple[Field, dict[str, str]], ...] = (
        ("delivery_status", pump_terms.DELIVERY_STATES),
        ("pump_status", pump_terms.PUMP_STATUS_STATES),
        ("infusing_status", pump_terms.PUMP_STATUS_STATES),
    )
    said = [table.get(_text(values[f]), "") for f, table in tables if f in values]
    said = [s for s in said if s]
    state: str | None
    if event == pump_terms.DELIV_START.name:
        state = (
            "completed" if pump_terms.DELIVERY_STATES.get(delivery) == "completed" else "running"
        )
    elif event == pump_terms.DELIV_STOP.name:  # a transitioning stop: delivery goes on
        state = None if delivery == pump_terms.TRANSITIONING else "paused"
    elif event == pump_terms.DELIV_COMP.name:
        state = "completed"
    elif event == pump_terms.PROG_CLEARED.name:
        state = "stopped"
    else:
        state = said[0] if said else None
    if state == "paused" and "stopped" in said:  # not delivering, and the pump says ready
        state = "stopped"
    return "alarm" if state == "paused" and reason == pump_terms.STOPPED_BY_ALARM else state


def _alarms(report: Report) -> PumpMessage:
    alarms: list[PumpAlarm] = []
    ignored: list[str] = []
    for a in report.alarms:
        kind = pump_terms.alarm_kind(a.code, a.name)
        if kind is None:
            ignored.append(a.name or str(a.code))
            continue
        active = a.phase != "end" and a.state not in ("inactive", "off")
        ids = tuple(dict.fromkeys(i for seg in report.message.all("OBX") for i in _ids(seg)))
        ids = channel_ids(ids, _containment(a.containment)[1])
        alarms.append(PumpAlarm(kind=kind, active=active, ids=ids, time=a.time))
    return PumpMessage(alarms=tuple(alarms), ignored_alarms=tuple(ignored))


def channel_ids(ids: Sequence[str], vmd: int) -> tuple[str, ...]:
    """A channel's identifiers: its pump's for the first (or a pump-wide row, VMD 0),
    `<id>:<n>` for channel n ≥ 2 of a multi-channel pump (TF-3 §7.1.1: one VMD per delivery
    channel), so that one channel is never taken for another."""
    return tuple(ids) if vmd <= 1 else tuple(f"{i}:{vmd}" for i in ids)


# -- small readers ------------------------------------------------------------------------
def _coded(seg: Segment, n: int) -> tuple[int | None, str]:
    comps = seg.components(n)
    ident = comps[0].strip() if comps else ""
    name = comps[1].strip() if len(comps) > 1 else ""
    if ident.startswith("MDC") and not name:
        return None, ident
    return (int(ident) if ident.isdigit() else None), name


def _ids(seg: Segment) -> list[str]:
    """OBX-18's entity id and universal id (EUI-64), every repetition."""
    out: list[str] = []
    for rep in range(len(seg.repetitions(18))):
        comps = seg.components(18, rep)
        out += [c.strip() for c in (comps[0] if comps else "", *comps[2:3]) if c.strip()]
    return out


def _containment(text: str) -> tuple[int, int, int]:
    parts = [int(p) if p.isdigit() else 0 for p in text.split(".")] + [0, 0, 0]
    return parts[0], parts[1], parts[2]


def _number(seg: Segment) -> float | None:
    try:
        value = float(seg.component(5, 1).strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _text(r: _Row) -> str:
    """A coded or text value: its text (CWE `^pump-status-infusing`) or its identifier."""
    comps = r.seg.components(5)
    if r.seg.component(2, 1).upper() in ("CWE", "CE", "CNE") and len(comps) > 1 and comps[1]:
        return comps[1].strip()
    return (comps[0] if comps else "").strip()


def _first_text(rows: list[_Row]) -> str:
    return _text(rows[0]) if rows else ""


def _quantity(r: _Row, unit: str, unusable: list[str]) -> float | None:
    value = _number(r.seg)
    if value is None:
        return None
    sent = mdc.unit_from_obx6(r.seg.components(6)) or unit
    try:
        return round(convert(value, sent, unit), 6)
    except UnitError:
        unusable.append(f"{r.field} in {sent!r}")
        return None


def _concentration(r: _Row, unusable: list[str]) -> dict[str, object]:
    value = _number(r.seg)
    unit = normalise_unit(mdc.unit_from_obx6(r.seg.components(6)))
    if value is None:
        return {}
    if unit in ("U/mL", "[iU]/mL"):
        return {"concentration": value, "concentration_unit": "U/mL"}
    factor = CONCENTRATION_TO_UG_ML.get(unit)
    if factor is None:
        unusable.append(f"concentration in {unit!r}")
        return {}
    return {"concentration": round(value * factor, 6)}
