"""`iaewatch probe` against each simulator over TCP and over a pty, run as a real process:
JSON Lines in the replay format on stdout, exit 0 / 1 / 2 as documented."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from core.clock import RealClock
from core.records import parse_record
from simulators.intellivue_monitor import IntellivueSimulator
from simulators.nullmodem import pty_null_modem
from simulators.pump import PumpSimulator
from simulators.pump_state import PumpState
from simulators.source import DEFAULT_ADULT_ARDS, FixedVitals
from simulators.ventilator import VentilatorSimulator

CLOCK = RealClock()


async def probe(*args: str, seconds: float = 2.5) -> tuple[int, list[dict[str, Any]], str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from app.cli import main; main()",
        "probe",
        *args,
        "--seconds",
        str(seconds),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), seconds + 30)
    lines = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    for n, line in enumerate(out.decode().splitlines(), 1):
        parse_record(line, line=n)  # every line is a valid replay record
    assert proc.returncode is not None
    return proc.returncode, lines, err.decode()


def codes(lines: list[dict[str, Any]]) -> set[str]:
    return {line["code"] for line in lines if "code" in line}


@pytest.fixture
def vitals() -> FixedVitals:
    return FixedVitals(values=dict(DEFAULT_ADULT_ARDS))


async def test_probe_pump_over_tcp() -> None:
    state = PumpState(vtbi_ml=100.0)
    state.start(rate_ml_h=150.0)
    sim = PumpSimulator({1: state}, CLOCK)
    port = await sim.serve_tcp()
    try:
        code, lines, err = await probe(f"127.0.0.1:{port}", "--protocol", "modbus-tcp", seconds=2.5)
    finally:
        await sim.close()
    assert code == 0, err
    assert {"MDC_FLOW_FLUID_PUMP", "MDC_VOL_FLUID_TBI"} <= codes(lines)
    assert all(line["bed"] == "probe" for line in lines)
    assert "connected" in err and "iaewatch-generic-pump-v1" in err and "bad_frames=0" in err


async def test_probe_pump_rtu_over_a_pty() -> None:
    state = PumpState(role="vasopressor", drug="norepinephrine", concentration_ug_ml=40.0)
    state.start(rate_ml_h=15.0)
    async with pty_null_modem() as (sim_path, probe_path):
        sim = PumpSimulator({2: state}, CLOCK)
        await sim.serve_rtu(sim_path, parity="N")
        try:
            code, lines, err = await probe(
                probe_path,
                "--protocol",
                "modbus-rtu",
                "--unit",
                "2",
                "--role",
                "vasopressor",
                "--parity",
                "N",
                seconds=2.5,
            )
        finally:
            await sim.close()
    assert code == 0, err
    doses = [ln for ln in lines if ln.get("code") == "IAEW_DOSE_NOREPINEPHRINE"]
    assert doses and doses[0]["value"] == 10.0 and doses[0]["unit"] == "ug/min"


async def test_probe_ventilator_over_tcp_and_pty(vitals: FixedVitals) -> None:
    sim = VentilatorSimulator(vitals, CLOCK)
    await sim.serve_tcp()
    path = await sim.serve_pty()
    try:
        code, lines, err = await probe(f"socket://127.0.0.1:{sim.port}", "--protocol", "medibus")
        assert code == 0, err
        assert {"MDC_VENT_CONC_AWAY_O2_INSP", "MDC_PRESS_AWAY_END_EXP_POS"} <= codes(lines)
        assert "Evita4" in err
        code, lines, err = await probe(path, "--protocol", "medibus", "--parity", "N")
        assert code == 0, err
        assert "MDC_PRESS_AWAY_END_EXP_POS" in codes(lines)
    finally:
        await sim.close()


async def test_probe_monitor_over_tcp_and_pty(vitals: FixedVitals) -> None:
    sim = IntellivueSimulator(vitals, CLOCK)
    port = await sim.serve_tcp()
    try:
        code, lines, err = await probe(f"socket://127.0.0.1:{port}", "--protocol", "intellivue")
        assert code == 0, err
        assert {"MDC_PULS_OXIM_SAT_O2", "MDC_ECG_HEART_RATE"} <= codes(lines)
    finally:
        await sim.close()
    sim = IntellivueSimulator(vitals, CLOCK)
    path = await sim.serve_pty()
    try:
        code, lines, err = await probe(path, "--protocol", "intellivue")
        assert code == 0, err
        assert "MDC_PULS_OXIM_SAT_O2" in codes(lines)
    finally:
        await sim.close()


async def test_probe_connected_but_nothing_decoded_exits_1() -> None:
    sim = IntellivueSimulator(FixedVitals(values={}), CLOCK)  # a monitor with no sensor on
    port = await sim.serve_tcp()
    try:
        code, lines, err = await probe(
            f"socket://127.0.0.1:{port}", "--protocol", "intellivue", seconds=2.5
        )
    finally:
        await sim.close()
    assert code == 1, err
    assert not codes(lines)
    assert lines and lines[0]["event"] == "device_connected"


async def test_probe_where_nothing_listens_exits_2() -> None:
    code, lines, err = await probe("127.0.0.1:9", "--protocol", "modbus-tcp", seconds=2)
    assert code == 2
    assert lines == []
    assert "127.0.0.1:9" in err and "Traceback" not in err


async def test_probe_unknown_protocol_is_a_clear_error() -> None:
    code, _, err = await probe("127.0.0.1:9", "--protocol", "philips", seconds=1)
    assert code == 2 and "unknown protocol 'philips'" in err and "Traceback" not in err


async def test_probe_hl7_listens_and_acknowledges(vitals: FixedVitals) -> None:
    import socket

    from simulators.hl7_sender import Hl7Sender

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sender = Hl7Sender(vitals, CLOCK, bed_location="ICU-7", interval=0.5, reconnect_delay=0.2)
    sending = asyncio.create_task(sender.run("127.0.0.1", port))
    try:
        code, lines, err = await probe(f"127.0.0.1:{port}", "--protocol", "hl7-mllp", seconds=3)
    finally:
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending
    assert code == 0, err
    assert {"MDC_PULS_OXIM_SAT_O2", "MDC_ECG_HEART_RATE"} <= codes(lines)
    assert all(line["bed"] == "probe" for line in lines if "code" in line)


async def test_probe_reads_an_hl7_capture_demo_mode_and_vendor_codes(tmp_path: Path) -> None:
    """A site's captured messages (fixtures after GE samples and a demo-mode station), decoded
    offline as the listener would: demo data kept out, vendor EtCO2 read, a conflict flagged."""
    fixtures = Path(__file__).parents[1] / "drivers" / "hl7" / "fixtures"
    capture = tmp_path / "capture.hl7"
    capture.write_bytes(
        b"".join(
            (fixtures / name).read_bytes() + b"\n"
            for name in ("demo_training_r01.hl7", "ge_b1x5_co2.hl7", "mural_advisory_r40.hl7")
        )
    )
    code, lines, err = await probe(
        str(capture), "--protocol", "hl7-mllp", "--timezone", "Asia/Shanghai", seconds=1
    )
    assert code == 0, err
    events = {line["event"]: line for line in lines if "event" in line}
    demo = [line for line in lines if line.get("event") == "device_demo_mode"]
    assert [line["active"] for line in demo] == [True, False]  # real data came back after
    assert demo[0]["reason"] == "MSH-11 processing id T"
    assert events["device_code_conflict"]["obx3"] == "150456^MDC_CO2_ET"
    assert events["device_alarm"]["alarm"] == "MDCX_EVT_ALERT_ADVISORY"
    etco2 = [line for line in lines if line.get("code") == "MDC_AWAY_CO2_ET"]
    assert [line["value"] for line in etco2] == [41.0, 40.0]
    assert {line["t"] for line in etco2} == {"2026-03-01T08:00:00Z"}  # 16:00 in Shanghai
    assert "MDC_PULS_OXIM_SAT_O2" not in codes(lines)  # neither the demo SpO2 nor GE's 150456
    assert "message 1 (DEMO-1): AA" in err and "message 2 (GEB125-0001): AA" in err


async def test_probe_hl7_unknown_zone_is_a_clear_error(tmp_path: Path) -> None:
    code, _, err = await probe("127.0.0.1:0", "--protocol", "hl7-mllp", "--timezone", "Mars/Base")
    assert code == 2 and "unknown time zone 'Mars/Base'" in err and "Traceback" not in err
