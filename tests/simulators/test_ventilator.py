"""The MEDIBUS ventilator simulator, spoken to byte by byte over the in-memory link on the
virtual clock, and once over a pty."""

from __future__ import annotations

import asyncio
import os
import tty
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from core.clock import RealClock, VirtualClock
from drivers.medibus.codec import (
    BadFrame,
    Cmd,
    Command,
    Event,
    FrameDecoder,
    Response,
    encode_command,
)
from drivers.medibus.layouts import (
    Alarm,
    parse_alarms,
    parse_date_time,
    parse_device_id,
    parse_measured,
)
from simulators.faults import Faults
from simulators.memlink import MemoryServer, run_for
from simulators.patient import PatientModel
from simulators.source import DEFAULT_ADULT_ARDS, FixedVitals
from simulators.ventilator import VentilatorSimulator


class Client:
    """A bare MEDIBUS host on one memory connection; waits advance the virtual clock."""

    def __init__(
        self, streams: tuple[asyncio.StreamReader, asyncio.StreamWriter], clock: VirtualClock
    ) -> None:
        self.reader, self.writer = streams
        self.clock = clock
        self.decoder = FrameDecoder()
        self.pending: list[Event] = []
        self.seen: list[Event] = []  # everything received, in order
        self.closed = False
        self._task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        while data := await self.reader.read(4096):
            events = self.decoder.feed(data)
            self.pending += events
            self.seen += events
        self.closed = True

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def expect(self, pred: Callable[[Event], bool], timeout: float = 1.5) -> Event:
        """The next event matching `pred`; TimeoutError after `timeout` virtual seconds,
        ConnectionError when the simulator closes the link first."""
        deadline = self.clock.monotonic() + timeout
        while True:
            while self.pending:
                event = self.pending.pop(0)
                if pred(event):
                    return event
            if self.closed:
                raise ConnectionError("closed")
            if self.clock.monotonic() >= deadline:
                raise TimeoutError
            await run_for(self.clock, 0.01)

    async def ask(self, code: int) -> Response:
        await self.send(encode_command(code))
        event = await self.expect(lambda e: isinstance(e, Response) and e.code == code)
        assert isinstance(event, Response)
        return event

    async def close(self) -> None:
        self.writer.close()
        await run_for(self.clock, 0.01)
        await self._task


@pytest.fixture
def vitals() -> FixedVitals:
    return FixedVitals(dict(DEFAULT_ADULT_ARDS))


@pytest.fixture
async def sim(vitals: FixedVitals, vclock: VirtualClock) -> AsyncIterator[VentilatorSimulator]:
    s = VentilatorSimulator(vitals, vclock, Faults(), icc_interval=0.2, link_timeout=0.6)
    yield s
    await s.close()


@pytest.fixture
async def link(sim: VentilatorSimulator, vclock: VirtualClock) -> AsyncIterator[MemoryServer]:
    async with MemoryServer(sim.serve_connection, vclock, name="ventilator") as server:
        yield server


@pytest.fixture
async def client(link: MemoryServer, vclock: VirtualClock) -> AsyncIterator[Client]:
    c = Client(await link.connect(), vclock)
    yield c
    await c.close()


def _is_command(code: int) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, Command) and e.code == code


async def test_sends_icc_until_linked_and_ignores_other_commands(client: Client) -> None:
    await client.expect(_is_command(Cmd.ICC))
    await client.send(encode_command(Cmd.DATA_CP1))
    beacons = client.seen.count(Command(Cmd.ICC))
    with pytest.raises(TimeoutError):
        await client.expect(lambda e: isinstance(e, Response), timeout=0.5)
    assert client.seen.count(Command(Cmd.ICC)) >= beacons + 2  # it kept beaconing meanwhile
    assert await client.ask(Cmd.ICC) == Response(Cmd.ICC)
    assert (await client.ask(Cmd.DATA_CP1)).data


async def test_answering_the_devices_icc_opens_the_link(
    sim: VentilatorSimulator, client: Client
) -> None:
    await client.expect(_is_command(Cmd.ICC))
    await client.send(Response(Cmd.ICC).encode())
    assert (await client.ask(Cmd.DEVICE_ID)).data == b"0161'Evita4'01.03:06.00"
    assert Response(Cmd.ICC) in sim.host_responses


