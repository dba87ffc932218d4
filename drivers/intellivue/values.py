"""IntelliVue attribute values: FLOAT, numeric observed values and alarm lists (sans-IO).

FLOAT-Type (IVH): the top byte is a signed power of ten, the low 24 bits a signed mantissa;
value = mantissa × 10^exponent. Four mantissas are special and carry no number: NaN 0x7FFFFF,
NRes 0x800000 (not at this resolution), +INF 0x7FFFFE, −INF 0x800002. They are tested on the
24-bit mantissa, never on the whole word, and decode to `None`.

NuObsValue (IVH, 10 bytes): physio_id u16, state u16, unit_code u16, value FLOAT.
NuObsValueCmp (IVH): count u16, length u16, NuObsValue × count (e.g. sys, dia, mean).
DevAlarmList (IVH): count u16, length u16, DevAlarmEntry × count, each
  al_source u16, al_code u16, al_type u16, al_state u16, object (class u16, context u16,
  handle u16), alert_info_id u16, length u16, then AlMonGenInfo (al_inst_no u16, al_text u32,
  priority u16, flags u16) and, for STR_ALMON_INFO, a String (length u16 + UTF-16 text).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.errors import DecodeError
from drivers.intellivue import nomenclature as nom
from drivers.intellivue.wire import Reader, u16, u32

FLOAT_NAN = 0x7FFFFF  # mantissa: not a number (IVH FLOATType)
FLOAT_NRES = 0x800000  # mantissa: not at this resolution (IVH)
FLOAT_POS_INF = 0x7FFFFE  # mantissa: +infinity (IVH)
FLOAT_NEG_INF = 0x800002  # mantissa: −infinity (IVH)

_SPECIALS = {FLOAT_NAN: "nan", FLOAT_NRES: "nres", FLOAT_POS_INF: "+inf", FLOAT_NEG_INF: "-inf"}


def float_special(raw: int) -> str | None:
    """ "nan", "nres", "+inf" or "-inf" when `raw`'s mantissa is special, else None."""
    special: str | None = _SPECIALS.get(raw & 0xFFFFFF)
    return special


def decode_float(raw: int) -> float | None:
    """The number a 32-bit FLOAT-Type holds, or None for the special mantissas."""
    if (raw & 0xFFFFFF) in _SPECIALS:
        return None
    exponent = (raw >> 24) & 0xFF
    if exponent >= 0x80:
        exponent -= 0x100
    mantissa = raw & 0xFFFFFF
    if mantissa >= 0x800000:
        mantissa -= 0x1000000
    # Division is correctly rounded, so 372 × 10^-1 decodes to exactly 37.2.
    return mantissa / 10**-exponent if exponent < 0 else float(mantissa * 10**exponent)


def encode_float(value: float | None, decimals: int = 1) -> int:
    """A FLOAT-Type word for `value` with `decimals` digits after the point (None → NaN)."""
    if value is None or math.isnan(value):
        return FLOAT_NAN
    if math.isinf(value):
        return FLOAT_POS_INF if value > 0 else FLOAT_NEG_INF
    if not -128 <= -decimals <= 127:
        raise ValueError(f"exponent {-decimals} out of range")
    mantissa = round(value * 10.0**decimals)
    if not -0x7FFFFD <= mantissa <= 0x7FFFFD:
        raise ValueError(f"{value} needs more than 24 bits at {decimals} decimals")
    return ((-decimals & 0xFF) << 24) | (mantissa & 0xFFFFFF)


@dataclass(frozen=True, slots=True)
class NumericValue:
    """One NuObsValue (from a single or a compound numeric)."""

    handle: int
    physio_id: int
    state: int
    unit_code: int
    raw: int

    @property
    def value(self) -> float | None:
        return decode_float(self.raw)

    @property
    def special(self) -> str | None:
        return float_special(self.raw)

    @property
    def invalid(self) -> bool:
        """The state says the number must not be used (invalid or unavailable)."""
        return bool(self.state & (nom.MS_INVALID | nom.MS_UNAVAILABLE))

    @property
    def questionable(self) -> bool:
        """Measured, but flagged (questionable, test or demo data): rules must not use it."""
        mask = nom.MS_QUESTIONABLE | nom.MS_TEST_DATA | nom.MS_DEMO_DATA
        return bool(self.state & mask)


def encode_nu_obs_value(physio_id: int, state: int, unit_code: int, raw: int) -> bytes:
    return u16(physio_id) + u16(state) + u16(unit_code) + u32(raw)


