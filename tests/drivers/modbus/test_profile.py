"""Profile validation names file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from drivers.modbus.profile import default_profile_path, load_profile


def test_default_profile_loads() -> None:
    p = load_profile()
    assert p.model == "iaewatch-generic-pump-v1"
    assert p.table == "holding" and (p.start, p.count) == (0, 24)
    assert {"rate_ml_h", "vtbi_ml", "volume_infused_ml", "state", "alarms", "drug"} <= set(p.fields)


def _write(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "pump.yaml"
    f.write_text(text)
    return f


@pytest.mark.parametrize(
    ("replace", "by", "line", "field", "message"),
    [
        (
            "type: uint32, scale: 0.1}   # programmed",
            "type: float32, scale: 0.1}   # programmed",
            16,
            "fields.rate_ml_h.type",
            "must be one of uint16",
        ),
        ("table: holding", "table: coils", 12, "table", "holding"),
        (
            "{address: 16, type: uint32",
            "{address: 30, type: uint32",
            25,
            "fields.concentration_ug_ml.address",
            "outside the block",
        ),
        ("3: end_of_infusion", "3: end_of_story", 23, "fields.alarms.bits.3", "end_of_story"),
        (
            "  battery_pct:",
            "  battery_level:",
            26,
            "fields.battery_level",
            "unknown pump field (did you mean 'battery_pct'?)",
        ),
        ("{start: 0, count: 24}", "{start: 0, count: 200}", 13, "block.count", "≤ 125"),
        (
            "type: string, length: 4}",
            "type: uint16, length: 4}",
            27,
            "fields.serial_number.length",
            "only for type string",
        ),
        ("0: stopped", "9x: stopped", 20, "fields.state.values.9x", "not a number 0-65535"),
        ("word_order: big", "word_order: middle", 14, "word_order", "big, little"),
        ("{start: 0, count: 24}", "{start: false, count: 24}", 13, "block.start", "boolean"),
        ("model: iaewatch-generic-pump-v1", "model: ''", 9, "model", "non-empty text"),
    ],
)
def test_errors_name_file_line_field(
    tmp_path: Path,
    replace: str,
    by: str,
    line: int,
    field: str,
    message: str,
) -> None:
    text = default_profile_path().read_text()
    assert replace in text
    f = _write(tmp_path, text.replace(replace, by))
    with pytest.raises(ConfigError) as info:
        load_profile(f)
    err = info.value
    assert (err.file, err.line, err.field) == (str(f), line, field)
    assert message in err.message
    assert str(err).startswith(f"{f}:{line}: {field}: ")


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    f = _write(tmp_path, "model: x\ntable: [holding\n")
    with pytest.raises(ConfigError) as info:
        load_profile(f)
    assert info.value.file == str(f) and info.value.line is not None


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_profile(tmp_path / "nope.yaml")


_RATE = "{address: 0,  type: uint32, scale: 0.1}"


@pytest.mark.parametrize(
    ("by", "line", "field", "message"),
    [
        ("{address: 0, type: uint32, scale: .nan}", 16, "fields.rate_ml_h.scale", "finite"),
        ("{address: 0, type: uint32, scale: -.inf}", 16, "fields.rate_ml_h.scale", "finite"),
        ("{address: 0, type: uint32, scale: true}", 16, "fields.rate_ml_h.scale", "boolean"),
        ("{address: 0, type: uint32, scale: 0}", 16, "fields.rate_ml_h.scale", "non-zero"),
        ("{address: true, type: uint32}", 16, "fields.rate_ml_h.address", "boolean"),
        ("{address: 0.5, type: uint32}", 16, "fields.rate_ml_h.address", "whole number"),
    ],
)
def test_numbers_are_finite_and_never_booleans(
    tmp_path: Path, by: str, line: int, field: str, message: str
) -> None:
    """A NaN, an infinity or a boolean where a number belongs is refused, naming file:line:field."""
    text = default_profile_path().read_text()
    assert _RATE in text
    f = _write(tmp_path, text.replace(_RATE, by))
    with pytest.raises(ConfigError) as info:
        load_profile(f)
    err = info.value
    assert (err.file, err.line, err.field) == (str(f), line, field)
    assert message in err.message
    assert str(err).startswith(f"{f}:{line}: {field}: ")
