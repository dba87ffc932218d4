"""Data-export messages: MDS Create, poll results, linked reassembly, garbage."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import DecodeError
from drivers.intellivue import nomenclature as nom
from drivers.intellivue.association import build_association_accept, decode_association
from drivers.intellivue.messages import (
    MDS,
    ContextPoll,
    LinkedResults,
    MdsCreateEvent,
    ObservationPoll,
    PollResult,
    RemoteError,
    build_mds_create_event,
    build_mds_create_result,
    build_poll_result,
    build_remote_error,
    decode_message,
)
from drivers.intellivue.values import AlarmEntry, encode_alarm_list, encode_nu_obs_value
from drivers.intellivue.wire import variable_label


def test_mds_create_event_round_trip_and_result() -> None:
    event = MdsCreateEvent(
        invoke_id=3,
        managed_object=MDS,
        event_time=0x000ABD00,
        mds_object=MDS,
        attributes=(
            (nom.NOM_ATTR_ID_MODEL, variable_label(b"Philips") + variable_label(b"MP70\x00\x00")),
            (nom.NOM_ATTR_SYS_ID, variable_label(bytes.fromhex("0009fb010203"))),
        ),
    )
    raw = build_mds_create_event(event)
    assert raw[:8] == bytes.fromhex("e100000200010000")[:6] + raw[6:8]
    decoded = decode_message(raw)
    assert decoded == event
    assert isinstance(decoded, MdsCreateEvent)
    assert decoded.model == ("Philips", "MP70")
    assert decoded.system_id == "00:09:fb:01:02:03"
    result = build_mds_create_result(decoded)
    assert result[8:10] == b"\x00\x03"  # echoes the invoke id


def _numeric_poll(invoke: int, handles: list[int], linked: tuple[int, int] | None) -> PollResult:
    obs = tuple(
        ObservationPoll(h, ((nom.NOM_ATTR_NU_VAL_OBS, encode_nu_obs_value(0x4182, 0, 0x0AA0, h)),))
        for h in handles
    )
    return PollResult(
        invoke, 1, nom.NOM_MOC_VMO_METRIC_NU, 0, (ContextPoll(0, obs),), linked=linked
    )


def test_poll_result_round_trip_and_numerics() -> None:
    res = _numeric_poll(9, [60, 61], None)
    decoded = decode_message(build_poll_result(res))
    assert decoded == res
    assert isinstance(decoded, PollResult)
    assert [v.value for v in decoded.numerics()] == [60.0, 61.0]


def test_alert_poll_result() -> None:
    alarm = AlarmEntry(patient=True, source=0x4182, code=0xF004, type=0x0400, state=0)
    obs = ObservationPoll(
        1,
        (
            (nom.NOM_ATTR_AL_MON_P_AL_LIST, encode_alarm_list([alarm])),
            (nom.NOM_ATTR_AL_MON_T_AL_LIST, encode_alarm_list([])),
        ),
    )
    res = PollResult(2, 5, nom.NOM_MOC_VMO_AL_MON, 0x0801, (ContextPoll(0, (obs,)),))
    decoded = decode_message(build_poll_result(res))
    assert isinstance(decoded, PollResult)
    assert decoded.alarms() == [alarm]


def test_linked_results_reassemble_in_order() -> None:
    asm = LinkedResults()
    parts = [
        _numeric_poll(4, [1], (nom.RORLS_FIRST, 1)),
        _numeric_poll(4, [2], (nom.RORLS_NOT_FIRST_NOT_LAST, 2)),
        _numeric_poll(4, [3], (nom.RORLS_LAST, 3)),
        _numeric_poll(4, [4], None),
    ]
    outs = [asm.add(decode_message(build_poll_result(p))) for p in parts]  # type: ignore[arg-type]
    assert outs[:3] == [None, None, None]
    final = outs[3]
    assert final is not None and final.linked is None
    assert [v.handle for v in final.numerics()] == [1, 2, 3, 4]
    # a plain result passes through
    assert asm.add(parts[3]) == parts[3]


def test_linked_results_reject_out_of_order_parts() -> None:
    asm = LinkedResults()
    with pytest.raises(DecodeError):
        asm.add(_numeric_poll(4, [2], (nom.RORLS_NOT_FIRST_NOT_LAST, 2)))
    asm.add(_numeric_poll(5, [1], (nom.RORLS_FIRST, 1)))
    with pytest.raises(DecodeError):
        asm.add(_numeric_poll(5, [3], (nom.RORLS_LAST, 3)))  # part 2 missing
    assert asm.add(_numeric_poll(5, [9], None)) == _numeric_poll(5, [9], None)


def test_remote_error_and_association_accept() -> None:
    assert decode_message(build_remote_error(7, 9)) == RemoteError(7, 9)
    accept = decode_association(build_association_accept())
    assert accept.user_info is not None  # type: ignore[union-attr]


@given(st.binary(max_size=200))
def test_garbage_messages_only_raise_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_message(data)


@given(st.binary(min_size=1, max_size=60), st.integers(0, 200))
def test_truncated_poll_results_only_raise_decode_error(junk: bytes, cut: int) -> None:
    raw = build_poll_result(_numeric_poll(1, [1, 2, 3], None))
    for candidate in (raw[: cut % len(raw)], raw[:20] + junk):
        try:
            msg = decode_message(candidate)
            if isinstance(msg, PollResult):
                msg.numerics()
        except DecodeError:
            pass
