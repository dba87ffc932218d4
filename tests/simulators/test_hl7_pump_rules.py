"""The vasopressor rules, unchanged, on pumps reached through a pump server: a norepinephrine
pump titrated from 5 to 12 ug/min after the study infusion starts, reported by the HL7 pump
simulator and read by the HL7 receiver, is a vasopressor escalation IAE in the default rule
set — with the same evidence the rules' own tests expect from a pump's doses."""

from __future__ import annotations

from core.clock import VirtualClock
from core.model import DeviceEvent, Observation, Phase
from drivers.hl7.pump_feed import PumpSource
from drivers.hl7.receiver import Hl7Receiver
from simulators.hl7_pump_sender import Hl7PumpSender
from simulators.pump_state import PumpState
from tests.monitors.conftest import Scenario, at

CONC = 64.0  # ug/mL


def rate_for(ug_min: float) -> float:
    return ug_min * 60.0 / CONC


async def test_a_titration_over_the_threshold_reported_by_a_pump_server_is_an_iae() -> None:
    clock = VirtualClock(at(-1800))
    study = PumpState()
    norepi = PumpState(role="vasopressor", drug="norepinephrine", concentration_ug_ml=CONC)
    norepi.start(rate_ml_h=rate_for(5.0))
    sender = Hl7PumpSender({"study": study, "norepi": norepi}, clock, "ICU^^1", status_every=10.0)
    sources = [
        PumpSource(device_id="pump-study", ids=(sender.eui64("study"),), weight_kg=lambda: 70.0),
        PumpSource(device_id="pump-norepi", role="vasopressor", drug="norepinephrine"),
    ]
    receiver = Hl7Receiver(bed_map={"ICU^^1": "ICU-1"}, device_id="hl7", pumps={"ICU-1": sources})
    sc = Scenario()
    sc.steady(-1800, 1300, 10.0)  # the monitor and ventilator, steady throughout
    for s in range(-1800, 1300, 10):
        if s == 0:
            study.start(rate_ml_h=150.0, vtbi_ml=100.0)
        if s == 600:
            norepi.start(rate_ml_h=rate_for(12.0))
        study.advance(10.0)
        for _, message in sender.due_messages():
            outcome = receiver.receive(message, clock.now())
            assert outcome.code == "AA"
            sc.msgs += [o for o in outcome.outputs if isinstance(o, Observation | DeviceEvent)]
        await clock.advance(10.0)
    fed = list(sc.msgs)
    starts = [a for a in sc.run(until=1300) if a.phase is Phase.START]
    (iae,) = [a for a in starts if a.rule == "vasopressor_escalation"]
    assert iae.iae is True
    assert iae.evidence["values"]["IAEW_DOSE_NOREPINEPHRINE"] == 12.0
    assert iae.evidence["baseline"]["IAEW_DOSE_NOREPINEPHRINE"] == 5.0
    assert iae.onset == at(600)  # when the pump server said the titration happened
    (start,) = [m for m in fed if isinstance(m, DeviceEvent) and m.event == "infusion_start"]
    assert (start.t, start.device) == (at(0), "pump-study")