async def test_answers_every_command(client: Client) -> None:
    await client.ask(Cmd.ICC)
    assert parse_device_id((await client.ask(Cmd.DEVICE_ID)).data).name == "Evita4"
    raw = (await client.ask(Cmd.DATA_CP1)).data
    cp1 = {i.code: i.value for i in parse_measured(raw)}
    assert cp1[0xF0] == 60 and cp1[0x78] == 12 and cp1[0x88] == 420 and cp1[0xE6] == 42
    assert cp1[0x7D] == 29  # 30 cm[H2O] = 29.4 mbar, sent in whole mbar
    # Dräger formats (XEN medibusParams.json): pressures *_XX_, rates XX__, FiO2 XXX_
    assert b"F0 60 " in raw and b"78 12 " in raw and b"7D 29 " in raw
    assert b"D524  " in raw and b"D624  " in raw and b"D924  " in raw  # rate three ways
    assert b"E642  " in raw and b"B910.1" in raw
    cp2 = parse_measured((await client.ask(Cmd.DATA_CP2)).data)
    assert [(i.code, i.value) for i in cp2] == [(0x21, 420)]
    assert parse_alarms((await client.ask(Cmd.ALARMS_CP1)).data) == []
    assert (await client.ask(Cmd.LOW_LIMITS_CP1)).data == b"B9 4.0E625  F0 56 "
    assert (await client.ask(Cmd.HIGH_LIMITS_CP1)).data == (b"7D 40 B916.0D640  E660  F0 64 ")
    for code in (Cmd.ALARMS_CP2, Cmd.ALARMS_CP3, Cmd.NOP, Cmd.TIME_CHANGED, 0x7A):
        assert await client.ask(code) == Response(code)
    assert (await client.ask(Cmd.TEXT)).data == b"014IPPV\x03"
    assert (await client.ask(Cmd.SETTINGS)).data.startswith(b"01   60")


async def test_a_corrupt_command_is_answered_with_nak(client: Client) -> None:
    await client.ask(Cmd.ICC)
    await client.send(b"\x1b\x24" + b"00\r")
    assert await client.expect(lambda e: isinstance(e, Response)) == Response(Cmd.NAK)


async def test_alarms_follow_the_patient(
    sim: VentilatorSimulator, vitals: FixedVitals, client: Client
) -> None:
    await client.ask(Cmd.ICC)
    vitals.values["MDC_PRESS_AWAY_INSP_PEAK"] = 45.0
    sim.extra_alarms[0x9A] = Alarm(31, 0x9A, "PAW LOW")
    alarms = parse_alarms((await client.ask(Cmd.ALARMS_CP1)).data)
    assert alarms == [Alarm(31, 0x9A, "PAW LOW"), Alarm(27, 0x10, "PAW HIGH")]


async def test_drops_the_link_after_quiet(client: Client) -> None:
    await client.ask(Cmd.ICC)
    with pytest.raises(ConnectionError):
        await client.expect(lambda e: False, timeout=2.0)


async def test_nop_keeps_the_link(client: Client) -> None:
    await client.ask(Cmd.ICC)
    for _ in range(5):  # 1.5 s in all, with a 0.6 s link timeout
        await run_for(client.clock, 0.3)
        await client.ask(Cmd.NOP)
    assert (await client.ask(Cmd.DATA_CP1)).data


async def test_fault_corrupt_checksum(sim: VentilatorSimulator, client: Client) -> None:
    await client.ask(Cmd.ICC)
    sim.faults.corrupt_checksum = True
    await client.send(encode_command(Cmd.NOP))
    bad = await client.expect(lambda e: isinstance(e, BadFrame))
    assert isinstance(bad, BadFrame) and bad.complete and bad.code == Cmd.NOP


async def test_fault_garbage_precedes_a_good_answer(
    sim: VentilatorSimulator, client: Client
) -> None:
    await client.ask(Cmd.ICC)
    sim.faults.garbage = True
    assert (await client.ask(Cmd.DATA_CP1)).data
    assert client.decoder.bad_frames + client.decoder.realtime_bytes > 0