def encode_nu_obs_compound(values: list[tuple[int, int, int, int]]) -> bytes:
    body = b"".join(encode_nu_obs_value(*v) for v in values)
    return u16(len(values)) + u16(len(body)) + body


def read_nu_obs_value(reader: Reader, handle: int) -> NumericValue:
    return NumericValue(
        handle=handle,
        physio_id=reader.u16("physio id"),
        state=reader.u16("measurement state"),
        unit_code=reader.u16("unit code"),
        raw=reader.u32("FLOAT value"),
    )


def read_nu_obs_compound(reader: Reader, handle: int) -> list[NumericValue]:
    count = reader.u16("compound count")
    body = reader.sub(reader.u16("compound length"), "compound value")
    values = [read_nu_obs_value(body, handle) for _ in range(count)]
    if body.remaining:
        raise DecodeError(f"compound numeric has {body.remaining} bytes beyond {count} values")
    return values


@dataclass(frozen=True, slots=True)
class AlarmEntry:
    """One DevAlarmEntry of the patient (0x0902) or technical (0x0904) alarm list."""

    patient: bool
    source: int
    code: int
    type: int
    state: int
    object_class: int = 0
    object_context: int = 0
    object_handle: int = 0
    instance: int = 0
    text_id: int = 0
    info_priority: int = 0
    flags: int = 0
    text: str | None = None

    @property
    def priority(self) -> str:
        """ "high" / "medium" / "low" from the alert type (IVH AlertType); "low" if unknown."""
        return nom.ALERT_PRIORITY.get(self.type, "low")

    @property
    def key(self) -> tuple[bool, int, int]:
        """Identity of an alarm episode across polls: list, source, code."""
        return (self.patient, self.source, self.code)


def encode_alarm_entry(entry: AlarmEntry) -> bytes:
    info = u16(entry.instance) + u32(entry.text_id) + u16(entry.info_priority) + u16(entry.flags)
    if entry.text is None:
        info_id = nom.GEN_ALMON_INFO
    else:
        info_id = nom.STR_ALMON_INFO
        text = entry.text.encode("utf-16-be")
        info += u16(len(text)) + text
    head = u16(entry.source) + u16(entry.code) + u16(entry.type) + u16(entry.state)
    obj = u16(entry.object_class) + u16(entry.object_context) + u16(entry.object_handle)
    return head + obj + u16(info_id) + u16(len(info)) + info


def encode_alarm_list(entries: list[AlarmEntry]) -> bytes:
    body = b"".join(encode_alarm_entry(e) for e in entries)
    return u16(len(entries)) + u16(len(body)) + body


def read_alarm_list(reader: Reader, *, patient: bool) -> list[AlarmEntry]:
    count = reader.u16("alarm count")
    body = reader.sub(reader.u16("alarm list length"), "alarm list")
    entries = [_read_alarm_entry(body, patient) for _ in range(count)]
    if body.remaining:
        raise DecodeError(f"alarm list has {body.remaining} bytes beyond {count} entries")
    return entries


def _read_alarm_entry(reader: Reader, patient: bool) -> AlarmEntry:
    source, code = reader.u16("al_source"), reader.u16("al_code")
    al_type, state = reader.u16("al_type"), reader.u16("al_state")
    obj_class, obj_ctx, obj_handle = reader.u16(), reader.u16(), reader.u16()
    info_id = reader.u16("alert_info_id")
    info = reader.sub(reader.u16("alert info length"), "alert info")
    instance = text_id = priority = flags = 0
    text: str | None = None
    if info_id in (nom.GEN_ALMON_INFO, nom.STR_ALMON_INFO):
        instance, text_id = info.u16("al_inst_no"), info.u32("al_text")
        priority, flags = info.u16("priority"), info.u16("flags")
        if info_id == nom.STR_ALMON_INFO:
            raw = info.take(info.u16("string length"), "alarm string")
            if len(raw) % 2:
                raise DecodeError("alarm string has an odd number of bytes")
            text = raw.decode("utf-16-be", errors="replace").rstrip("\x00")
    return AlarmEntry(
        patient=patient,
        source=source,
        code=code,
        type=al_type,
        state=state,
        object_class=obj_class,
        object_context=obj_ctx,
        object_handle=obj_handle,
        instance=instance,
        text_id=text_id,
        info_priority=priority,
        flags=flags,
        text=text,
    )
