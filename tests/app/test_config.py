"""The ICU configuration: the shipped example is valid; each kind of error names file, line
and field, both from `load_config` and from `iaewatch config check` (exit 2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.config import load_config
from core.errors import ConfigError

EXAMPLE = Path(__file__).parents[2] / "examples" / "iaewatch.yaml"

GOOD = """\
beds:
  - bed: ICU-9
    devices:
      - id: pump
        kind: pump
        protocol: modbus-rtu
        address: /dev/ttyUSB0
        unit: 2
      - id: norepi
        kind: pump
        protocol: modbus-tcp
        address: 10.0.0.5:502
        role: vasopressor
        drug: Norepinephrine
        concentration_ug_ml: 64
      - id: vent
        kind: ventilator
        protocol: medibus
        address: /dev/ttyUSB1
        serial: {baud: 9600, parity: E}
      - id: mon
        kind: monitor
        protocol: intellivue
        address: rfc2217://10.0.0.9:4001
"""


def write(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "icu.yaml"
    f.write_text(text)
    return f


def test_example_is_valid() -> None:
    icu = load_config(EXAMPLE)
    assert [b.bed for b in icu.beds] == ["ICU-1", "ICU-2", "ICU-3", "ICU-4"]
    protocols = {d.protocol for d in icu.devices()}
    assert protocols == {"modbus-tcp", "medibus", "intellivue", "hl7-mllp"}


def test_good_file_parses_every_setting(tmp_path: Path) -> None:
    icu = load_config(write(tmp_path, GOOD))
    pump, norepi, vent, mon = icu.beds[0].devices
    assert pump.unit == 2 and pump.serial is not None and pump.serial.parity == "E"
    assert norepi.drug == "norepinephrine" and norepi.concentration_ug_ml == 64.0
    assert vent.serial is not None and vent.serial.baudrate == 9600
    assert mon.serial is not None and mon.serial.baudrate == 115200  # IntelliVue default


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "words"),
    [
        (
            "protocol: intellivue",
            "protocol: philips",
            23,
            "beds[0].devices[3].protocol",
            "unknown protocol",
        ),
        (
            "address: /dev/ttyUSB1",
            "address: COM-one",
            19,
            "beds[0].devices[2].address",
            "not a serial URL",
        ),
        (
            "address: 10.0.0.5:502",
            "address: 10.0.0.5",
            12,
            "beds[0].devices[1].address",
            "not a host:port",
        ),
        (
            "        unit: 2\n",
            "        unit: 2\n        profile: nowhere.yaml\n",
            9,
            "beds[0].devices[0].profile",
            "not found",
        ),
        (
            "address: /dev/ttyUSB1",
            "address: /dev/ttyUSB0",
            19,
            "beds[0].devices[2].address",
            "already used by ICU-9/pump",
        ),
        ("        drug: Norepinephrine\n", "", 13, "beds[0].devices[1].drug", "needs a drug"),
        ("drug: Norepinephrine", "drug: ketamine", 14, "beds[0].devices[1].drug", "needs a drug"),
        (
            "serial: {baud: 9600, parity: E}",
            "serial: {baud: 9600, flow: rts}",
            20,
            "beds[0].devices[2].serial.flow",
            "unknown key",
        ),
        # numbers are finite: a NaN stale time would make a device unable to go stale
        (
            "        address: 10.0.0.5:502\n",
            "        address: 10.0.0.5:502\n        stale_after: .nan\n",
            13,
            "beds[0].devices[1].stale_after",
            "finite",
        ),
        # a Modbus poll interval out of range names its limits (no KeyError)
        (
            "        address: 10.0.0.5:502\n",
            "        address: 10.0.0.5:502\n        poll_interval: 7200\n",
            13,
            "beds[0].devices[1].poll_interval",
            "polls every",
        ),
        ("kind: ventilator", "kind: ventilatr", 17, "beds[0].devices[2].kind", "for a ventilator"),
        ("protocol: medibus", "protocol: medibuss", 18, "beds[0].devices[2].protocol", "'medibus'"),
    ],
)
def test_errors_name_file_line_field(
    tmp_path: Path,
    old: str,
    new: str,
    line: int,
    field: str,
    words: str,
) -> None:
    assert old in GOOD
    f = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(ConfigError) as info:
        load_config(f)
    e = info.value
    assert (e.file, e.line, e.field) == (str(f), line, field), str(e)
    assert words in e.message


def test_bed_without_monitor(tmp_path: Path) -> None:
    text = GOOD.split("      - id: mon")[0]
    f = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(f)
    assert info.value.field == "beds[0].devices" and "no monitor" in info.value.message
    assert info.value.line == 3


def test_hl7_needs_a_sender(tmp_path: Path) -> None:
    f = write(
        tmp_path,
        GOOD.replace(
            "protocol: intellivue\n        address: rfc2217://10.0.0.9:4001",
            "protocol: hl7-mllp\n        address: 0.0.0.0:2575",
        ),
    )
    with pytest.raises(ConfigError) as info:
        load_config(f)
    assert info.value.field == "beds[0].devices[3].sender"


def test_cli_check_exit_codes(tmp_path: Path) -> None:
    cli = [sys.executable, "-c", "from app.cli import main; main()", "config", "check"]
    ok = subprocess.run([*cli, str(EXAMPLE)], capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and "OK" in ok.stdout
    bad = write(tmp_path, GOOD.replace("protocol: intellivue", "protocol: philips"))
    res = subprocess.run([*cli, str(bad)], capture_output=True, text=True, check=False)
    assert res.returncode == 2
    assert res.stderr.strip() == (
        f"error: {bad}:23: beds[0].devices[3].protocol: unknown protocol 'philips' "
        "(known: modbus-tcp, modbus-rtu, hl7-pump, medibus, intellivue, hl7-mllp)"
    )
    assert "Traceback" not in res.stderr


def test_intellivue_poll_interval_limits(tmp_path: Path) -> None:
    f = write(
        tmp_path,
        GOOD.replace(
            "address: rfc2217://10.0.0.9:4001",
            "address: rfc2217://10.0.0.9:4001\n        poll_interval: 0.5",
        ),
    )
    with pytest.raises(ConfigError) as info:
        load_config(f)
    assert info.value.field == "beds[0].devices[3].poll_interval"
    assert "1-5 s" in info.value.message


HL7_TWO_BEDS = """\
beds:
  - bed: ICU-1
    devices:
      - {id: central, kind: monitor, protocol: hl7-mllp, address: "0.0.0.0:2575",
         sender: {location: BED-A}}
  - bed: ICU-2
    devices:
      - {id: central, kind: monitor, protocol: hl7-mllp, address: "0.0.0.0:2575",
         sender: {location: BED-B}}
"""


def test_hl7_defaults_and_sender_clash(tmp_path: Path) -> None:
    icu = load_config(write(tmp_path, HL7_TWO_BEDS))
    assert all(d.stale_after == 60.0 for d in icu.devices())  # a central sends less often
    f = write(tmp_path, HL7_TWO_BEDS.replace("location: BED-B", "location: BED-A"))
    with pytest.raises(ConfigError) as info:
        load_config(f)
    assert (info.value.line, info.value.field) == (9, "beds[1].devices[0].sender")
    assert "already maps to ICU-1" in info.value.message


def test_site_defaults_to_utc_and_reads_the_zone(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, GOOD)).site.timezone == "UTC"
    site = load_config(EXAMPLE).site
    assert (site.name, site.timezone) == ("Guangzhou ICU", "Asia/Shanghai")
    assert str(site.tz) == "Asia/Shanghai"


def test_unknown_site_zone_names_the_line(tmp_path: Path) -> None:
    f = write(tmp_path, "site:\n  timezone: Asia/Canton\n" + GOOD)
    with pytest.raises(ConfigError) as info:
        load_config(f)
    assert (info.value.line, info.value.field) == (2, "site.timezone")
    assert "Asia/Shanghai" in info.value.message
