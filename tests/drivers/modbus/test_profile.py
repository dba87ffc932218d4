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
            "type must be",
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
        ("  battery_pct:", "  battery_level:", 26, "fields.battery_level", "unknown pump field"),
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
