"""The in-memory link: bytes arrive intact and in order whatever the split and delay; faults."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.clock import VirtualClock
from core.errors import ConnectionLost, DeviceUnreachable
from simulators.memlink import LinkFaults, MemoryConnection, MemoryServer

_FAST = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


async def _reads_until_eof(reader: asyncio.StreamReader) -> list[bytes]:
    reads: list[bytes] = []
    while data := await reader.read(65536):
        reads.append(data)
    return reads


@_FAST
@given(
    writes=st.lists(st.binary(min_size=1, max_size=200), min_size=1, max_size=8),
    max_chunk=st.integers(0, 17),
    delay=st.sampled_from([0.0, 0.05, 0.3]),
    seed=st.integers(0, 2**16),
)
async def test_any_split_and_delay_arrives_intact_and_in_order(
    writes: list[bytes], max_chunk: int, delay: float, seed: int
) -> None:
    clock = VirtualClock()
    faults = LinkFaults(max_chunk=max_chunk, delay_s=delay)
    conn = MemoryConnection(clock, random.Random(seed), to_server=faults)
    (_, client_w), (server_r, server_w) = conn.streams()
    reading = asyncio.ensure_future(_reads_until_eof(server_r))  # always waiting for bytes
    for data in writes:
        client_w.write(data)
        await clock.advance(0.02)
    client_w.close()
    await clock.advance(delay)
    reads = await reading
    got = b"".join(reads)
    assert got == b"".join(writes)
    stats = conn.client.stats
    assert stats.bytes == len(got) and stats.writes == len(writes) and stats.flipped == 0
    if max_chunk:  # the reader sees every chunk on its own
        assert stats.chunks == len(reads) >= len(writes)
        assert max(len(r) for r in reads) <= max_chunk
    await client_w.wait_closed()
    await server_w.wait_closed()


async def test_delay_is_on_the_virtual_clock(vclock: VirtualClock) -> None:
    (_, w), (r, _) = MemoryConnection(vclock, to_server=LinkFaults(delay_s=2.0)).streams()
    w.write(b"hello")
    read = asyncio.ensure_future(r.read(100))
    await vclock.advance(1.99)
    assert not read.done()
    await vclock.advance(0.01)
    assert read.done() and read.result() == b"hello"
    w.close()
    await w.wait_closed()


@_FAST
@given(seed=st.integers(0, 2**16), n=st.integers(1, 30))
async def test_flips_change_exactly_one_bit_of_a_write(seed: int, n: int) -> None:
    clock = VirtualClock()
    faults = LinkFaults(flip_rate=1.0)
    (_, w), (r, _) = MemoryConnection(clock, random.Random(seed), to_server=faults).streams()
    data = bytes(range(n))
    w.write(data)
    await clock.advance(0.01)
    got = await r.read(100)
    assert len(got) == n
    assert sum(bin(a ^ b).count("1") for a, b in zip(got, data, strict=True)) == 1
    w.close()
    await w.wait_closed()


async def test_same_seed_same_faults(vclock: VirtualClock) -> None:
    async def run(seed: int) -> bytes:
        faults = LinkFaults(flip_rate=0.5)
        (_, w), (r, _) = MemoryConnection(vclock, random.Random(seed), to_server=faults).streams()
        for i in range(20):
            w.write(bytes([i]) * 8)
        w.close()
        await vclock.advance(0.1)
        return await r.read()

    assert await run(7) == await run(7)
    assert await run(7) != await run(8)


async def test_closing_delivers_what_was_written_then_eof(vclock: VirtualClock) -> None:
    conn = MemoryConnection(vclock, to_server=LinkFaults(delay_s=1.0))
    (client_r, w), (r, server_w) = conn.streams()
    w.write(b"last words")
    w.close()
    await vclock.advance(1.0)
    assert await r.read() == b"last words"
    assert await client_r.read() == b""
    await w.wait_closed()
    await server_w.wait_closed()


async def test_server_drop_and_refuse(vclock: VirtualClock) -> None:
    seen: list[bytes] = []

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(100):
            seen.append(data)
            writer.write(data)
            await writer.drain()

    async with MemoryServer(echo, vclock) as server:
        link = await server.open_link("mem://echo")
        await link.write(b"ping")
        assert await link.read() == b"ping"
        server.drop()
        with pytest.raises(ConnectionLost):
            await link.read()
        with pytest.raises(ConnectionLost):
            await link.write(b"after the drop")
            await link.write(b"after the drop")
        await link.close()
        server.refuse = True
        with pytest.raises(DeviceUnreachable, match="refused"):
            await server.open_link("mem://echo")
        server.refuse = False
        again = await server.open_link("mem://echo")
        await again.write(b"pong")
        assert await again.read() == b"pong"
        assert server.accepted == 2 and len(server.open_connections) == 1
        await again.close()
        await vclock.advance(0)
    assert seen == [b"ping", b"pong"]
    assert server.open_connections == []
