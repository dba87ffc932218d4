"""Pump register profiles: which registers hold which pump field, as data (YAML).

A profile names the register table, the one block read per poll, the 32-bit word order and,
per field, its address, type (uint16, int16, uint32, int32, enum, bits, string) and scale.
Known fields: rate_ml_h, vtbi_ml, volume_infused_ml, state, alarms, drug,
concentration_ug_ml, battery_pct, serial_number, and the pump's own programme time:
infusion_started_at (Unix seconds, UTC) or infusion_elapsed_s (seconds since the programme
started), infusion_stopped_at (Unix seconds, UTC: when it stopped or completed) and volume_at
(Unix seconds, UTC: when the volume counter was read). `rate_ml_h` is required; others optional.
Validated with `core.check.Checker`: errors name file, line and field; numbers are finite.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast

from core.check import Checker, join
from core.vocabulary import PUMP_ALARM_KINDS, suggest
from core.yamlfile import Marked, read_marked

FieldType = Literal["uint16", "int16", "uint32", "int32", "enum", "bits", "string"]
FIELD_TYPES: tuple[FieldType, ...] = (
    "uint16",
    "int16",
    "uint32",
    "int32",
    "enum",
    "bits",
    "string",
)
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
    "infusion_started_at",
    "infusion_elapsed_s",
    "infusion_stopped_at",
    "volume_at",
)
PUMP_STATES = ("stopped", "running", "paused", "alarm", "completed")
DEFAULT_PROFILE = "iaewatch_generic_pump_v1.yaml"
_TOP_KEYS = ("model", "manufacturer", "description", "table", "block", "word_order", "fields")
_FIELD_KEYS = ("address", "type", "scale", "length", "values", "bits")
_TYPE_KEYS = {"string": "length", "enum": "values", "bits": "bits"}  # keys of one type only
MAX_READ = 125  # registers in one Modbus read (function 3 or 4)


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
    """A profile from its YAML tree (`core.yamlfile`), or a ConfigError naming where it is bad."""
    c = Checker(file)
    if not isinstance(data, Marked):
        c.fail("a profile must be a mapping", 1)
    c.keys(data, "", _TOP_KEYS, required=("model", "table", "block", "fields"))
    model = c.text(data["model"], data.line_of("model"), "model")
    manufacturer = c.get(data, "manufacturer", "", c.text, "")
    c.get(data, "description", "", c.text)
    table = c.choice(data["table"], data.line_of("table"), "table", ("holding", "input"))
    word_order = c.get(data, "word_order", "", partial(c.choice, choices=("big", "little")), "big")
    block = c.mapping(data["block"], data.line_of("block"), "block")
    c.keys(block, "block", ("start", "count"), required=("start", "count"))
    start = c.integer(
        block["start"], block.line_of("start"), "block.start", minimum=0, maximum=0xFFFF
    )
    count = c.integer(
        block["count"], block.line_of("count"), "block.count", minimum=1, maximum=MAX_READ
    )
    if start + count > 0x10000:
        c.fail("the block runs past register 65535", block.line_of("count"), "block.count")
    raw = c.mapping(data["fields"], data.line_of("fields"), "fields")
    fields: dict[str, FieldSpec] = {}
    for name, spec in raw.items():
        here = join("fields", name)
        if name not in KNOWN_FIELDS:
            c.fail(
                f"unknown pump field{suggest(name, KNOWN_FIELDS)} "
                f"(known: {', '.join(KNOWN_FIELDS)})",
                raw.line_of(name),
                here,
            )
        fields[name] = _field(c, name, spec, raw.line_of(name), range(start, start + count))
    if "rate_ml_h" not in fields:
        c.fail("a profile must map rate_ml_h", data.line_of("fields"), "fields.rate_ml_h")
    return PumpProfile(
        model=model,
        manufacturer=manufacturer or "",
        table=cast(Literal["holding", "input"], table),
        start=start,
        count=count,
        word_order=cast(Literal["big", "little"], word_order),
        fields=fields,
        source=file,
    )


def _field(c: Checker, name: str, spec: Any, line: int, block: range) -> FieldSpec:
    here = join("fields", name)
    m = c.mapping(spec, line, here)
    c.keys(m, here, _FIELD_KEYS, required=("address", "type"))
    address = c.integer(
        m["address"], m.line_of("address"), join(here, "address"), minimum=0, maximum=0xFFFF
    )
    ftype = cast(FieldType, c.choice(m["type"], m.line_of("type"), join(here, "type"), FIELD_TYPES))
    for key, only_for in _TYPE_KEYS.items():
        if key != ftype and only_for in m:
            c.fail(f"only for type {key}", m.line_of(only_for), join(here, only_for))
    scale = c.get(m, "scale", here, partial(_scale, c), 1.0)
    length = c.get(m, "length", here, partial(c.integer, minimum=1), 1)
    values: dict[int, str] = {}
    bits: dict[int, str] = {}
    if ftype == "enum":
        values = _numbered(c, m, here, "values", 0xFFFF, PUMP_STATES)
    if ftype == "bits":
        bits = _numbered(c, m, here, "bits", 15, PUMP_ALARM_KINDS)
    fs = FieldSpec(
        name=name,
        address=address,
        type=ftype,
        scale=scale or 1.0,
        length=length or 1,
        values=values,
        bits=bits,
    )
    if address < block.start or address + fs.width > block.stop:
        c.fail(
            f"registers {address}-{address + fs.width - 1} lie outside the block "
            f"{block.start}-{block.stop - 1}",
            m.line_of("address"),
            join(here, "address"),
        )
    return fs


def _scale(c: Checker, obj: Any, line: int, field: str) -> float:
    value = c.number(obj, line, field, minimum=None)
    if value == 0:
        c.fail("must be a non-zero number", line, field)
    return value


def _numbered(
    c: Checker, m: Marked, here: str, key: str, top: int, choices: tuple[str, ...]
) -> dict[int, str]:
    """An enum's `values` or a bit field's `bits`: {number 0-top: one of choices}."""
    path = join(here, key)
    if key not in m:
        c.fail(f"is required for type {m['type']} ({{number: name}})", m.line, path)
    raw = c.mapping(m[key], m.line_of(key), path)
    if not raw:
        c.fail("must map at least one number to a name", m.line_of(key), path)
    out: dict[int, str] = {}
    for k, v in raw.items():
        line, field = raw.line_of(k), join(path, k)
        if not k.isdigit() or int(k) > top:
            c.fail(f"{k!r} is not a number 0-{top}", line, field)
        out[int(k)] = c.choice(v, line, field, choices)
    return out
