"""Pump register profiles: which registers hold which pump field, as data (YAML).

A profile names the register table, the one block read per poll, the 32-bit word order and,
per field, its address, type (uint16, int16, uint32, int32, enum, bits, string) and scale.
Known fields: rate_ml_h, vtbi_ml, volume_infused_ml, state, alarms, drug,
concentration_ug_ml, battery_pct, serial_number. `rate_ml_h` is required; others optional.
Validation errors name file, line and field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from core.errors import ConfigError
from core.yamlfile import Marked, read_marked

FieldType = Literal["uint16", "int16", "uint32", "int32", "enum", "bits", "string"]
_WIDTH: dict[str, int] = {"uint16": 1, "int16": 1, "uint32": 2, "int32": 2, "enum": 1, "bits": 1}
KNOWN_FIELDS = (
    "rate_ml_h",
    "vtbi_ml",
    "volume_infused_ml",
    "state",
    "alarms",
    "drug",
    "concentration_ug_ml",
    "battery_pct",
    "serial_number",
)
PUMP_STATES = ("stopped", "running", "paused", "alarm", "completed")
ALARM_KINDS = ("occlusion", "air_in_line", "door_open", "end_of_infusion", "low_battery")
DEFAULT_PROFILE = "iaewatch_generic_pump_v1.yaml"


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldSpec:
    name: str
    address: int
    type: FieldType
    scale: float = 1.0
    length: int = 1  # registers, for strings
    values: dict[int, str] = field(default_factory=dict)  # enum
    bits: dict[int, str] = field(default_factory=dict)  # bit fields

    @property
    def width(self) -> int:
        return self.length if self.type == "string" else _WIDTH[self.type]


@dataclass(frozen=True, slots=True, kw_only=True)
class PumpProfile:
    model: str
    manufacturer: str
    table: Literal["holding", "input"]
    start: int
    count: int
    word_order: Literal["big", "little"]
    fields: dict[str, FieldSpec]
    source: str = "<builtin>"


def default_profile_path() -> Path:
    return Path(str(resources.files("drivers.modbus") / "profiles" / DEFAULT_PROFILE))


def load_profile(path: str | Path | None = None) -> PumpProfile:
    """Load and validate a profile (the shipped default when `path` is None)."""
    p = Path(path) if path is not None else default_profile_path()
    data = read_marked(p)
    return parse_profile(data, file=str(p))


def parse_profile(data: Any, *, file: str) -> PumpProfile:
    def err(msg: str, where: Marked | None, key: str, fld: str | None = None) -> ConfigError:
        line = where.line_of(key) if where is not None else None
        return ConfigError(msg, file=file, line=line, field=fld or key)

    if not isinstance(data, Marked):
        raise ConfigError("a profile must be a mapping", file=file, line=1)
    for key in data:
        if key not in (
            "model",
            "manufacturer",
            "description",
            "table",
            "block",
            "word_order",
            "fields",
        ):
            raise err(f"unknown key {key!r}", data, key)
    for key in ("model", "table", "block", "fields"):
        if key not in data:
            raise ConfigError(f"missing {key!r}", file=file, line=data.line, field=key)
    model = data["model"]
    if not isinstance(model, str) or not model:
        raise err("must be a non-empty string", data, "model")
    table = data["table"]
    if table not in ("holding", "input"):
        raise err("must be 'holding' or 'input'", data, "table")
    word_order = data.get("word_order", "big")
    if word_order not in ("big", "little"):
        raise err("must be 'big' or 'little'", data, "word_order")
    block = data["block"]
    if not isinstance(block, Marked) or set(block) != {"start", "count"}:
        raise err("must be {start: N, count: N}", data, "block")
    start, count = block["start"], block["count"]
    if not _is_int(start) or start < 0 or start > 65535:
        raise err("must be an address 0-65535", block, "start", "block.start")
    if not _is_int(count) or not 1 <= count <= 125:
        raise err("must be 1-125 registers (one Modbus read)", block, "count", "block.count")
    raw_fields = data["fields"]
    if not isinstance(raw_fields, Marked) or not raw_fields:
        raise err("must be a mapping of field name to register spec", data, "fields")
    fields: dict[str, FieldSpec] = {}
    for name, spec in raw_fields.items():
        fname = f"fields.{name}"
        if name not in KNOWN_FIELDS:
            raise err(
                f"unknown pump field (known: {', '.join(KNOWN_FIELDS)})", raw_fields, name, fname
            )
        fields[name] = _parse_field(name, spec, raw_fields, start, count, err)
    if "rate_ml_h" not in fields:
        raise err("a profile must map rate_ml_h", data, "fields", "fields.rate_ml_h")
    return PumpProfile(
        model=model,
        manufacturer=str(data.get("manufacturer", "")),
        table=table,
        start=start,
        count=count,
        word_order=word_order,
        fields=fields,
        source=file,
    )


def _parse_field(
    name: str, spec: Any, parent: Marked, start: int, count: int, err: Any
) -> FieldSpec:
    fname = f"fields.{name}"
    if not isinstance(spec, Marked):
        raise err("must be a mapping", parent, name, fname)
    for key in spec:
        if key not in ("address", "type", "scale", "length", "values", "bits"):
            raise err(f"unknown key {key!r}", spec, key, f"{fname}.{key}")
    address: Any = spec.get("address")
    ftype = spec.get("type")
    if not _is_int(address):
        raise err("address must be an integer", spec, "address", f"{fname}.address")
    if ftype not in ("uint16", "int16", "uint32", "int32", "enum", "bits", "string"):
        raise err(
            "type must be uint16, int16, uint32, int32, enum, bits or string",
            spec,
            "type",
            f"{fname}.type",
        )
    scale = spec.get("scale", 1.0)
    if isinstance(scale, bool) or not isinstance(scale, int | float) or scale == 0:
        raise err("scale must be a non-zero number", spec, "scale", f"{fname}.scale")
    length = spec.get("length", 1)
    if ftype == "string" and (not _is_int(length) or length < 1):
        raise err(
            "length (registers) must be a positive integer", spec, "length", f"{fname}.length"
        )
    values: dict[int, str] = {}
    bits: dict[int, str] = {}
    if ftype == "enum":
        raw = spec.get("values")
        if not isinstance(raw, Marked) or not raw:
            raise err("an enum needs values: {number: state}", spec, "values", f"{fname}.values")
        for k, v in raw.items():
            if not k.lstrip("-").isdigit() or v not in PUMP_STATES:
                raise err(
                    f"{k}: {v!r} is not number: one of {', '.join(PUMP_STATES)}",
                    raw,
                    k,
                    f"{fname}.values.{k}",
                )
            values[int(k)] = v
    if ftype == "bits":
        raw = spec.get("bits")
        if not isinstance(raw, Marked) or not raw:
            raise err("bits needs {bit: alarm}", spec, "bits", f"{fname}.bits")
        for k, v in raw.items():
            if not k.isdigit() or not 0 <= int(k) <= 15 or v not in ALARM_KINDS:
                raise err(
                    f"{k}: {v!r} is not bit 0-15: one of {', '.join(ALARM_KINDS)}",
                    raw,
                    k,
                    f"{fname}.bits.{k}",
                )
            bits[int(k)] = v
    fs = FieldSpec(
        name=name,
        address=address,
        type=ftype,
        scale=float(scale),
        length=int(length),
        values=values,
        bits=bits,
    )
    if address < start or address + fs.width > start + count:
        raise err(
            f"registers {address}-{address + fs.width - 1} lie outside the block "
            f"{start}-{start + count - 1}",
            spec,
            "address",
            f"{fname}.address",
        )
    return fs


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)
