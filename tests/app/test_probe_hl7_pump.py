"""`iaewatch probe --protocol hl7-pump`, run as a real process: a pump server's captured
messages (fixtures written from the IHE PCD TF) and a live pump server simulator, printed as
the Modbus pump driver's events."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from core.clock import RealClock
from simulators.hl7_pump_sender import Hl7PumpSender
from simulators.pump_state import PumpState
from tests.app.test_probe import codes, probe
from tests.support.realtime import free_port

FIXTURES = Path(__file__).parents[1] / "drivers" / "hl7" / "fixtures"


async def test_probe_reads_a_pump_server_capture(tmp_path: Path) -> None:
    capture = tmp_path / "pumps.hl7"
    names = ("ipec_deliv_start_r42.hl7", "tf2_pump_occlusion_r40.hl7", "ipec_deliv_comp_r42.hl7")
    capture.write_bytes(b"".join((FIXTURES / n).read_bytes() + b"\n" for n in names))
    code, lines, err = await probe(
        str(capture), "--protocol", "hl7-pump", "--role", "vasopressor", "--drug", "dopamine"
    )
    assert code == 0, err
    assert err.count(": AA") == 3
    assert "IAEW_DOSE_DOPAMINE" in codes(lines)
    alarms = [line["kind"] for line in lines if line.get("event") == "pump_alarm"]
    assert alarms == ["occlusion", "end_of_infusion"]
    # as the study pump, this dopamine-labelled pump (nor its alarm) is not taken without its
    # EUI-64
    code, lines, err = await probe(str(capture), "--protocol", "hl7-pump")
    assert code == 1 and not lines, err  # accepted, nothing decoded


async def test_probe_listens_to_a_live_pump_server() -> None:
    study = PumpState()
    study.start(rate_ml_h=150.0, vtbi_ml=100.0)
    sender = Hl7PumpSender({"study": study}, RealClock(), "ICU-7", interval=0.2)
    port = free_port()
    sending = asyncio.create_task(sender.run("127.0.0.1", port))
    try:
        code, lines, err = await probe(f"127.0.0.1:{port}", "--protocol", "hl7-pump", seconds=3)
    finally:
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending
    assert code == 0, err
    (start,) = [line for line in lines if line.get("event") == "infusion_start"]
    assert (start["rate_ml_h"], start["volume_ml"], start["bed"]) == (150.0, 100.0, "probe")
    assert "MDC_FLOW_FLUID_PUMP" in codes(lines)
