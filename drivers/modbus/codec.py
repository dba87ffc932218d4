"""Pump registers ↔ a `PumpReading`, per profile. Pure: no pymodbus, no I/O.

The driver reads the profile's whole block in one request and hands the list of 16-bit
register values to `decode`; the simulator builds its registers with `encode`. 32-bit values
follow the profile's word order; strings are two ASCII bytes per register, high byte first,
padded with NUL or spaces; `scale` multiplies the raw integer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import DecodeError
from drivers.modbus.profile import FieldSpec, PumpProfile


@dataclass(frozen=True, slots=True, kw_only=True)
class PumpReading:
    """One poll of one pump. Fields the profile does not map are None."""

    rate_ml_h: float | None = None
    vtbi_ml: float | None = None
    volume_infused_ml: float | None = None
    state: str | None = None
    alarms: frozenset[str] = field(default_factory=frozenset)
    drug: str | None = None
    concentration_ug_ml: float | None = None
    battery_pct: float | None = None
    serial_number: str | None = None
    infusion_started_at: float | None = None  # the pump's clock: Unix seconds, UTC
    infusion_elapsed_s: float | None = None  # the pump's count since the programme started
    infusion_stopped_at: float | None = None  # the pump's clock: when the programme stopped
    volume_at: float | None = None  # the pump's clock: when volume_infused_ml was counted


def decode(profile: PumpProfile, registers: list[int]) -> PumpReading:
    """Decode one block read. Raises DecodeError when the block is short or a value is bad."""
    if len(registers) != profile.count:
        raise DecodeError(f"expected {profile.count} registers, got {len(registers)}")
    if any(not 0 <= r <= 0xFFFF for r in registers):
        raise DecodeError("register value outside 0-65535")
    values: dict[str, object] = {}
    for name, spec in profile.fields.items():
        offset = spec.address - profile.start
        regs = registers[offset : offset + spec.width]
        values[name] = _decode_field(spec, regs, profile.word_order)
    alarms = values.pop("alarms", frozenset())
    return PumpReading(alarms=alarms, **values)  # type: ignore[arg-type]


def _decode_field(spec: FieldSpec, regs: list[int], word_order: str) -> object:
    t = spec.type
    if t == "string":
        raw = b"".join(r.to_bytes(2, "big") for r in regs)
        text = raw.split(b"\x00", 1)[0].decode("ascii", errors="replace").strip()
        return text.lower() if spec.name == "drug" and text else (text or None)
    if t == "enum":
        state = spec.values.get(regs[0])
        if state is None:
            raise DecodeError(f"{spec.name}: unknown state value {regs[0]}")
        return state
    if t == "bits":
        return frozenset(kind for bit, kind in spec.bits.items() if regs[0] >> bit & 1)
    raw_int = _int_of(regs, t, word_order)
    return round(raw_int * spec.scale, 6)


def _int_of(regs: list[int], t: str, word_order: str) -> int:
    if t in ("uint16", "int16"):
        v = regs[0]
        return v - 0x10000 if t == "int16" and v & 0x8000 else v
    hi, lo = (regs[0], regs[1]) if word_order == "big" else (regs[1], regs[0])
    v = hi << 16 | lo
    return v - 0x1_0000_0000 if t == "int32" and v & 0x8000_0000 else v


def encode(profile: PumpProfile, reading: PumpReading) -> list[int]:
    """The block of registers a pump with this reading serves (unmapped registers are 0)."""
    regs = [0] * profile.count
    for name, spec in profile.fields.items():
        value = getattr(reading, name)
        if value is None:
            continue
        offset = spec.address - profile.start
        regs[offset : offset + spec.width] = _encode_field(spec, value, profile.word_order)
    return regs


def _encode_field(spec: FieldSpec, value: object, word_order: str) -> list[int]:
    t = spec.type
    if t == "string":
        raw = str(value).encode("ascii", errors="replace")[: spec.length * 2]
        raw = raw.ljust(spec.length * 2, b"\x00")
        return [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
    if t == "enum":
        for number, state in spec.values.items():
            if state == value:
                return [number & 0xFFFF]
        raise ValueError(f"{spec.name}: state {value!r} not in profile")
    if t == "bits":
        assert isinstance(value, frozenset | set)
        word = 0
        for bit, kind in spec.bits.items():
            if kind in value:
                word |= 1 << bit
        return [word]
    assert isinstance(value, int | float)
    raw_int = round(value / spec.scale)
    if t in ("uint16", "int16"):
        return [raw_int & 0xFFFF]
    raw_int &= 0xFFFF_FFFF
    hi, lo = raw_int >> 16, raw_int & 0xFFFF
    return [hi, lo] if word_order == "big" else [lo, hi]
