"""IEEE 11073-10101 (MDC) codes as HL7 carries them, mapped to our vocabulary (core.params).

A numeric MDC code is partition × 65536 + term (PROTOCOLS.md §3). Two kinds of numbers live
here, and the difference matters:
- *confirmed*: two public sources agree (PROTOCOLS.md §3, or as commented). Used to read
  and to write.
- *derived*: computed from IntelliVue ids (IVH: physio ids below 0xE000 equal MDC terms) with
  one source only. Used to read (a sender that sends only the number is still understood) but
  never written: our messages then carry only the reference name.
Reference names (`MDC_...`) are read whenever the number is absent or unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.params import PARAMETERS
from core.units import normalise_unit

PARTITION_SCADA = 2  # physiological measurements (IVH NOM_PART_SCADA)
PARTITION_EVT = 3  # events for alerts (IVH NOM_PART_EVT)
PARTITION_DIM = 4  # units of measurement (IVH NOM_PART_DIM)


def mdc_number(partition: int, term: int) -> int:
    """The numeric MDC code for `term` in `partition` (PROTOCOLS.md §3)."""
    return partition * 65536 + term


# -- parameters ----------------------------------------------------------------------------
# Confirmed numbers come from core.params (Parameter.mdc); derived ones are read only.
DERIVED_PARAMETER_NUMBERS: dict[int, str] = {
    160920: "MDC_VENT_CONC_AWAY_O2_INSP",  # IVH 0x7498, unconfirmed
    151784: "MDC_PRESS_RESP_PLAT",  # IVH NOM_PRESS_RESP_PLAT 0x50E8, unconfirmed
}

CONFIRMED_PARAMETER_NUMBERS: dict[int, str] = {
    p.mdc: p.code for p in PARAMETERS.values() if p.mdc is not None
}

PUBLIC_SAMPLE_NUMBERS: dict[int, tuple[str, str]] = {
    # number: (reference name as senders write it, our code); each seen in public PCD-01
    # samples AND derived from IVH, so written as well as read (docs/devices/hl7.md lists them)
    150033: ("MDC_PRESS_BLD_ART_SYS", "MDC_PRESS_BLD_ART_SYS"),  # GE B40/B1x5 samples + IVH
    150034: ("MDC_PRESS_BLD_ART_DIA", "MDC_PRESS_BLD_ART_DIA"),  # GE B40/B1x5 samples + IVH
    150035: ("MDC_PRESS_BLD_ART_MEAN", "MDC_PRESS_BLD_ART_MEAN"),  # GE B40/B1x5 samples + IVH
    151562: ("MDC_RESP_RATE", "MDC_RESP_RATE"),  # GE and Mindray samples + IVH 0x500A
    # EtCO2: 151708 in a Mindray parameter table and the German MII FHIR ICU profiles
    151708: ("MDC_CONC_AWAY_CO2_ET", "MDC_AWAY_CO2_ET"),
}
"""Numbers two public sources agree on, beyond core.params' confirmed ones."""

VENDOR_NUMBERS: dict[int, tuple[str, str]] = {
    # GE CARESCAPE B1x5 HL7 samples send EtCO2 as the expired-CO2 concentration term
    151712: ("MDC_CONC_AWAY_CO2_EXP", "MDC_AWAY_CO2_ET"),
}
"""Vendor variants read as one of our codes (read only: we never write them)."""

NAME_ALIASES: dict[str, str] = {
    name: code for name, code in (*PUBLIC_SAMPLE_NUMBERS.values(), *VENDOR_NUMBERS.values())
}
"""Reference names senders use for one of our codes under another name."""

PARAMETER_BY_NUMBER: dict[int, str] = {
    **DERIVED_PARAMETER_NUMBERS,
    **{n: code for n, (_, code) in (*PUBLIC_SAMPLE_NUMBERS.items(), *VENDOR_NUMBERS.items())},
    **CONFIRMED_PARAMETER_NUMBERS,
}

