"""Pump register codec: exact registers of the documented default profile, both ways."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import DecodeError
from drivers.modbus import codec
from drivers.modbus.profile import load_profile

PROFILE = load_profile()

# The default profile's documented layout (drivers/modbus/profiles/iaewatch_generic_pump_v1.yaml):
# rate 150.0 mL/h → uint32 1500 = [0, 1500]; VTBI 100.0 → [0, 1000]; infused 12.3 → [0, 123];
# state running = 1; alarms occlusion|low_battery = bits 0 and 4 = 0x11;
# drug "NOREPINEPHRINE" (16 chars max, 2 per register, high byte first);
# concentration 64.00 ug/mL ×100 → [0, 6400]; battery 87; serial "SIM00001".
EXACT = [
    0,
    1500,
    0,
    1000,
    0,
    123,
    1,
    0x11,
    0x4E4F,
    0x5245,
    0x5049,
    0x4E45,
    0x5048,
    0x5249,
    0x4E45,
    0x0000,
    0,
    6400,
    87,
    0x5349,
    0x4D30,
    0x3030,
    0x3031,
    0,
]
READING = codec.PumpReading(
    rate_ml_h=150.0,
    vtbi_ml=100.0,
    volume_infused_ml=12.3,
    state="running",
    alarms=frozenset({"occlusion", "low_battery"}),
    drug="norepinephrine",
    concentration_ug_ml=64.0,
    battery_pct=87,
    serial_number="SIM00001",
)


def test_decode_exact_registers() -> None:
    assert codec.decode(PROFILE, EXACT) == READING


def test_encode_exact_registers() -> None:
    regs = codec.encode(PROFILE, READING)
    # the drug is encoded as written (upper case on the wire is the pump's business)
    regs_upper = codec.encode(
        PROFILE,
        READING.__class__(
            **{
                **{f: getattr(READING, f) for f in READING.__dataclass_fields__},
                "drug": "NOREPINEPHRINE",
            }
        ),
    )
    assert regs_upper == EXACT
    assert codec.decode(PROFILE, regs) == READING


def test_short_block_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="expected 24 registers"):
        codec.decode(PROFILE, EXACT[:-1])


def test_unknown_state_value_is_a_decode_error() -> None:
    bad = list(EXACT)
    bad[6] = 9
    with pytest.raises(DecodeError, match="unknown state value 9"):
        codec.decode(PROFILE, bad)


@given(
    rate=st.integers(0, 99999).map(lambda v: v / 10),
    vtbi=st.integers(0, 99999).map(lambda v: v / 10),
    state=st.sampled_from(["stopped", "running", "paused", "alarm", "completed"]),
    alarms=st.frozensets(
        st.sampled_from(["occlusion", "air_in_line", "door_open", "end_of_infusion", "low_battery"])
    ),
    drug=st.none() | st.sampled_from(["norepinephrine", "dopamine", "epinephrine"]),
)
def test_round_trip(
    rate: float, vtbi: float, state: str, alarms: frozenset[str], drug: str | None
) -> None:
    r = codec.PumpReading(
        rate_ml_h=rate,
        vtbi_ml=vtbi,
        volume_infused_ml=0.0,
        state=state,
        alarms=alarms,
        drug=drug,
        concentration_ug_ml=None,
        battery_pct=None,
    )
    back = codec.decode(PROFILE, codec.encode(PROFILE, r))
    assert back.rate_ml_h == rate and back.vtbi_ml == vtbi
    assert back.state == state and back.alarms == alarms and back.drug == drug


@given(st.lists(st.integers(0, 0xFFFF), min_size=0, max_size=40))
def test_random_registers_only_raise_decode_error(regs: list[int]) -> None:
    with contextlib.suppress(DecodeError):
        codec.decode(PROFILE, regs)
