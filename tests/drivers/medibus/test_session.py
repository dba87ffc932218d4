"""The host session's state table."""

from __future__ import annotations

import pytest

from drivers.medibus.codec import Cmd, Command, Response
from drivers.medibus.layouts import parse_device_id
from drivers.medibus.session import (
    HOST_IDENTITY,
    KEEPALIVE_S,
    LINK_TIMEOUT_S,
    POLL_CYCLE,
    REQUEST_IN_STATE,
    TRANSITIONS,
    Ev,
    HostSession,
    SessionError,
    State,
)


def test_the_normal_session() -> None:
    s = HostSession()
    path = [s.handle(e) for e in (Ev.OPEN, Ev.ICC_ANSWERED, Ev.IDENTIFIED, Ev.CYCLE_DONE)]
    assert path == [State.INITIALISING, State.IDENTIFYING, State.POLLING, State.POLLING]
    assert [REQUEST_IN_STATE[st] for st in path[:2]] == [Cmd.ICC, Cmd.DEVICE_ID]
    assert s.handle(Ev.STOP) is State.STOPPING and REQUEST_IN_STATE[State.STOPPING] == Cmd.STOP
    assert s.handle(Ev.STOPPED) is State.CLOSED


def test_poll_cycle_and_timing() -> None:
    assert POLL_CYCLE == (Cmd.DATA_CP1, Cmd.DATA_CP2, Cmd.ALARMS_CP1, Cmd.SETTINGS, Cmd.TEXT)
    assert KEEPALIVE_S <= 2.0 < LINK_TIMEOUT_S == 3.0


def test_a_device_icc_while_polling_asks_for_identification_again() -> None:
    s = HostSession()
    for e in (Ev.OPEN, Ev.ICC_ANSWERED, Ev.IDENTIFIED):
        s.handle(e)
    assert s.answer_device_command(Command(Cmd.ICC)) == Response(Cmd.ICC)
    assert s.state is State.IDENTIFYING


def test_the_device_may_open_the_link() -> None:
    s = HostSession()
    s.handle(Ev.OPEN)
    s.answer_device_command(Command(Cmd.ICC))
    assert s.state is State.IDENTIFYING
    assert s.handle(Ev.ICC_ANSWERED) is State.IDENTIFYING  # our own ICC's answer comes later


@pytest.mark.parametrize("code", [Cmd.NOP, Cmd.TIME_CHANGED, Cmd.STOP, 0x7A])
def test_device_commands_get_an_empty_echo(code: int) -> None:
    assert HostSession().answer_device_command(Command(code)) == Response(code)


def test_device_id_request_gets_our_identification() -> None:
    resp = HostSession().answer_device_command(Command(Cmd.DEVICE_ID))
    assert resp.code == Cmd.DEVICE_ID
    assert parse_device_id(resp.data) == HOST_IDENTITY


def test_failure_closes_from_any_state_and_illegal_steps_are_our_bug() -> None:
    for state in State:
        assert TRANSITIONS[(state, Ev.FAILED)] is State.CLOSED
    with pytest.raises(SessionError):
        HostSession().handle(Ev.IDENTIFIED)