async def test_fault_slow_and_stall(sim: VentilatorSimulator, client: Client) -> None:
    await client.ask(Cmd.ICC)
    sim.faults.slow_s = 0.3
    t0 = client.clock.monotonic()
    await client.ask(Cmd.NOP)
    assert client.clock.monotonic() - t0 >= 0.3
    sim.faults.slow_s = 0.0
    sim.faults.stall = True
    await client.send(encode_command(Cmd.NOP))
    with pytest.raises(TimeoutError):
        await client.expect(lambda e: isinstance(e, Response), timeout=0.8)
    assert not client.closed  # past the 0.6 s link timeout, a stalled device does not drop


async def test_fault_drop_closes_and_refuses(
    sim: VentilatorSimulator, client: Client, link: MemoryServer, vclock: VirtualClock
) -> None:
    await client.ask(Cmd.ICC)
    sim.faults.drop = True
    with pytest.raises(ConnectionError):
        await client.expect(lambda e: False, timeout=1.0)
    again = Client(await link.connect(), vclock)
    with pytest.raises(ConnectionError):
        await again.expect(lambda e: False, timeout=1.0)
    await again.close()
    sim.faults.drop = False
    third = Client(await link.connect(), vclock)
    assert await third.ask(Cmd.ICC) == Response(Cmd.ICC)
    await third.close()


async def test_serves_a_pty(vitals: FixedVitals) -> None:
    sim = VentilatorSimulator(vitals, RealClock(), icc_interval=0.2)
    path = await sim.serve_pty()
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd)
    os.set_blocking(fd, False)
    decoder = FrameDecoder()

    async def expect(pred: Callable[[Event], bool]) -> Event:
        while True:
            try:
                data = os.read(fd, 4096)
            except BlockingIOError:
                await asyncio.sleep(0.01)
                continue
            for event in decoder.feed(data):
                if pred(event):
                    return event

    try:
        await asyncio.wait_for(expect(_is_command(Cmd.ICC)), 2.0)
        os.write(fd, encode_command(Cmd.ICC))
        await asyncio.wait_for(expect(lambda e: e == Response(Cmd.ICC)), 2.0)
        os.write(fd, encode_command(Cmd.DEVICE_ID))
        ident = await asyncio.wait_for(
            expect(lambda e: isinstance(e, Response) and e.code == Cmd.DEVICE_ID), 2.0
        )
        assert isinstance(ident, Response) and ident.data.startswith(b"0161'Evita4'")
    finally:
        os.close(fd)
        await sim.close()


def test_date_and_time_reply_is_draegers_17_characters() -> None:
    clock = VirtualClock(datetime(2026, 10, 6, 1, 11, 48, tzinfo=UTC))
    sim = VentilatorSimulator(FixedVitals(), clock, tz=ZoneInfo("Asia/Shanghai"))
    # hand-built after XEN's example "09:11:4806-OKT-21": HH:MM:SS DD-MMM-YY, German months
    assert sim.response_to(Command(Cmd.DATE_TIME)).encode() == (
        b"\x01\x28" + b"09:11:4806-OKT-26" + b"%02X" % (sum(b"\x01\x2809:11:4806-OKT-26") & 0xFF)
        + b"\r"
    )  # fmt: skip
    assert parse_date_time(b"09:11:4806-OKT-21", UTC) == datetime(
        2021, 10, 6, 9, 11, 48, tzinfo=UTC
    )


async def test_settings_are_set_points_not_noisy_measurements(vclock: VirtualClock) -> None:
    patient = PatientModel(vclock, seed=3)
    sim = VentilatorSimulator(patient, vclock)
    settings, fio2 = set(), set()
    for _ in range(60):
        await vclock.advance(1.0)
        settings.add(sim.response_to(Command(Cmd.SETTINGS)).data)
        fio2.add(patient.vitals()["MDC_VENT_CONC_AWAY_O2_INSP"])
    assert len(fio2) > 1  # the measured FiO2 moves with noise ...
    assert len(settings) == 1  # ... the set FiO2, PEEP and rate do not
    patient.set_fio2(80.0)
    await vclock.advance(1.0)
    assert sim.response_to(Command(Cmd.SETTINGS)).data.startswith(b"01   80")