WRITTEN_NUMBERS: dict[str, tuple[int, str]] = {
    **{code: (n, name) for n, (name, code) in PUBLIC_SAMPLE_NUMBERS.items()},
    **{code: (n, code) for n, code in CONFIRMED_PARAMETER_NUMBERS.items()},
    # no public number for MDC_TEMP_BLD: sent as temperature, as GE's samples send every
    # temperature channel (150344^MDC_TEMP); it is read back as MDC_TEMP
    "MDC_TEMP_BLD": (150344, "MDC_TEMP"),
}
"""Our code → (number, reference name) that our messages carry in OBX-3. A code without an
entry has no number two sources agree on: the central-station simulator leaves it out."""


@dataclass(frozen=True, slots=True)
class Resolved:
    """What an OBX-3 (number, reference name) means to us."""

    code: str
    known: bool  # the code is in core.params
    conflict: str = ""  # non-empty: number and name name different parameters (not guessed)


def _code_of_name(name: str) -> str | None:
    if name in PARAMETERS:
        return name
    return NAME_ALIASES.get(name)


def parameter_code(number: int | None, name: str) -> Resolved:
    """Our code for an OBX-3 (numeric code, reference name). A known number is used when the
    name agrees or is absent (or is not an MDC name); when it is another MDC name, known or
    not (GE's public B1x5 samples send `150456^MDC_CO2_ET`: SpO2's number, CO2's name), the
    row is kept under its OBX-3 text, unknown, with the conflict said: never guessed."""
    by_number = PARAMETER_BY_NUMBER.get(number) if number is not None else None
    by_name = _code_of_name(name)
    named_other = by_name != by_number if by_name else name.startswith("MDC")
    if by_number is not None and name and named_other:
        text = f"{number}^{name}"
        said = f"{name} is {by_name}" if by_name else f"{name} is not {by_number}"
        return Resolved(text, False, f"{number} is {by_number}, {said}")
    if by_number is not None:
        return Resolved(by_number, True)
    if by_name is not None:
        return Resolved(by_name, True)
    if name:
        return Resolved(name, False)
    return Resolved(str(number) if number is not None else "", False)


# -- units -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MdcUnit:
    name: str
    ucum: str
    number: int | None  # confirmed number (written); None: name only in our messages
    derived: int | None = None  # number derived from IVH (read only)


UNITS: tuple[MdcUnit, ...] = (
    MdcUnit("MDC_DIM_PERCENT", "%", 262688),  # PROTOCOLS.md §3 (confirmed)
    MdcUnit("MDC_DIM_BEAT_PER_MIN", "/min", 264864),  # PROTOCOLS.md §3 (confirmed)
    MdcUnit("MDC_DIM_MMHG", "mm[Hg]", 266016),  # PROTOCOLS.md §3 (confirmed)
    MdcUnit("MDC_DIM_DEGC", "Cel", 268192),  # PROTOCOLS.md §3 (confirmed)
    MdcUnit("MDC_DIM_MILLI_L", "mL", 263762),  # PROTOCOLS.md §3 (confirmed)
    MdcUnit("MDC_DIM_MILLI_L_PER_HR", "mL/h", 265266),  # PROTOCOLS.md §3 (confirmed)
    MdcUnit("MDC_DIM_CM_H2O", "cm[H2O]", None, 266048),  # IVH 0x0F40, unconfirmed
    MdcUnit("MDC_DIM_RESP_PER_MIN", "/min", 264928),  # IVH 0x0AE0 + GE and Mindray samples
    MdcUnit("MDC_DIM_PER_MIN", "/min", None, 264672),  # IVH 0x09E0
    MdcUnit("MDC_DIM_PULS_PER_MIN", "/min", None, 264896),  # IVH 0x0AC0
    MdcUnit("MDC_DIM_KILO_PASCAL", "kPa", None, 265987),  # IVH 0x0F03
    MdcUnit("MDC_DIM_HECTO_PASCAL", "mbar", None, 265986),  # IVH 0x0F02 (1 hPa = 1 mbar)
    MdcUnit("MDC_DIM_MILLI_BAR", "mbar", None, 266098),  # IVH 0x0F72
    MdcUnit("MDC_DIM_FAHR", "[degF]", None, 266560),  # IVH 0x1140
    MdcUnit("MDC_DIM_X_L", "L", None, 263744),  # IVH 0x0640
    MdcUnit("MDC_DIM_X_L_PER_MIN", "L/min", None, 265216),  # IVH 0x0C00
    MdcUnit("MDC_DIM_MILLI_L_PER_MIN", "mL/min", None, 265234),  # IVH 0x0C12
    # pump units: IHE PCD TF-3 Rev 8 §7.1.2 (TF3) and the IPEC Rev 1.5 sample (IPEC), see
    # drivers/hl7/pump_terms.py; two sources agreeing make a number confirmed
    MdcUnit("MDC_DIM_MICRO_G_PER_MIN", "ug/min", 265491),  # IVH 0x0D13 + TF3 4::3347
    MdcUnit("MDC_DIM_MICRO_G_PER_KG_PER_MIN", "ug/kg/min", 265619),  # IVH 0x0D93 + IPEC
    MdcUnit("MDC_DIM_MICRO_G_PER_HR", "ug/h", 265523),  # IVH 0x0D33 + TF3 4::3379
    MdcUnit("MDC_DIM_MILLI_G_PER_HR", "mg/h", 265522),  # IVH 0x0D32 + TF3 4::3378
    MdcUnit("MDC_DIM_X_INTL_UNIT_PER_MIN", "U/min", None, 267808),  # IVH 0x1620
    MdcUnit("MDC_DIM_X_INTL_UNIT_PER_HR", "U/h", 267840),  # IVH 0x1640 + TF3 4::5696
    MdcUnit("MDC_DIM_MILLI_G_PER_ML", "mg/mL", None, 264306),  # IPEC only
    MdcUnit("MDC_DIM_MIN", "min", 264352),  # IPEC + TF3 4::2208
    MdcUnit("MDC_DIM_KILO_G", "kg", 263875),  # IPEC + TF2 PCD-03 example
    MdcUnit("MDC_DIM_DIMLESS", "1", None, 262656),  # IVH 0x0200
)

