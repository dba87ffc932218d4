"""A pump server's messages with any field replaced by any text: answered AA, AE or AR, never
a crash; what cannot be used is counted (hypothesis; IAEWATCH_FUZZ_EXAMPLES as in
tests/test_fuzz.py)."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.model import Observation
from drivers.hl7.pump_feed import PumpSource
from drivers.hl7.receiver import Hl7Receiver
from tests.drivers.hl7.test_pump import BEDS, NOW, PUMP_FIXTURES, STUDY, fixture, receiver

FUZZ = settings(
    max_examples=int(os.environ.get("IAEWATCH_FUZZ_EXAMPLES", "500")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
_LINES = [fixture(name).rstrip(b"\r").split(b"\r") for name in PUMP_FIXTURES]


@FUZZ
@given(
    st.integers(0, len(PUMP_FIXTURES) - 1),
    st.integers(0, 40),
    st.integers(1, 20),
    st.text(
        st.characters(exclude_categories=("Cs",), exclude_characters="\r\x0b\x1c"), max_size=40
    ),
)
def test_any_field_of_a_pump_message(which: int, line: int, field: int, text: str) -> None:
    lines = list(_LINES[which])
    i = line % len(lines)
    fields = lines[i].split(b"|")
    if field < len(fields) and not (i == 0 and field < 2):
        fields[field] = text.encode()
    lines[i] = b"|".join(fields)
    vaso = PumpSource(device_id="pump-dopa", role="vasopressor", drug="dopamine")
    r = receiver(("ICU-7", STUDY), ("ICU-7", vaso), ("ICU-8", PumpSource(device_id="p")))
    for _ in range(2):  # a second time: the state kept from the first
        out = r.receive(b"\r".join(lines) + b"\r", NOW)
        assert out.code in ("AA", "AE", "AR")


def test_a_value_in_a_unit_we_cannot_convert_is_left_out_and_counted() -> None:
    raw = fixture("tf3_pump_status_r01.hl7").replace(
        b"|12|265266^MDC_DIM_MILLI_L_PER_HR^MDC|", b"|12|[furlong]/h|"
    )
    r = Hl7Receiver(
        bed_map=BEDS,
        device_id="hl7",
        pumps={"ICU-8": [PumpSource(device_id="p", ids=("A0007",))]},
        past_tolerance=1e10,
    )
    out = r.receive(raw, datetime(2026, 3, 1, 0, 5, tzinfo=UTC))
    assert out.code == "AA"
    rate = [
        o for o in out.outputs if isinstance(o, Observation) and o.code == "MDC_FLOW_FLUID_PUMP"
    ]
    assert [o.value for o in rate] == [None]  # no rate rather than a wrong one
    assert r.pumps.unusable == 1  # the rate row read (the source channel's)
