"""The HL7 sender simulator: what it sends when, and how it treats acknowledgements (over the
in-memory link, on the virtual clock)."""

from __future__ import annotations

import asyncio
import contextlib

from hl7apy import parser as hl7apy_parser
from hl7apy.consts import VALIDATION_LEVEL

from core.clock import VirtualClock
from drivers.hl7 import mdc
from drivers.hl7.message import build_ack, parse_message
from drivers.hl7.mllp import MllpDecoder, frame
from drivers.hl7.pcd import decode_report
from drivers.hl7.pcd_write import Patient
from simulators.faults import Faults
from simulators.hl7_sender import Hl7Sender
from simulators.memlink import MemoryServer, run_for, run_until
from simulators.source import DEFAULT_ADULT_ARDS, FixedVitals


def kinds(sender: Hl7Sender) -> list[tuple[str, str]]:
    out = []
    for _, payload in sender.due_messages():
        rep = decode_report(parse_message(payload))
        phase = rep.alarms[0].phase + ":" + str(rep.alarms[0].rhythm) if rep.alarms else ""
        out.append((rep.header.trigger, phase))
    return out


async def test_numerics_every_tick_and_alarm_phases(vclock: VirtualClock) -> None:
    vitals = FixedVitals(dict(DEFAULT_ADULT_ARDS))
    s = Hl7Sender(vitals, vclock, "ICU^^3", alarm_repeat=10.0)
    first = s.due_messages()
    assert len(first) == 1
    rep = decode_report(parse_message(first[0][1]))
    assert rep.location == "ICU^^3"
    # what a central station sends: every parameter with a numeric code (blood temperature
    # as MDC_TEMP, as GE's samples do); ventilator settings are not a monitor's
    want = {c: v for c, v in DEFAULT_ADULT_ARDS.items() if c in mdc.WRITTEN_NUMBERS}
    want["MDC_TEMP"] = want.pop("MDC_TEMP_BLD")
    assert {m.code: m.value for m in rep.metrics} == want
    vitals.rhythms = ["VF", "AF"]  # AF is not sent as a PCD-04 alarm by this simulator
    assert kinds(s) == [("R40", "start:VF"), ("R01", "")]
    await vclock.advance(5)
    assert kinds(s) == [("R01", "")]
    await vclock.advance(5)
    assert kinds(s) == [("R40", "continue:VF"), ("R01", "")]
    vitals.rhythms = []
    assert kinds(s) == [("R40", "end:VF"), ("R01", "")]
    assert kinds(s) == [("R01", "")]
    ids = [cid for cid, _ in s.due_messages() + s.due_messages()]
    assert len(set(ids)) == 2


async def test_waits_for_its_own_ack_and_counts_codes(vclock: VirtualClock) -> None:
    """A tiny listener: first answers someone else's id, then AE for ours; then drops."""
    got: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        dec = MllpDecoder()
        while data := await reader.read(4096):
            dec.feed(data)
            for payload in dec.frames_available():
                got.append(payload)
                msg = parse_message(payload)
                other = build_ack(None, "AA", control_id="x", now=vclock.now())
                mine = build_ack(msg, "AE", control_id="y", now=vclock.now(), text="no")
                writer.write(frame(other) + frame(mine))
                await writer.drain()
                writer.close()
                return

    faults = Faults(garbage=True)
    s = Hl7Sender(FixedVitals({"MDC_ECG_HEART_RATE": 70.0}), vclock, "B", faults=faults)
    async with MemoryServer(serve, vclock, name="listener") as link:
        task = asyncio.create_task(s.run_over(link.connect))
        try:
            await run_until(vclock, lambda: s.acks["AE"] >= 1, timeout=3.0)
            assert s.acks == {"AE": 1}
            assert s.sent == 1 and s.connections == 1
            assert len(got) == 1  # the garbage before the frame did not reach the decoder
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_drop_fault_keeps_it_away(vclock: VirtualClock) -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    faults = Faults(drop=True)
    s = Hl7Sender(FixedVitals({"MDC_ECG_HEART_RATE": 70.0}), vclock, "B", faults=faults)
    async with MemoryServer(serve, vclock, name="listener") as link:
        task = asyncio.create_task(s.run_over(link.connect))
        try:
            await run_for(vclock, 5.0)
            assert link.accepted == 0 and s.connections == 0
            faults.drop = False  # it was waiting all along: it connects within one interval
            await run_until(vclock, lambda: link.accepted >= 1, timeout=s.interval + 0.05)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


STRICT = VALIDATION_LEVEL.STRICT


def _strict(message: bytes) -> None:
    """hl7apy (an independent HL7 v2.6 implementation) in strict mode: PCD-01 as a whole
    message; PCD-04 segment by segment (hl7apy's 2.6 tables have no ORU_R40 structure)."""
    text = message.decode()
    if parse_message(message).message_type[1] == "R01":
        assert hl7apy_parser.parse_message(text, validation_level=STRICT).validate()
        return
    for line in text.strip("\r").split("\r"):
        assert hl7apy_parser.parse_segment(line, version="2.6", validation_level=STRICT).validate()


async def test_output_passes_hl7apy_strict_and_carries_what_pcd_asks(vclock: VirtualClock) -> None:
    vitals = FixedVitals(dict(DEFAULT_ADULT_ARDS), rhythms=["VT"])
    s = Hl7Sender(vitals, vclock, "ICU^^3", patient=Patient(id="MRN42", authority="HOSP"))
    messages = [m for _, m in s.due_messages()]
    assert [parse_message(m).message_type[1] for m in messages] == ["R40", "R01"]
    for message in messages:
        _strict(message)
        msg = parse_message(message)
        pid = msg.first("PID")
        assert pid is not None and pid.text(3) == "MRN42^^^HOSP^MR" and pid.field(5)
        for obx in msg.all("OBX"):
            assert obx.component(3, 1).isdigit(), obx.fields  # MDC numeric code
            assert obx.component(18, 4) == "EUI-64" and obx.component(18, 1) == s.device_eui64
            if obx.component(2, 1) == "NM":
                assert obx.component(6, 1).isdigit(), obx.fields  # unit code
    r40 = parse_message(messages[0])
    assert r40.msh.component(21, 1) == "IHE_PCD_ACM_001"
    facets = {obx.component(3, 2): obx.text(5) for obx in r40.all("OBX")}
    assert facets["MDC_ATTR_ALARM_INACTIVATION_STATE"] == "enabled"
    assert facets["MDC_ATTR_ALERT_TYPE"] == "SP"
    assert facets["MDC_ATTR_EVENT_PHASE"] == "start"