_UNIT_BY_NAME = {u.name: u for u in UNITS}
_UNIT_BY_NUMBER = {n: u for u in UNITS for n in (u.number, u.derived) if n is not None}

_RESP_CODES = frozenset({"MDC_RESP_RATE", "MDC_VENT_RESP_RATE"})


def unit_from_obx6(components: list[str]) -> str:
    """The UCUM unit of an OBX-6 (CWE): a UCUM triplet (primary or alternate) first, then an
    MDC unit (number, then name), then the text as written ('' when absent)."""
    comps = [*components, "", "", "", "", "", ""][:6]
    ident, text, system, alt_ident, alt_text, alt_system = comps
    if system.upper() == "UCUM" and ident:
        return normalise_unit(ident)
    if alt_system.upper() == "UCUM" and alt_ident:
        return normalise_unit(alt_ident)
    if ident.isdigit() and int(ident) in _UNIT_BY_NUMBER:
        return _UNIT_BY_NUMBER[int(ident)].ucum
    for name in (text, ident, alt_text):
        if name in _UNIT_BY_NAME:
            return _UNIT_BY_NAME[name].ucum
    for name in (text, ident, alt_text, alt_ident):
        if name and not _looks_like_mdc_number(name, system):
            return normalise_unit(name)
    return ""


def _looks_like_mdc_number(text: str, system: str) -> bool:
    """An unknown numeric MDC unit code (not the UCUM unit "1")."""
    return text.isdigit() and (system.upper() == "MDC" or int(text) >= 65536)


def obx6_for(code: str, ucum: str) -> tuple[str, str, str, str, str, str]:
    """OBX-6 components for writing `ucum` for parameter `code`: the MDC unit (number only when
    confirmed) with a UCUM alternate, or the UCUM triplet alone when no MDC name is known."""
    unit = _unit_for_writing(code, ucum)
    if unit is None:
        return (ucum, ucum, "UCUM", "", "", "")
    number = str(unit.number) if unit.number is not None else ""
    return (number, unit.name, "MDC", ucum, ucum, "UCUM")


def unit_number(code: str, ucum: str) -> int | None:
    """The confirmed MDC unit number we write for `ucum` of `code` (None: not confirmed)."""
    unit = _unit_for_writing(code, ucum)
    return unit.number if unit is not None else None


