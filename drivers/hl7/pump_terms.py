"""MDC terms an infusion pump server sends (IHE PCD-01, PCD-10 IPEC, PCD-04), with sources.

Sources, short names used below (docs/devices/hl7-pump.md lists what each confirms):
- **IPEC**: IHE PCD Supplement "Infusion Pump Event Communication" Rev. 1.5 (2015-11-25),
  Appendix X.1.2.2, the Delivery Start sample message (ORU^R42), and its Table X.1.2-1.
- **TF3**: IHE PCD Technical Framework Vol. 3 Rev. 8.0 (2018-10-23), §7.1 (infusion pump
  containment tree, source and delivery channel parameters) and Table 3.2-1 (alert events).
- **TF2**: IHE PCD Technical Framework Vol. 2 Rev. 8.0 (2018-10-23), the PCD-04 example
  "Infusion Pump, Fluid Line Occlusion" (a B. Braun pump reporting to a Philips IEM).

A term is read by its reference name first: the IPEC sample itself writes `0` for terms whose
number was pending at publication, and senders follow it. The number is read when the name
is absent or unknown. Numbers from one source only are still written by our simulator (a
pump server's messages must carry one, and these are the TF's own), but a receiver must not
rely on them: each term names its source.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Field = Literal[
    "rate",
    "current_flow",
    "vtbi",
    "vtbi_remaining",
    "volume_total",
    "volume_segment",
    "drug",
    "concentration",
    "dose_rate",
    "weight",
    "pump_status",
    "infusing_status",
    "delivery_status",
    "not_delivering_reason",
    "mode",
    "delivery_mode",
    "active_sources",
    "event",
    "event_source",
]


@dataclass(frozen=True, slots=True)
class Term:
    name: str  # MDC reference id
    number: int  # as the source writes it; 0: pending at publication (read by name only)
    source: str


METRICS: dict[Field, tuple[Term, ...]] = {
    # one field may come under several terms (IPEC vs TF3 naming); the first present wins
    "rate": (Term("MDC_FLOW_FLUID_PUMP", 157784, "IPEC, TF3 2::26712"),),
    "current_flow": (Term("MDC_FLOW_FLUID_PUMP_CURRENT", 0, "IPEC"),),
    "vtbi": (Term("MDC_VOL_FLUID_TBI", 157884, "IPEC"),),
    "vtbi_remaining": (Term("MDC_VOL_FLUID_TBI_REMAIN", 157872, "IPEC, TF3 2::26800"),),
    "volume_total": (
        Term("MDC_VOL_FLUID_DELIV_TOTAL", 157993, "IPEC"),
        Term("MDC_VOL_FLUID_DELIV", 157864, "TF3 2::26792"),
        Term("MDC_VOL_INFUS_ACTUAL_TOTAL", 157948, "TF3 2::26876"),
    ),
    "volume_segment": (Term("MDC_VOL_FLUID_DELIV_SEGMENT", 0, "IPEC"),),
    "drug": (
        Term("MDC_DRUG_NAME_LABEL", 184514, "IPEC"),
        Term("MDC_DRUG_NAME_TYPE", 184330, "TF3 2::53258"),
    ),
    "concentration": (Term("MDC_CONC_DRUG", 157760, "IPEC"),),
    "dose_rate": (
        Term("MDC_RATE_DOSE", 157924, "IPEC"),
        Term("MDC_FLOW_DRUG_DELIV", 157804, "TF3 2::26732"),
    ),
    "weight": (Term("MDC_ATTR_PT_WEIGHT", 68063, "IPEC, TF2 PCD-03"),),
    "pump_status": (Term("MDC_PUMP_STAT", 184508, "TF3 2::53436"),),
    "infusing_status": (Term("MDC_PUMP_INFUSING_STATUS", 184519, "IPEC"),),
    "delivery_status": (Term("MDC_DEV_PUMP_CURRENT_DELIVERY_STATUS", 0, "IPEC"),),
    "not_delivering_reason": (Term("MDC_DEV_PUMP_NOT_DELIVERING_REASON", 0, "IPEC table"),),
    "mode": (Term("MDC_PUMP_MODE", 184504, "TF3 2::53432"),),
    "delivery_mode": (Term("MDC_DEV_PUMP_PROGRAM_DELIVERY_MODE", 0, "IPEC"),),
    "active_sources": (Term("MDC_DEV_PUMP_ACTIVE_SOURCES", 0, "IPEC"),),
    "event": (Term("MDC_ATTR_EVT_COND", 0, "IPEC"),),
    "event_source": (Term("MDC_ATTR_EVT_SOURCE", 0, "IPEC"),),
}
"""What each OBX-3 of a pump's message carries, by the field we read it into."""

_BY_NAME: dict[str, Field] = {t.name: f for f, terms in METRICS.items() for t in terms}
_BY_NUMBER: dict[int, Field] = {
    t.number: f for f, terms in METRICS.items() for t in terms if t.number
}


def field_of(number: int | None, name: str) -> Field | None:
    """The field an OBX-3 (number, reference name) fills, or None: name first, then number."""
    if name in _BY_NAME:
        return _BY_NAME[name]
    if name.startswith("MDC"):
        return None  # another term, whatever its number says
    return _BY_NUMBER.get(number) if number else None


