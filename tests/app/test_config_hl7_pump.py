"""`hl7-pump` devices in the ICU configuration: pumps behind a pump server, checked with
file, line and field, and built into a listener whose pump sources carry each pump's id."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.config import load_config
from app.devices import Weights, build_hl7_listeners
from core.clock import VirtualClock
from core.errors import ConfigError
from drivers.hl7.listener import Hl7MllpDriver

GOOD = """\
beds:
  - bed: ICU-1
    devices:
      - id: pump-study
        kind: pump
        protocol: hl7-pump
        address: 0.0.0.0:2576
        sender: {location: ICU-1, eui64: "0012210000000001"}
      - id: pump-norepi
        kind: pump
        protocol: hl7-pump
        address: 0.0.0.0:2576
        sender: {location: ICU-1}
        role: vasopressor
        drug: norepinephrine
      - id: central
        kind: monitor
        protocol: hl7-mllp
        address: 0.0.0.0:2575
        sender: {location: ICU-1}
"""


def write(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "icu.yaml"
    f.write_text(text)
    return f


def test_the_example_is_valid() -> None:
    icu = load_config(Path(__file__).parents[2] / "examples" / "hl7-pump.yaml")
    assert [d.protocol for d in icu.devices()] == ["hl7-pump", "hl7-pump", "hl7-mllp"]


def test_pump_server_devices_load_and_build_one_listener_with_pump_sources(
    tmp_path: Path,
) -> None:
    icu = load_config(write(tmp_path, GOOD))
    study, norepi, _ = icu.devices()
    assert (study.protocol, study.kind, study.profile, study.sender["eui64"]) == (
        "hl7-pump",
        "pump",
        None,
        "0012210000000001",
    )
    assert (norepi.role, norepi.drug, norepi.stale_after) == ("vasopressor", "norepinephrine", 60.0)
    weights = Weights()
    weights.by_bed["ICU-1"] = 70.0
    clock = VirtualClock(datetime(2026, 3, 1, tzinfo=UTC))
    built = build_hl7_listeners(icu.devices(), clock, tz=UTC, weights=weights)
    (pump_group, pump_listener), (monitor_group, _) = built
    assert [d.id for d in pump_group] == ["pump-study", "pump-norepi"]
    assert [d.id for d in monitor_group] == ["central"]
    assert isinstance(pump_listener, Hl7MllpDriver)
    assert pump_listener.device_id == "hl7-pump@0.0.0.0:2576"
    assert pump_listener.protocol == "hl7-pump"
    feed = pump_listener.receiver.pumps
    assert feed.serves("ICU-1")


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "words"),
    [
        (
            "        sender: {location: ICU-1}\n        role: vasopressor",
            "        sender: {location: ICU-1}\n        unit: 2\n        role: vasopressor",
            14,
            "beds[0].devices[1].unit",
            "only Modbus pumps have a unit",
        ),
        (
            '        sender: {location: ICU-1, eui64: "0012210000000001"}',
            "        sender: {location: ICU-1, eui64: 0012210000000001}",
            8,
            "beds[0].devices[0].sender.eui64",
            "must be quoted",
        ),
        (
            "        drug: norepinephrine\n",
            "",
            14,  # the role's line: the drug is missing
            "beds[0].devices[1].drug",
            "a vasopressor pump needs a drug",
        ),
        (
            "        address: 0.0.0.0:2575",
            "        address: 0.0.0.0:2576",
            19,
            "beds[0].devices[2].address",
            "already listens for hl7-pump",
        ),
        (
            '        sender: {location: ICU-1, eui64: "0012210000000001"}\n',
            "",
            6,  # the protocol's line: the sender is missing
            "beds[0].devices[0].sender",
            "hl7-pump needs the sender's identifiers",
        ),
    ],
)
def test_hl7_pump_errors_name_file_line_field(
    tmp_path: Path, old: str, new: str, line: int, field: str, words: str
) -> None:
    assert old in GOOD
    f = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(ConfigError) as info:
        load_config(f)
    e = info.value
    assert (e.file, e.line, e.field) == (str(f), line, field), str(e)
    assert words in e.message
