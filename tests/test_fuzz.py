"""Fuzzing every codec and YAML loader with hypothesis: arbitrary bytes or text in, only the
documented error out (DecodeError, ConfigError), never another exception or a hang.

CI runs `IAEWATCH_FUZZ_EXAMPLES` examples per target (default 500; a nightly run sets more).
"""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.config import parse_config
from core.errors import ConfigError, DecodeError
from core.yamlfile import load_marked
from drivers.hl7.mllp import MllpDecoder
from drivers.hl7.receiver import Hl7Receiver
from drivers.intellivue.framing import FrameDecoder as IntellivueFrames
from drivers.intellivue.messages import decode_message
from drivers.medibus.codec import FrameDecoder as MedibusFrames
from drivers.modbus.codec import decode as decode_pump
from drivers.modbus.profile import load_profile
from monitors.rules.loader import parse_ruleset
from simulators.scenario import parse_scenario

FUZZ = settings(
    max_examples=int(os.environ.get("IAEWATCH_FUZZ_EXAMPLES", "500")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
NOWHERE = Path("/nonexistent")
_chunks = st.lists(st.binary(max_size=300), max_size=8)


@FUZZ
@given(_chunks)
def test_medibus_frames(chunks: list[bytes]) -> None:
    dec = MedibusFrames()
    for c in chunks:
        dec.feed(c)  # bad frames come back as BadFrame events, never raised


@FUZZ
@given(_chunks)
def test_intellivue_frames_and_messages(chunks: list[bytes]) -> None:
    dec = IntellivueFrames()
    for c in chunks:
        dec.feed(c)
        with contextlib.suppress(DecodeError):
            decode_message(c)


@FUZZ
@given(
    _chunks, st.sampled_from([b"", b"\x0b", b"\x1c\r", b"MSH|^~\\&|A|B|C|D|1||ORU^R01|1|P|2.6\r"])
)
def test_mllp_and_hl7(chunks: list[bytes], glue: bytes) -> None:
    dec = MllpDecoder(max_size=4096)
    receiver = Hl7Receiver(bed_map={"*": "ICU-1"}, device_id="hl7")
    for c in chunks:
        dec.feed(glue + c)
        assert dec.buffered <= 4096 + 300 + len(glue)
        for payload in dec.frames_available():
            outcome = receiver.receive(payload, NOW)
            assert outcome.code in ("AA", "AE", "AR")


_profile = load_profile()


@FUZZ
@given(st.lists(st.integers(min_value=-1, max_value=0x10000), max_size=_profile.count + 2))
def test_modbus_profile_decode(registers: list[int]) -> None:
    with contextlib.suppress(DecodeError):
        decode_pump(_profile, registers)


_yaml_text = st.lists(
    st.sampled_from([*"abcdefgh:-[]{}, \n\t'\"#&*!|>0123456789.", "beds", "rules", "id"]),
    max_size=120,
).map("".join)


@FUZZ
@given(_yaml_text)
def test_yaml_loaders(text: str) -> None:
    for parse in (
        lambda t: load_marked(t, file="f.yaml"),
        lambda t: parse_config(load_marked(t, file="icu.yaml"), file="icu.yaml", base_dir=NOWHERE),
        lambda t: parse_ruleset(t, file="rules.yaml"),
        lambda t: parse_scenario(t, file="scenario.yaml"),
    ):
        with contextlib.suppress(ConfigError):
            parse(text)


@pytest.mark.parametrize("depth", [10, 1000])
def test_yaml_loaders_on_deep_nesting(depth: int) -> None:
    text = "beds: " + "[" * depth + "]" * depth
    with pytest.raises(ConfigError):
        parse_config(load_marked(text, file="icu.yaml"), file="icu.yaml", base_dir=NOWHERE)