def _unit_for_writing(code: str, ucum: str) -> MdcUnit | None:
    if ucum == "/min":
        return _UNIT_BY_NAME[
            "MDC_DIM_RESP_PER_MIN" if code in _RESP_CODES else "MDC_DIM_BEAT_PER_MIN"
        ]
    for u in UNITS:
        if u.ucum == ucum:
            return u
    return None


# -- events (PCD-04) --------------------------------------------------------------------------
EVT_ALARM = 196616  # MDC_EVT_ALARM, OBR-4 of PCD-04 (PROTOCOLS.md §3; public R40 samples)
EVT_ALARM_NAME = "MDC_EVT_ALARM"
ATTR_EVENT_PHASE = 68481  # MDC_ATTR_EVENT_PHASE (PROTOCOLS.md §3)
ATTR_ALARM_STATE = 68482  # MDC_ATTR_ALARM_STATE (PROTOCOLS.md §3)
ATTR_ALARM_INACTIVATION_STATE = 68483  # MDC_ATTR_ALARM_INACTIVATION_STATE (PROTOCOLS.md §3)
ATTR_ALARM_PRIORITY = 68484  # MDC_ATTR_ALARM_PRIORITY: a vendor sample and GE Mural's R40
ATTR_ALERT_TYPE = 68485  # MDC_ATTR_ALERT_TYPE: GE Mural's R40 sample only, unconfirmed
ATTR_ALERT_SOURCE = 68480  # MDC_ATTR_ALERT_SOURCE: one public design note only, unconfirmed

ATTRIBUTE_NAMES: dict[int, str] = {
    ATTR_EVENT_PHASE: "MDC_ATTR_EVENT_PHASE",
    ATTR_ALARM_STATE: "MDC_ATTR_ALARM_STATE",
    ATTR_ALARM_INACTIVATION_STATE: "MDC_ATTR_ALARM_INACTIVATION_STATE",
    ATTR_ALARM_PRIORITY: "MDC_ATTR_ALARM_PRIORITY",
    ATTR_ALERT_TYPE: "MDC_ATTR_ALERT_TYPE",
    ATTR_ALERT_SOURCE: "MDC_ATTR_ALERT_SOURCE",
}
"""Alarm companion rows by the numbers we write."""

_OTHER_ATTRIBUTE_NUMBERS: dict[int, str] = {
    # GE Mural's public ORU^R40 sample numbers these differently (68164-68167); read both
    68164: "MDC_ATTR_ALERT_SOURCE",
    68165: "MDC_ATTR_EVENT_PHASE",
    68166: "MDC_ATTR_ALERT_STATE",
    68167: "MDC_ATTR_ALARM_INACTIVATION_STATE",
}
_ATTRIBUTE_NAMES_READ = frozenset({*ATTRIBUTE_NAMES.values(), *_OTHER_ATTRIBUTE_NUMBERS.values()})


def attribute_name(number: int | None, name: str) -> str:
    """The companion attribute an OBX-3 names ('' when it is not one): the reference name
    first (the numbering differs between public samples), then the number."""
    if name in _ATTRIBUTE_NAMES_READ:
        return name
    if number is None:
        return ""
    return ATTRIBUTE_NAMES.get(number) or _OTHER_ATTRIBUTE_NUMBERS.get(number, "")


def is_event(number: int | None, name: str) -> bool:
    """Whether an OBX-3 names an event (alarm or advisory): `MDC_EVT_…`, a vendor's
    `MDCX_EVT_…` (GE Mural sends `0^MDCX_EVT_ALERT_ADVISORY^MDC`), or partition 3."""
    if name.startswith(("MDC_EVT_", "MDCX_EVT_")):
        return True
    return number is not None and number // 65536 == PARTITION_EVT


_KEEPALIVE_WORDS = ("WATCHDOG", "HEARTBEAT", "KEEP_ALIVE", "KEEPALIVE")


def is_keepalive(name: str) -> bool:
    """Whether an event is an ACM link keep-alive (watchdog / heartbeat), not an alarm.
    Matched on the name: no public numeric code was found (docs/devices/hl7.md)."""
    upper = name.upper()
    return any(word in upper for word in _KEEPALIVE_WORDS)


