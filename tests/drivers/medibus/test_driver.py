"""MedibusDriver against the ventilator simulator, with faults.

Behaviour is tested over the in-memory link on the virtual clock (the harness's default);
identification and a dropped line also run end to end over a real TCP socket and a pty.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.model import DeviceEvent, Observation, ValueStatus
from drivers.base import ConnectionState, DriverOutput
from drivers.medibus.codec import Cmd, Command, Response
from drivers.medibus.layouts import parse_device_id
from drivers.medibus.session import HOST_IDENTITY
from simulators.ventilator import VentilatorSimulator

_CMH2O_PER_MBAR = 100.0 / 98.0665


def is_event(name: str) -> Callable[[DriverOutput], bool]:
    return lambda item: isinstance(item, DeviceEvent) and item.event == name


def is_obs(code: str) -> Callable[[DriverOutput], bool]:
    return lambda item: isinstance(item, Observation) and item.code == code


async def _values(h: Any) -> dict[str, Observation]:
    """One full set of codepage-1 and codepage-2 observations."""
    wanted = {
        "MDC_VENT_CONC_AWAY_O2_INSP",
        "MDC_PRESS_AWAY_END_EXP_POS",
        "MDC_PRESS_AWAY_INSP_PEAK",
        "MDC_PRESS_RESP_PLAT",
        "MDC_PRESS_AWAY_MEAN",
        "MDC_VOL_AWAY_TIDAL_EXP",
        "MDC_VOL_MINUTE_AWAY_EXP",
        "MDC_VENT_RESP_RATE",
        "MDC_AWAY_CO2_ET",
    }
    seen: dict[str, Observation] = {}
    while not wanted <= seen.keys():
        obs = await h.next(lambda i: isinstance(i, Observation))
        seen[obs.code] = obs
    return seen


@pytest.mark.parametrize("kind", ["mem", "tcp", "pty"])
async def test_identification_and_values_in_our_units(make_harness: Any, kind: str) -> None:
    h = await make_harness(kind)
    connected = await h.next(is_event("device_connected"))
    assert connected.fields == {
        "device": "vent-3",
        "protocol": "medibus",
        "device_id": "0161",
        "name": "Evita4",
        "revision": "01.03:06.00",
    }
    assert h.driver.status.state is ConnectionState.CONNECTED
    v = await _values(h)
    assert {o.unit for o in v.values() if "PRESS" in o.code} == {"cm[H2O]"}
    assert all(o.status is ValueStatus.VALID and o.bed == "ICU-3" for o in v.values())
    assert v["MDC_VENT_CONC_AWAY_O2_INSP"].value == 60
    # 12 cm[H2O] → " 12 " whole mbar on the wire (Dräger's *_XX_) → 12.24 cm[H2O]
    assert v["MDC_PRESS_AWAY_END_EXP_POS"].value == pytest.approx(12 * _CMH2O_PER_MBAR)
    assert v["MDC_PRESS_AWAY_INSP_PEAK"].value == pytest.approx(29 * _CMH2O_PER_MBAR)
    assert v["MDC_PRESS_RESP_PLAT"].value == pytest.approx(25 * _CMH2O_PER_MBAR)
    assert v["MDC_PRESS_AWAY_MEAN"].value == pytest.approx(17 * _CMH2O_PER_MBAR)
    assert v["MDC_VOL_AWAY_TIDAL_EXP"].value == 420
    assert v["MDC_VOL_MINUTE_AWAY_EXP"].value == pytest.approx(10.1)
    assert v["MDC_VENT_RESP_RATE"].value == 24
    assert v["MDC_AWAY_CO2_ET"].value == 42
    assert h.driver.status.bad_frames == 0


async def test_values_follow_the_patient_and_times_come_from_the_clock(make_harness: Any) -> None:
    h = await make_harness()
    await h.next(is_event("device_connected"))
    h.vitals.values["MDC_VENT_CONC_AWAY_O2_INSP"] = 80.0
    obs = await h.next(lambda i: is_obs("MDC_VENT_CONC_AWAY_O2_INSP")(i) and i.value == 80)
    assert abs((h.driver.clock.now() - obs.t).total_seconds()) < 1.0


async def test_alarms_are_events_on_change_only(make_harness: Any) -> None:
    h = await make_harness()
    await h.next(is_event("device_connected"))
    h.vitals.values["MDC_PRESS_AWAY_INSP_PEAK"] = 45.0  # 44.1 mbar > 40 mbar limit
    start = await h.next(is_event("device_alarm"))
    assert start.fields == {
        "code": "10",
        "priority": 27,
        "text": "PAW HIGH",
        "phase": "start",
        "codepage": 1,
    }
    polls = h.sim.received_codes().count(Cmd.ALARMS_CP1)
    await h.advance(3 * h.driver.poll_interval)
    assert h.sim.received_codes().count(Cmd.ALARMS_CP1) >= polls + 3  # the same alarm, seen
    assert len(h.events("device_alarm")) == 1
    h.vitals.values["MDC_PRESS_AWAY_INSP_PEAK"] = 30.0
    end = await h.next(is_event("device_alarm"))
    assert end.fields["phase"] == "end" and end.fields["code"] == "10"


async def test_settings_and_text_messages_are_events_on_change(make_harness: Any) -> None:
    h = await make_harness()
    settings = await h.next(is_event("ventilator_settings"))
    assert settings.fields["settings"] == {"01": 60.0, "0B": 12.0, "0A": 24.0}
    text = await h.next(is_event("ventilator_text"))
    assert text.fields["messages"] == [{"code": "01", "text": "IPPV"}]
    h.vitals.values["MDC_PRESS_AWAY_END_EXP_POS"] = 15.0
    changed = await h.next(is_event("ventilator_settings"))
    assert changed.fields["settings"]["0B"] == 15.0  # 14.7 mbar set, sent as integer
    assert len(h.events("ventilator_text")) == 1


@pytest.mark.parametrize("kind", ["mem", "pty"])  # a pty line stays: the drop is silence
async def test_drop_disconnects_and_reconnects_when_it_clears(make_harness: Any, kind: str) -> None:
    h = await make_harness(kind)
    await h.next(is_event("device_connected"))
    h.faults.drop = True
    gone = await h.next(is_event("device_disconnected"))
    assert gone.fields["device"] == "vent-3" and gone.fields["reason"]
    assert h.driver.status.state is not ConnectionState.CONNECTED
    attempts = h.opener.calls
    await h.until(lambda: h.opener.calls >= attempts + 2)  # retries fail while the cable is out
    assert len(h.events("device_connected")) == 1
    h.faults.drop = False
    await h.next(is_event("device_connected"))
    await h.next(is_obs("MDC_VENT_CONC_AWAY_O2_INSP"))
    assert h.driver.status.reconnects == 1


async def test_stall_raises_no_reply_and_reconnects(make_harness: Any) -> None:
    h = await make_harness()
    await h.next(is_event("device_connected"))
    h.faults.stall = True
    gone = await h.next(is_event("device_disconnected"))
    assert "no reply" in gone.fields["reason"]
    h.faults.stall = False
    await h.next(is_event("device_connected"))
    await h.next(is_obs("MDC_AWAY_CO2_ET"))


async def test_corrupt_checksums_are_counted_and_the_driver_stays(make_harness: Any) -> None:
    h = await make_harness(stale_after=5.0)
    await h.next(is_event("device_connected"))
    h.faults.corrupt_checksum = True
    await h.until(lambda: h.driver.status.bad_frames >= 10)
    assert h.events("device_disconnected") == []
    assert h.driver.status.state is ConnectionState.CONNECTED
    h.faults.corrupt_checksum = False
    await h.next(is_obs("MDC_VENT_CONC_AWAY_O2_INSP"))
    assert h.events("device_disconnected") == []


async def test_persistent_corruption_is_stale_data_then_a_reconnect(make_harness: Any) -> None:
    h = await make_harness(stale_after=0.8)
    await h.next(is_event("device_connected"))
    h.faults.corrupt_checksum = True
    stale = await h.next(is_event("device_stale"))
    assert stale.fields["seconds"] >= 0.8
    gone = await h.next(is_event("device_disconnected"))
    assert "no valid data" in gone.fields["reason"]
    h.faults.corrupt_checksum = False
    await h.next(is_event("device_connected"))
    await h.next(is_obs("MDC_VENT_CONC_AWAY_O2_INSP"))


async def test_garbage_before_answers_is_skipped(make_harness: Any) -> None:
    h = await make_harness()
    await h.next(is_event("device_connected"))
    h.faults.garbage = True
    for _ in range(4):
        await h.next(is_obs("MDC_VENT_CONC_AWAY_O2_INSP"))
    assert h.driver.status.bad_frames > 0
    assert h.events("device_disconnected") == []


async def test_slow_answers_within_the_timeout_still_work(make_harness: Any) -> None:
    h = await make_harness(reply_timeout=0.5)
    await h.next(is_event("device_connected"))
    h.faults.slow_s = 0.15
    for _ in range(2):
        await h.next(is_obs("MDC_VOL_AWAY_TIDAL_EXP"))
    assert h.events("device_disconnected") == []


async def test_answers_slower_than_the_timeout_raise_no_reply(make_harness: Any) -> None:
    h = await make_harness(reply_timeout=0.3)
    await h.next(is_event("device_connected"))
    h.faults.slow_s = 0.6
    gone = await h.next(is_event("device_disconnected"))
    assert "no reply" in gone.fields["reason"]


async def test_commands_from_the_ventilator_are_answered(make_harness: Any) -> None:
    h = await make_harness()
    await h.next(is_event("device_connected"))
    for code in (Cmd.DEVICE_ID, Cmd.NOP, Cmd.TIME_CHANGED, 0x7A):
        await h.sim.send_to_host(code)
    await h.sim.send_raw(b"\x1b\x30" + b"00\r")  # a NOP with a bad checksum
    await h.until(lambda: len(h.sim.host_responses) >= 5)
    by_code = {r.code: r for r in h.sim.host_responses}
    assert parse_device_id(by_code[Cmd.DEVICE_ID].data) == HOST_IDENTITY
    assert by_code[Cmd.NOP] == Response(Cmd.NOP)
    assert by_code[Cmd.TIME_CHANGED] == Response(Cmd.TIME_CHANGED)
    assert by_code[0x7A] == Response(0x7A)
    assert by_code[Cmd.NAK] == Response(Cmd.NAK)
    await h.next(is_obs("MDC_VENT_CONC_AWAY_O2_INSP"))
    assert h.events("device_disconnected") == []


async def test_an_icc_from_the_ventilator_makes_the_driver_identify_again(
    make_harness: Any,
) -> None:
    h = await make_harness()
    await h.next(is_event("device_connected"))
    asked = h.sim.received_codes().count(Cmd.DEVICE_ID)
    await h.sim.send_to_host(Cmd.ICC)
    await h.until(lambda: h.sim.received_codes().count(Cmd.DEVICE_ID) > asked)
    assert Response(Cmd.ICC) in h.sim.host_responses
    await h.next(is_obs("MDC_VENT_CONC_AWAY_O2_INSP"))
    assert len(h.events("device_connected")) == 1


class _NakOnce(VentilatorSimulator):
    """Refuses the first codepage-1 data request as corrupt."""

    naks = 0

    def response_to(self, command: Command) -> Response:
        if command.code == Cmd.DATA_CP1 and self.naks == 0:
            self.naks += 1
            return Response(Cmd.NAK)
        return super().response_to(command)


async def test_a_nak_gets_one_resend(make_harness: Any) -> None:
    h = await make_harness(sim_cls=_NakOnce)
    await h.next(is_obs("MDC_VENT_CONC_AWAY_O2_INSP"))
    codes = h.sim.received_codes()
    first = codes.index(Cmd.DATA_CP1)
    assert codes[first + 1] == Cmd.DATA_CP1  # the resend
    assert h.driver.status.bad_frames == 1
    assert h.events("device_disconnected") == []


async def test_stop_is_sent_when_the_driver_is_stopped(make_harness: Any) -> None:
    h = await make_harness()
    await h.next(is_obs("MDC_VENT_CONC_AWAY_O2_INSP"))
    await h.stop()
    assert h.sim.received_codes()[-1] == Cmd.STOP


async def test_unreachable_device_is_retried_without_raising(make_harness: Any) -> None:
    h = await make_harness(start=False)
    assert h.link is not None
    h.link.refuse = True  # nothing answers the line
    h.start()
    await h.until(lambda: h.opener.calls >= 4)
    assert "refused" in (h.driver.status.last_error or "")
    assert h.task is not None and not h.task.done()
    assert h.items == [] and h.link.accepted == 0
    assert h.driver.status.state is not ConnectionState.CONNECTED


async def test_keepalive_never_lets_the_link_go_quiet(make_harness: Any) -> None:
    """With a 10 s poll interval the driver still talks at least every 2 s."""
    h = await make_harness(poll_interval=10.0, reply_timeout=5.0, stale_after=60.0)
    await h.advance(25.0)
    times = [t for t, _ in h.sim.received]
    assert times and times[-1] > 20
    assert max(b - a for a, b in itertools.pairwise(times)) <= 2.0
    assert Cmd.NOP in h.sim.received_codes()
    assert h.sim.connections == 1 and h.events("device_disconnected") == []
    assert h.sim.received_codes().count(Cmd.DATA_CP1) == 3  # t = 0, 10, 20


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**32 - 1),
    to_host=st.sampled_from([0.0, 0.05, 0.3, 1.0]),
    to_device=st.sampled_from([0.0, 0.05, 0.3]),
    max_chunk=st.integers(0, 12),
)
async def test_corrupted_bytes_are_counted_and_never_crash_the_driver(
    make_harness: Any, seed: int, to_host: float, to_device: float, max_chunk: int
) -> None:
    """Flipped bits either way: the stream never raises, and every corruption shows in the
    status (a bad frame, or the missing reply that ended a session); then it recovers."""
    h = await make_harness(seed=seed)
    assert h.link is not None
    h.link.to_client.flip_rate, h.link.to_server.flip_rate = to_host, to_device
    h.link.to_client.max_chunk = h.link.to_server.max_chunk = max_chunk
    await h.advance(5.0)
    assert h.task is not None and not h.task.done()
    h.link.to_client.clear()
    h.link.to_server.clear()
    seen = len(h.items)
    await h.until(lambda: any(is_obs("MDC_VENT_CONC_AWAY_O2_INSP")(i) for i in h.items[seen:]))
    status = h.driver.status
    assert status.state is ConnectionState.CONNECTED and not h.task.done()
    flipped = sum(c.server.stats.flipped + c.client.stats.flipped for c in h.link.connections)
    if flipped:
        assert status.bad_frames > 0 or status.last_error is not None
    else:
        assert status.bad_frames == 0 and status.last_error is None
    await h.stop()
