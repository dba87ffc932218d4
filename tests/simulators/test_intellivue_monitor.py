"""The IntelliVue simulator seen by a raw client over the in-memory link on the virtual clock:
dialogue, rate limit, timeouts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from core.clock import VirtualClock
from drivers.intellivue import nomenclature as nom
from drivers.intellivue.association import (
    Abort,
    AssociationAccept,
    AssociationRefuse,
    ReleaseResponse,
    UserInfo,
    build_association_request,
    build_release_request,
)
from drivers.intellivue.framing import Frame, FrameDecoder, encode_frame
from drivers.intellivue.messages import (
    MdsCreateEvent,
    Message,
    PollRequest,
    PollResult,
    SetResult,
    build_poll_request,
    decode_message,
)
from simulators.intellivue_monitor import IntellivueSimulator
from simulators.memlink import MemoryServer, run_for
from simulators.source import DEFAULT_ADULT_ARDS, FixedVitals

pytestmark = pytest.mark.timeout(20)


class Client:
    """A bare Data Export client; waits advance the virtual clock."""

    def __init__(
        self, streams: tuple[asyncio.StreamReader, asyncio.StreamWriter], clock: VirtualClock
    ) -> None:
        self.reader, self.writer = streams
        self.clock = clock
        self.decoder = FrameDecoder()
        self.pending: list[Message] = []
        self.closed = False
        self._task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        while data := await self.reader.read(4096):
            for r in self.decoder.feed(data):
                assert isinstance(r, Frame)
                self.pending.append(decode_message(r.user_data))
        self.closed = True

    async def send(self, user_data: bytes) -> None:
        self.writer.write(encode_frame(user_data))
        await self.writer.drain()

    async def recv(self, timeout: float = 2.0) -> Message:
        """The next message; TimeoutError after `timeout` virtual seconds."""
        deadline = self.clock.monotonic() + timeout
        while not self.pending:
            assert not self.closed, "simulator closed the connection"
            if self.clock.monotonic() >= deadline:
                raise TimeoutError
            await run_for(self.clock, 0.01)
        return self.pending.pop(0)

    async def close(self) -> None:
        self.writer.close()
        await run_for(self.clock, 0.01)
        await self._task

    async def associate(self) -> MdsCreateEvent:
        await self.send(build_association_request())
        assert isinstance(await self.recv(), AssociationAccept)
        create = await self.recv()
        assert isinstance(create, MdsCreateEvent)
        return create


@pytest.fixture
async def sim(vclock: VirtualClock) -> AsyncIterator[IntellivueSimulator]:
    vitals = FixedVitals(dict(DEFAULT_ADULT_ARDS), ["asystole"])
    async with IntellivueSimulator(vitals, vclock, silence_timeout=0.4) as s:
        yield s


@pytest.fixture
async def client(sim: IntellivueSimulator, vclock: VirtualClock) -> AsyncIterator[Client]:
    async with MemoryServer(sim.serve_connection, vclock, name="mp70") as link:
        c = Client(await link.connect(), vclock)
        yield c
        await c.close()


async def test_association_and_polls(client: Client) -> None:
    create = await client.associate()
    assert create.model == ("Philips", "MP70")
    await client.send(build_poll_request(PollRequest(1, 1, nom.NOM_MOC_VMO_METRIC_NU, 0)))
    numerics = await client.recv()
    assert isinstance(numerics, PollResult) and numerics.invoke_id == 1
    ids = {v.physio_id for v in numerics.numerics()}
    assert {0x4182, 0x4822, 0x4BB8, 0x4A15, 0x4A05, 0xE014, 0x500A, 0x50B0} <= ids
    await client.send(build_poll_request(PollRequest(2, 2, nom.NOM_MOC_VMO_AL_MON, 0x0801)))
    alerts = await client.recv()
    assert isinstance(alerts, PollResult)
    assert [a.code for a in alerts.alarms()] == [nom.NOM_EVT_ECG_ASYSTOLE]


async def test_second_poll_within_a_second_is_dropped(
    client: Client, sim: IntellivueSimulator
) -> None:
    await client.associate()
    for invoke in (1, 2):
        await client.send(build_poll_request(PollRequest(invoke, invoke, 6, 0)))
    first = await client.recv()
    assert isinstance(first, PollResult) and first.invoke_id == 1
    with pytest.raises(TimeoutError):
        await client.recv(timeout=0.3)
    assert sim.stats.polls_dropped == 1


async def test_release(client: Client) -> None:
    await client.associate()
    await client.send(build_release_request())
    assert isinstance(await client.recv(), ReleaseResponse)


async def test_abort_after_client_silence(client: Client, sim: IntellivueSimulator) -> None:
    await client.associate()
    t0 = client.clock.monotonic()
    assert isinstance(await client.recv(timeout=2.0), Abort)
    assert client.clock.monotonic() - t0 == pytest.approx(0.4, abs=0.02)
    assert sim.stats.aborts_sent == 1


async def test_refuses_a_non_client(client: Client) -> None:
    await client.send(build_association_request(UserInfo(system_type=0x00800000)))
    assert isinstance(await client.recv(), AssociationRefuse)


async def test_linked_results_when_split(sim: IntellivueSimulator, client: Client) -> None:
    sim.max_observations_per_message = 2
    await client.associate()
    await client.send(build_poll_request(PollRequest(7, 7, 6, 0)))
    parts = [await client.recv() for _ in range(4)]  # 8 numerics objects in parts of 2
    assert all(isinstance(p, PollResult) for p in parts)
    states = [p.linked for p in parts if isinstance(p, PollResult)]
    assert states == [(1, 1), (2, 2), (3, 3), None]  # first, middle, last, closing result


# -- what real clients read (Data Export Interface Programming Guide, IVH) -------------------
async def test_mds_create_carries_clock_identity_and_serial(
    client: Client, sim: IntellivueSimulator, vclock: VirtualClock
) -> None:
    create = await client.associate()
    attrs = dict(create.attributes)
    # AbsoluteTime in BCD: century 20, year 26, month 03, day 01, 08:00:00, fraction 00
    assert attrs[0x0987] == bytes.fromhex("2026030108000000")  # NOM_ATTR_TIME_ABS
    assert attrs[0x098F] == create.event_time.to_bytes(4, "big")  # NOM_ATTR_TIME_REL
    serial = sim.serial.encode()
    # ProductionSpec: 1 entry, its length, spec_type 1 (serial number), component 0, label
    entry = b"\x00\x01\x00\x00" + len(serial).to_bytes(2, "big") + serial
    assert attrs[0x092D] == b"\x00\x01" + len(entry).to_bytes(2, "big") + entry
    other = IntellivueSimulator(FixedVitals(), vclock)
    assert (other.serial, other.system_id) != (sim.serial, sim.system_id)  # own identity
    assert other.system_id[0] & 0x02  # locally administered: never a real monitor's id


async def test_numerics_carry_label_and_label_string(client: Client) -> None:
    await client.associate()
    await client.send(build_poll_request(PollRequest(1, 1, nom.NOM_MOC_VMO_METRIC_NU, 0)))
    result = await client.recv()
    assert isinstance(result, PollResult)
    by_label = {
        dict(o.attributes)[0x0924]: dict(o.attributes)[0x0927]
        for ctx in result.contexts
        for o in ctx.observations
    }
    # TextId = partition 2 << 16 | id; String = byte length + UTF-16 big-endian text
    assert by_label[bytes.fromhex("00024182")] == bytes.fromhex("0004 0048 0052")  # HR
    assert by_label[bytes.fromhex("00024A14")] == bytes.fromhex("0006 0041 0042 0050")  # ABP
    assert by_label[bytes.fromhex("00024A04")] == bytes.fromhex("0006 004E 0042 0050")  # NBP


async def test_set_priority_list_is_answered(client: Client, sim: IntellivueSimulator) -> None:
    await client.associate()
    # a confirmed Set (command 5) on the MDS of NOM_ATTR_POLL_NU_PRIO_LIST (0xF23A) = [HR, SpO2],
    # built by hand: SPpdu, ROapdus (invoke), ROIVapdu, SetArgument, ModificationList
    text_ids = bytes.fromhex("0002 0008 00024182 00024BB8")
    mod = bytes.fromhex("0000 F23A") + len(text_ids).to_bytes(2, "big") + text_ids
    arg = bytes.fromhex("0021 0000 0000 00000000 0001") + len(mod).to_bytes(2, "big") + mod
    roiv = bytes.fromhex("0005 0005") + len(arg).to_bytes(2, "big") + arg
    await client.send(bytes.fromhex("E100 0002 0001") + len(roiv).to_bytes(2, "big") + roiv)
    answer = await client.recv()
    assert isinstance(answer, SetResult) and answer.invoke_id == 5
    assert answer.attributes == ((0xF23A, text_ids),)
    assert sim.priority_lists[0xF23A] == text_ids


async def test_timed_poll_keeps_sending_for_its_period(client: Client) -> None:
    # a 4 s minimum poll period: no silence rule, so the client may stay quiet and listen
    await client.send(build_association_request(UserInfo(min_poll_period=4 * 8000)))
    assert isinstance(await client.recv(), AssociationAccept)
    assert isinstance(await client.recv(), MdsCreateEvent)
    period = (10 * 8000).to_bytes(4, "big")  # NOM_ATTR_TIME_PD_POLL: 10 s in 1/8000 s
    poll = PollRequest(9, 9, nom.NOM_MOC_VMO_METRIC_NU, 0, ext_attributes=((0xF13E, period),))
    await client.send(build_poll_request(poll))
    results = [await client.recv(timeout=1.5) for _ in range(10)]
    assert all(isinstance(r, PollResult) and r.invoke_id == 9 for r in results)
    links = [r.linked for r in results if isinstance(r, PollResult)]
    assert links == [(1, 1), *((2, n) for n in range(2, 10)), None]  # linked parts, then closed
    with pytest.raises(TimeoutError):
        await client.recv(timeout=2.0)


async def test_silence_timeout_only_for_short_poll_periods(
    client: Client, sim: IntellivueSimulator
) -> None:
    await client.send(build_association_request(UserInfo(min_poll_period=60 * 8000)))
    assert isinstance(await client.recv(), AssociationAccept)
    assert isinstance(await client.recv(), MdsCreateEvent)
    with pytest.raises(TimeoutError):  # 60 s negotiated: quiet for 30 s is no reason to abort
        await client.recv(timeout=30.0)
    assert sim.stats.aborts_sent == 0