@dataclass(frozen=True, slots=True)
class Rhythm:
    name: str  # MDC reference id
    rhythm: str  # our vocabulary (DESIGN.md `arrhythmia.rhythm`)
    number: int | None  # confirmed numeric code (written)
    derived: int | None = None  # numeric code from one source (read only)


RHYTHMS: tuple[Rhythm, ...] = (
    # 3:3076: IVH NOM_EVT_ECG_ASYSTOLE and DICOM CID 3038 agree.
    Rhythm("MDC_EVT_ECG_ASYSTOLE", "asystole", mdc_number(PARTITION_EVT, 3076)),
    # 3:3224: IVH NOM_EVT_ECG_V_TACHY only.
    Rhythm("MDC_EVT_ECG_V_TACHY", "VT", None, mdc_number(PARTITION_EVT, 3224)),
    # No public number found for ventricular fibrillation: read by name only.
    Rhythm("MDC_EVT_ECG_V_FIB", "VF", None),
    # IntelliVue's combined "VFib/VTach" alarm (IVH NOM_EVT_ECG_V_FIB_TACHY, a private term):
    # read as the graver of the two.
    Rhythm("MDC_EVT_ECG_V_FIB_TACHY", "VF", None),
    # 3:3128 (DICOM CID 3038 only).
    Rhythm("MDC_EVT_ECG_ATR_FIB", "AF", None, mdc_number(PARTITION_EVT, 3128)),
    # 3:3192 (IVH NOM_EVT_ECG_SV_TACHY only).
    Rhythm("MDC_EVT_ECG_SV_TACHY", "SVT", None, mdc_number(PARTITION_EVT, 3192)),
    # 3:3084 (DICOM CID 3038 only) and 3:3086 (IVH NOM_EVT_ECG_BRADY_EXTREME only).
    Rhythm("MDC_EVT_ECG_SINUS_BRADY", "brady", None, mdc_number(PARTITION_EVT, 3084)),
    Rhythm("MDC_EVT_ECG_BRADY_EXTREME", "brady", None, mdc_number(PARTITION_EVT, 3086)),
)

LETHAL_RHYTHMS = frozenset({"VT", "VF", "asystole"})

_RHYTHM_BY_NAME = {r.name: r for r in RHYTHMS}
_RHYTHM_BY_NUMBER = {n: r for r in RHYTHMS for n in (r.number, r.derived) if n is not None}
_RHYTHM_BY_VOCAB = {r.rhythm: r for r in reversed(RHYTHMS)}  # first listed wins


def rhythm_of(number: int | None, name: str) -> str | None:
    """Our rhythm name for an alarm's event code, or None when it is not a rhythm alarm."""
    if name in _RHYTHM_BY_NAME:
        return _RHYTHM_BY_NAME[name].rhythm
    if number is not None and number in _RHYTHM_BY_NUMBER:
        return _RHYTHM_BY_NUMBER[number].rhythm
    return None


def rhythm_event(rhythm: str) -> Rhythm:
    """The MDC event we write for our rhythm name (KeyError for an unknown one)."""
    return _RHYTHM_BY_VOCAB[rhythm]


# -- device hierarchy (PCD-01 MDS / VMD / channel rows) --------------------------------------
MDS_MULTI_PARAM = (69965, "MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS")  # IVH 1:4429 + GE samples
DEVICE_NUMBERS: dict[str, int] = {
    # VMD / channel objects as GE's public PCD-01 samples (B40, B1x5) number them
    "MDC_DEV_ECG_VMD": 69798,
    "MDC_DEV_ECG_CHAN": 69799,
    "MDC_DEV_ANALY_SAT_O2_VMD": 69642,
    "MDC_DEV_METER_PRESS_BLD_VMD": 69854,
    "MDC_DEV_METER_PRESS_BLD_CHAN": 69855,
    "MDC_DEV_METER_TEMP_VMD": 69902,
    "MDC_DEV_METER_TEMP_CHAN": 69903,
}
"""Device-object numbers seen in public samples; a VMD or channel without one is not written
(its metrics still carry the containment in OBX-4)."""
