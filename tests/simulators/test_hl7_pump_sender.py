"""The pump server simulator: what it sends as a pump's state changes (each message strict
HL7 to hl7apy and read back by our decoder), and end to end over a real TCP MLLP listener
built from the ICU config: the bus gets the Modbus driver's events and the trial's order
check judges the programme."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from app.config import load_config
from app.devices import Weights, build_hl7_listeners, pump_into
from core.bus import InProcessBus
from core.clock import RealClock, VirtualClock
from core.model import Alert, DeviceEvent, Observation
from drivers.hl7.message import parse_message
from drivers.hl7.pcd import decode_report
from drivers.hl7.pump import decode_pump
from monitors.trial.order_check import PROGRAMME_RULE, OrderCheck
from simulators.hl7_pump_sender import Hl7PumpSender
from simulators.pump_state import PumpState
from tests.drivers.hl7.test_pump import strict
from tests.support.realtime import free_port


def sent(sender: Hl7PumpSender) -> list[tuple[str, str]]:
    """(trigger, what it says) of each message due, each checked strictly and read back."""
    out = []
    for _, payload in sender.due_messages():
        strict(payload)
        report = decode_report(parse_message(payload))
        message = decode_pump(report)
        if report.header.trigger == "R40":
            (alarm,) = message.alarms
            out.append(("R40", f"{alarm.kind}:{'on' if alarm.active else 'off'}"))
        elif report.header.trigger == "R42":
            (pump,) = message.pumps
            out.append(("R42", f"{message.event}:{pump.state}:{pump.rate_ml_h}"))
        else:
            out.append(("R01", ",".join(str(p.state) for p in message.pumps)))
    return out


async def test_state_changes_become_ipec_events_alarms_and_status(vclock: VirtualClock) -> None:
    study = PumpState()
    sender = Hl7PumpSender({"study": study}, vclock, "ICU^^1", status_every=30.0)
    assert sent(sender) == [("R01", "stopped")]
    study.start(rate_ml_h=150.0, vtbi_ml=100.0)
    assert sent(sender) == [("R42", "MDC_EVT_PUMP_DELIV_START:running:150.0")]
    study.raise_alarm("occlusion")
    assert sent(sender) == [
        ("R40", "occlusion:on"),
        ("R42", "MDC_EVT_PUMP_DELIV_STOP:alarm:150.0"),
    ]
    study.clear_alarm("occlusion")
    study.start(rate_ml_h=150.0)
    assert sent(sender) == [
        ("R40", "occlusion:off"),
        ("R42", "MDC_EVT_PUMP_DELIV_START:running:150.0"),
    ]
    study.start(rate_ml_h=120.0)  # a titration: a transitioning stop, then the new programme
    assert sent(sender) == [
        ("R42", "MDC_EVT_PUMP_DELIV_STOP:None:150.0"),
        ("R42", "MDC_EVT_PUMP_DELIV_START:running:120.0"),
    ]
    await vclock.advance(30.0)
    study.advance(3600.0)  # reaches the VTBI
    assert sent(sender) == [
        ("R42", "MDC_EVT_PUMP_DELIV_COMP:completed:120.0"),
        ("R01", "completed"),
    ]


CONFIG = """\
beds:
  - bed: ICU-1
    devices:
      - id: pump-study
        kind: pump
        protocol: hl7-pump
        address: 127.0.0.1:{port}
        sender: {{location: "ICU^^1", eui64: "{eui}"}}
      - id: pump-norepi
        kind: pump
        protocol: hl7-pump
        address: 127.0.0.1:{port}
        sender: {{location: "ICU^^1"}}
        role: vasopressor
        drug: norepinephrine
      - id: central
        kind: monitor
        protocol: hl7-mllp
        address: 127.0.0.1:{other}
        sender: {{location: "ICU^^1"}}
"""


async def test_end_to_end_over_tcp_to_the_bus_and_the_order_check(tmp_path: Path) -> None:
    clock = RealClock()
    study = PumpState()
    norepi = PumpState(role="vasopressor", drug="norepinephrine", concentration_ug_ml=64.0)
    sender = Hl7PumpSender({"study": study, "norepi": norepi}, clock, "ICU^^1", interval=0.05)
    port = free_port()
    config = tmp_path / "icu.yaml"
    text = CONFIG.format(port=port, other=free_port(), eui=sender.eui64("study"))
    config.write_text(text)
    icu = load_config(config)
    pumps = [d for d in icu.devices() if d.protocol == "hl7-pump"]
    ((group, listener),) = build_hl7_listeners(pumps, clock, tz=icu.site.tz, weights=Weights())
    bus = InProcessBus()
    sub = bus.subscribe()
    shared = {d.bed: d.id for d in group}
    feeding = asyncio.create_task(pump_into(listener, bus, shared))
    sending = asyncio.create_task(sender.run("127.0.0.1", port))
    seen: list[Observation | DeviceEvent] = []
    check = OrderCheck()
    alerts: list[Alert] = []

    async def until(name: str, **fields: object) -> DeviceEvent:
        while True:
            msg = await sub.get()
            assert isinstance(msg, Observation | DeviceEvent)
            seen.append(msg)
            alerts.extend(check.feed(msg))
            named = isinstance(msg, DeviceEvent) and msg.event == name
            if named and all(msg.fields.get(k) == v for k, v in fields.items()):
                return msg  # type: ignore[return-value]

    try:
        async with asyncio.timeout(20):
            norepi.start(rate_ml_h=10.0)
            study.start(rate_ml_h=150.0, vtbi_ml=150.0)  # VTBI off the 100 mL order
            start = await until("infusion_start")
            occlusion = (
                await until("pump_alarm", kind="occlusion")
                if study.raise_alarm("occlusion") is None
                else None
            )
            study.clear_alarm("occlusion")
            study.start(rate_ml_h=150.0)
            await until("pump_alarm_cleared", kind="occlusion")
            study.advance(3600.0)
            end = await until("infusion_end")
    finally:
        sending.cancel()
        feeding.cancel()
        for task in (sending, feeding):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await listener.aclose()  # type: ignore[attr-defined]
    assert (start.bed, start.device) == ("ICU-1", "pump-study")
    assert start.fields["rate_ml_h"] == 150.0 and start.fields["volume_ml"] == 150.0
    assert occlusion.device == "pump-study"
    assert end.fields["volume_infused_ml"] == 150.0
    doses = [o.value for o in seen if isinstance(o, Observation) and o.device == "pump-norepi"]
    assert doses and doses[0] == 10.6667  # 10 mL/h of 64 ug/mL, as the Modbus driver gives it
    assert PROGRAMME_RULE in {a.rule for a in alerts}  # the order check saw the programme
