"""HL7 listeners from the ICU file: the site's zone for times without an offset, and what
each PCD-04 sender gets back (ORA^R41 or ACK^R40)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.config import load_config
from app.devices import build_hl7_listeners
from core.clock import VirtualClock
from core.errors import ConfigError
from drivers.hl7.listener import Hl7MllpDriver

ICU = """\
site: {name: Test ICU, timezone: Asia/Shanghai}
beds:
  - bed: ICU-1
    devices:
      - id: central
        kind: monitor
        protocol: hl7-mllp
        address: 127.0.0.1:2575
        sender: {location: "ICU^^1"}
        pcd04_reply: ACK^R40
  - bed: ICU-2
    devices:
      - id: central-2
        kind: monitor
        protocol: hl7-mllp
        address: 127.0.0.1:2575
        sender: {location: "ICU^^2"}
"""

R40 = (
    "MSH|^~\\&|CENTRAL||IAEWATCH||20260301160000||ORU^R40^ORU_R40|A1|P|2.6\r"
    "PV1||I|{bed}\r"
    "OBR|1|A1||196616^MDC_EVT_ALARM^MDC|||20260301160000\r"
    "OBX|1|CWE|196616^MDC_EVT_ALARM^MDC|1.1.1.1.1|^MDC_EVT_ECG_V_TACHY^MDC|||PH~SP|||R\r"
)


def listener(tmp_path: Path, text: str = ICU) -> Hl7MllpDriver:
    f = tmp_path / "icu.yaml"
    f.write_text(text)
    config = load_config(f)
    ((_, driver),) = build_hl7_listeners(config.devices(), VirtualClock(), tz=config.site.tz)
    assert isinstance(driver, Hl7MllpDriver)
    return driver


def test_site_zone_and_reply_per_sender(tmp_path: Path) -> None:
    rc = listener(tmp_path).receiver
    assert rc.assume_tz == ZoneInfo("Asia/Shanghai")
    now = datetime(2026, 3, 1, 8, 0, 5, tzinfo=UTC)
    one = rc.receive(R40.format(bed="ICU^^1").encode(), now)
    two = rc.receive(R40.format(bed="ICU^^2").encode(), now)
    assert b"|ACK^R40^ACK|" in one.ack
    assert b"|ORA^R41^ORA_R41|" in two.ack
    (arrhythmia,) = [o for o in one.outputs if getattr(o, "event", "") == "arrhythmia"]
    assert arrhythmia.t == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)  # 16:00 in Shanghai


def test_unknown_reply_names_file_line_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        listener(tmp_path, ICU.replace("pcd04_reply: ACK^R40", "pcd04_reply: ACK^R41"))
    assert info.value.field == "beds[0].devices[0].pcd04_reply"
    assert info.value.line == 10


def test_only_hl7_devices_have_a_reply(tmp_path: Path) -> None:
    text = ICU.replace("protocol: hl7-mllp", "protocol: intellivue", 1).replace(
        'address: 127.0.0.1:2575\n        sender: {location: "ICU^^1"}', "address: /dev/ttyUSB0"
    )
    with pytest.raises(ConfigError) as info:
        listener(tmp_path, text)
    assert info.value.field == "beds[0].devices[0].pcd04_reply"
