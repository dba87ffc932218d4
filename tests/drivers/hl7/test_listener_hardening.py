"""The HL7 listener under hostile senders: connection cap, idle timeout, size limit while
reading, bounded loop stalls, and the sender allow-list (real TCP on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
import tracemalloc
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from realtime import drive

from core.clock import RealClock, VirtualClock
from core.model import DeviceEvent, Observation
from drivers.base import DriverOutput
from drivers.hl7.listener import Hl7MllpDriver
from drivers.hl7.message import parse_message
from drivers.hl7.mllp import EB, SB, MllpDecoder, frame
from drivers.hl7.pcd_write import build_oru_r01
from drivers.hl7.senders import SenderPolicy, SenderRule, parse_networks

BEDS = {"ICU^^3": "ICU-3", "ICU^^4": "ICU-4"}
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def oru(location: str, app: str = "CENTRAL", facility: str = "ICU", cid: str = "1") -> bytes:
    return build_oru_r01(
        {"MDC_PULS_OXIM_SAT_O2": 93.0},
        now=T0,
        control_id=cid,
        location=location,
        sending_app=app,
        sending_facility=facility,
    )


@contextlib.asynccontextmanager
async def listening(**kw: object) -> AsyncIterator[tuple[Hl7MllpDriver, list[DriverOutput]]]:
    kw.setdefault("clock", RealClock())
    driver = Hl7MllpDriver(bed_map=BEDS, listen="127.0.0.1:0", **kw)  # type: ignore[arg-type]
    await driver.start()
    out: list[DriverOutput] = []

    async def collect() -> None:
        async for item in driver.stream():
            out.append(item)

    task = asyncio.create_task(collect())
    try:
        yield driver, out
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await driver.aclose()


_ACK_CODES = {"A": "AA", "E": "AE", "R": "AR"}


async def _ack(reader: asyncio.StreamReader) -> str:
    """MSA-1 of the next acknowledgement, as the original-mode code (CA → AA, CR → AR)."""
    raw = await asyncio.wait_for(reader.readuntil(bytes((EB, 0x0D))), 5)
    msg = parse_message(raw.strip(bytes((SB, EB, 0x0D))))
    return _ACK_CODES[next(s for s in msg.segments if s.name == "MSA").field(1)[1]]


async def _closed(reader: asyncio.StreamReader) -> bool:
    try:
        return await asyncio.wait_for(reader.read(1), 5) == b""
    except ConnectionError:
        return True


async def test_connections_past_the_cap_are_refused() -> None:
    async with listening(max_connections=50) as (driver, _):
        conns = [await asyncio.open_connection("127.0.0.1", driver.port) for _ in range(500)]
        try:
            closed = await asyncio.gather(
                *(asyncio.wait_for(r.read(1), 0.5) for r, _ in conns), return_exceptions=True
            )
            # held ones time out waiting for data; refused ones read EOF or a reset at once
            held = sum(isinstance(c, TimeoutError) for c in closed)
            assert held == 50 and driver.connections == 50
            assert driver.refused_connections == 450
        finally:
            for _, w in conns:
                w.close()


async def test_idle_and_slowloris_senders_are_closed() -> None:
    clock = VirtualClock(T0)
    async with listening(clock=clock, idle_timeout=30.0) as (driver, _):
        idle_r, idle_w = await asyncio.open_connection("127.0.0.1", driver.port)
        slow_r, slow_w = await asyncio.open_connection("127.0.0.1", driver.port)
        _busy_r, busy_w = await asyncio.open_connection("127.0.0.1", driver.port)
        message = frame(oru("ICU^^3"))
        for second in range(40):
            slow_w.write(message[second : second + 1])  # one byte a second, never a message
            if second % 10 == 0:
                busy_w.write(message)  # a whole message every 10 s
            await drive(clock, 1.0, step=0.25)
            if second == 25:
                assert driver.connections == 3
        assert await _closed(idle_r) and await _closed(slow_r)
        assert driver.connections == 1 and driver.idle_closed == 2
        for w in (idle_w, slow_w, busy_w):
            w.close()


async def test_an_unterminated_10mb_message_is_cut_at_the_limit() -> None:
    limit = 64 * 1024
    async with listening(max_message=limit) as (driver, out):
        gc.collect()
        tracemalloc.start()
        try:
            baseline = tracemalloc.get_traced_memory()[0]
            reader, writer = await asyncio.open_connection("127.0.0.1", driver.port)
            writer.write(bytes((SB,)) + b"MSH|^~\\&|")
            chunk = b"A" * 65536
            for _ in range(160):  # 10 MiB, no end byte
                writer.write(chunk)
                await writer.drain()
            await asyncio.sleep(0.2)
            _, peak = tracemalloc.get_traced_memory()
            assert driver.status.bad_frames == 1  # cut once, the rest skipped
            # never the whole 10 MiB: the decoder holds at most the limit; the rest of the peak
            # is the socket's own read buffers (asyncio reads up to 256 KiB at a time) and the
            # sending side, which runs in this process too
            assert peak - baseline < 2 * 1024 * 1024
            # the stream resynchronises: the next message is answered
            writer.write(frame(oru("ICU^^3")))
            assert await _ack(reader) == "AA"
            writer.close()
            await asyncio.sleep(0.1)
            gc.collect()
            assert tracemalloc.get_traced_memory()[0] - baseline < 256 * 1024
        finally:
            tracemalloc.stop()
        assert any(isinstance(o, Observation) for o in out)


def test_the_decoder_never_holds_more_than_the_limit() -> None:
    dec = MllpDecoder(max_size=1000)
    dec.feed(bytes((SB,)))
    fed = 0
    while fed < 100_000:
        n = min(4096, dec.room)
        dec.feed(b"x" * n)
        fed += n
        with contextlib.suppress(Exception):
            dec.next_frame()
        assert dec.buffered <= 1001


async def test_big_or_malformed_messages_do_not_stall_the_loop() -> None:
    stalls: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            t = time.perf_counter()
            await asyncio.sleep(0.005)
            stalls.append(time.perf_counter() - t - 0.005)

    async with listening() as (driver, _):
        tick = asyncio.create_task(ticker())
        reader, writer = await asyncio.open_connection("127.0.0.1", driver.port)
        header = oru("ICU^^3").split(b"\r")[0] + b"\r"
        bad = [
            header + b"OBX|1|NM|" + b"^" * 900_000 + b"\r",
            header + b"NTE|" + b"|" * 900_000 + b"\r",
            header + b"\r" * 900_000,
        ]
        try:
            for payload in bad:
                writer.write(frame(payload))
                assert await _ack(reader) in ("AA", "AE", "AR")
            writer.write(b"\r\n" * 400_000 + bytes((SB,)) * 200_000)
            writer.write(frame(oru("ICU^^3")))
            assert await _ack(reader) == "AA"
        finally:
            stop.set()
            await tick
            writer.close()
    assert max(stalls) < 0.05, f"the loop stalled {max(stalls) * 1000:.0f} ms"


def _policy(**rules: SenderRule) -> SenderPolicy:
    return SenderPolicy({bed.replace("_", "-"): r for bed, r in rules.items()})


async def test_an_unknown_sender_gets_ar_and_a_technical_event() -> None:
    async with listening() as (driver, out):
        reader, writer = await asyncio.open_connection("127.0.0.1", driver.port)
        for i in range(3):
            writer.write(frame(oru("ER^^1", app="ROGUE", cid=str(i))))
            assert await _ack(reader) == "AR"
        await asyncio.sleep(0.05)
        writer.close()
    rejected = [o for o in out if isinstance(o, DeviceEvent)]
    assert [e.event for e in rejected] == ["device_sender_rejected"]  # one a minute
    assert rejected[0].bed == "*" and rejected[0].fields["sending_application"] == "ROGUE"
    assert not [o for o in out if isinstance(o, Observation)]


async def test_each_bed_takes_data_only_from_its_sender() -> None:
    policy = _policy(
        ICU_3=SenderRule("CENTRAL", "ICU", parse_networks(["127.0.0.0/8"])),
        ICU_4=SenderRule("CENTRAL", "ICU", parse_networks(["10.9.9.9"])),
    )
    async with listening(senders=policy) as (driver, out):
        reader, writer = await asyncio.open_connection("127.0.0.1", driver.port)
        writer.write(frame(oru("ICU^^3")))
        assert await _ack(reader) == "AA"
        writer.write(frame(oru("ICU^^3", app="LAPTOP", cid="2")))  # right bed, wrong MSH-3
        assert await _ack(reader) == "AR"
        writer.write(frame(oru("ICU^^3", facility="ER", cid="3")))  # wrong MSH-4
        assert await _ack(reader) == "AR"
        writer.write(frame(oru("ICU^^4", cid="4")))  # ICU-4's sender is another address
        assert await _ack(reader) == "AR"
        await asyncio.sleep(0.05)
        writer.close()
    values = [o for o in out if isinstance(o, Observation)]
    assert values and {o.bed for o in values} == {"ICU-3"}
    rejected = [
        o for o in out if isinstance(o, DeviceEvent) and o.event == "device_sender_rejected"
    ]
    assert sorted(e.bed for e in rejected) == ["ICU-3", "ICU-3", "ICU-4"]
    assert "10.9.9.9" not in rejected[-1].fields["reason"]
    assert "does not take data from 127.0.0.1" in rejected[-1].fields["reason"]


async def test_a_connection_from_an_address_no_bed_allows_is_closed() -> None:
    policy = _policy(ICU_3=SenderRule("CENTRAL", None, parse_networks(["10.0.0.0/8"])))
    async with listening(senders=policy) as (driver, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", driver.port)
        assert await _closed(reader)
        assert driver.refused_connections == 1
        writer.close()


def test_bad_networks_are_config_errors() -> None:
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="not an IP address"):
        parse_networks(["10.0.0.300"])