def term(field: Field) -> Term:
    """The term our messages write for `field` (the first listed)."""
    return METRICS[field][0]


# -- the device hierarchy -----------------------------------------------------------------
PUMP_MDS = Term("MDC_DEV_PUMP_INFUS_MDS", 69985, "TF3 1::4449, TF2 PCD-04 example")
PUMP_VMD = Term("MDC_DEV_PUMP_INFUS_VMD", 69986, "TF3 1::4450, TF2 PCD-03")
LVP_MDS = Term("MDC_DEV_PUMP_INFUS_LVP_MDS", 70049, "IPEC")
LVP_VMD = Term("MDC_DEV_PUMP_INFUS_LVP_VMD", 70050, "IPEC")
DELIVERY_INFO = Term("MDC_DEV_PUMP_DELIVERY_INFO", 0, "IPEC")
SOURCE_PRIMARY = Term("MDC_DEV_PUMP_INFUSATE_SOURCE_PRIMARY", 0, "IPEC")
SOURCE_LABEL = Term("MDC_DEV_PUMP_SOURCE_CHANNEL_LABEL", 0, "IPEC")  # vendor text, not read
_DEVICE_NUMBERS = frozenset({PUMP_MDS.number, PUMP_VMD.number, LVP_MDS.number, LVP_VMD.number})


def is_pump_device(number: int | None, name: str) -> bool:
    """Whether an OBX-3 names part of an infusion pump (MDS, VMD or channel)."""
    if name.startswith("MDC_DEV_PUMP"):
        return True
    return not name.startswith("MDC") and number in _DEVICE_NUMBERS


# -- PCD-10 (IPEC) events -----------------------------------------------------------------
DELIV_START = Term("MDC_EVT_PUMP_DELIV_START", 197288, "IPEC sample")
DELIV_STOP = Term("MDC_EVT_PUMP_DELIV_STOP", 0, "IPEC Table X.1.2-1")
DELIV_COMP = Term("MDC_EVT_PUMP_DELIV_COMP", 0, "IPEC Table X.1.2-1")
PROG_CLEARED = Term("MDC_EVT_PUMP_PROG_CLEARED", 0, "IPEC Table X.1.2-1")
EVENTS = (DELIV_START, DELIV_STOP, DELIV_COMP, PROG_CLEARED)
"""The IPEC events we act on; the others (patient change, time changed, ...) are read and
ignored."""


def event_of(number: int | None, name: str) -> Term | None:
    for t in EVENTS:
        if name == t.name or (not name and number and number == t.number):
            return t
    return None


# -- PCD-04 pump alarms -----------------------------------------------------------------------
ALARMS: dict[str, tuple[Term, ...]] = {
    # our pump_alarm kind (core.vocabulary.PUMP_ALARM_KINDS): the event terms that mean it
    "occlusion": (
        Term("MDC_EVT_FLUID_LINE_OCCL", 196940, "TF2 PCD-04 example (B. Braun)"),
        Term("MDC_EVT_OCCL", 196688, "TF3 3::80"),
    ),
    "door_open": (
        Term("MDC_EVT_STAT_DOOR_OPEN", 202828, "TF3 3::6220"),
        Term("MDC_EVT_DOOR_OR_HANDLE_POSN_PROB", 196842, "TF3 3::234"),
    ),
    "low_battery": (Term("MDC_EVT_BATT_LO", 196802, "TF3 3::194"),),
    # no public source found for air in line: read by these names only, never by number
    "air_in_line": (
        Term("MDC_EVT_FLUID_LINE_AIR", 0, "unconfirmed"),
        Term("MDC_EVT_AIR_IN_LINE", 0, "unconfirmed"),
    ),
}
"""Pump alarm events by our kind. End of infusion comes as IPEC Delivery Complete."""


def alarm_kind(number: int | None, name: str) -> str | None:
    """Our pump alarm kind for an alarm's event code, or None when it is not one of ours."""
    for kind, terms in ALARMS.items():
        for t in terms:
            if name == t.name or (not name.startswith("MDC") and t.number and number == t.number):
                return kind
    return None


# -- coded values -------------------------------------------------------------------------
PUMP_STATUS_STATES = {
    # MDC_PUMP_STAT (TF3 §7.1.3) and MDC_PUMP_INFUSING_STATUS (IPEC) → our pump state
    "pump-status-infusing": "running",
    "pump-status-kvo": "completed",
    "pump-status-paused": "paused",
    "pump-status-ready": "stopped",
    "pump-status-standby": "stopped",
    "pump-status-not-infusing": "paused",
}
DELIVERY_STATES = {
    # MDC_DEV_PUMP_CURRENT_DELIVERY_STATUS (IPEC Table X.1.2.1-4); transitioning: no change
    "pump-delivery-status-delivering": "running",
    "pump-delivery-status-kvo": "completed",
    "pump-delivery-status-not-delivering": "paused",
}
TRANSITIONING = "pump-delivery-status-transitioning"  # IPEC Table X.1.2.1-4 notes
STOPPED_BY_ALARM = "pump-stopped-alarming"  # MDC_DEV_PUMP_NOT_DELIVERING_REASON (IPEC)
