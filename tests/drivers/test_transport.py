"""drivers.transport over real sockets and ptys: the one place the operating system is tested."""

from __future__ import annotations

import asyncio
import os
import socket
import tty
from collections.abc import AsyncIterator

import pytest

from core.errors import ConfigError, ConnectionLost, DeviceUnreachable
from drivers.transport import SerialSettings, is_serial_url, open_link, split_host_port

pytestmark = pytest.mark.timeout(10)


@pytest.fixture
async def echo_port() -> AsyncIterator[int]:
    """A TCP echo server that closes after echoing b"bye"."""

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(100):
            writer.write(data)
            await writer.drain()
            if data.endswith(b"bye"):
                break
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


@pytest.mark.parametrize("scheme", ["", "tcp://", "socket://"])
async def test_tcp_round_trip_then_closed_by_peer(echo_port: int, scheme: str) -> None:
    link = await open_link(f"{scheme}127.0.0.1:{echo_port}")
    try:
        await link.write(b"hello")
        got = b""
        while len(got) < 5:
            got += await link.read()
        assert got == b"hello"
        await link.write(b"bye")
        with pytest.raises(ConnectionLost, match="closed by peer"):
            while True:
                await link.read()
    finally:
        await link.close()


async def test_nothing_listening_is_unreachable() -> None:
    with socket.socket() as s:  # a port that was free a moment ago, now closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DeviceUnreachable, match=f"127.0.0.1:{port}"):
        await open_link(f"127.0.0.1:{port}")


async def test_missing_serial_device_is_unreachable(tmp_path: os.PathLike[str]) -> None:
    with pytest.raises(DeviceUnreachable):
        await open_link(f"{tmp_path}/ttyUSB9")


async def test_pty_round_trip() -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    link = await open_link(os.ttyname(slave), SerialSettings(baudrate=115200))
    try:
        await link.write(b"ping")
        loop = asyncio.get_running_loop()
        readable = asyncio.Event()
        loop.add_reader(master, readable.set)
        try:
            async with asyncio.timeout(5):
                await readable.wait()
        finally:
            loop.remove_reader(master)
        assert os.read(master, 100) == b"ping"
        os.write(master, b"pong")
        got = b""
        async with asyncio.timeout(5):
            while len(got) < 4:
                got += await link.read()
        assert got == b"pong"
    finally:
        await link.close()
        os.close(master)
        os.close(slave)


def test_addresses() -> None:
    assert split_host_port("tcp://10.0.0.5:4001") == ("10.0.0.5", 4001)
    assert split_host_port("[::1]:502") == ("::1", 502)
    for bad in ("host", "host:0", "host:70000", ":502", "host:x"):
        with pytest.raises(ConfigError):
            split_host_port(bad)
    assert is_serial_url("/dev/ttyUSB0") and is_serial_url("rfc2217://h:1")
    assert not is_serial_url("10.0.0.5:4001") and not is_serial_url("tcp://h:1")


def test_serial_settings_are_checked() -> None:
    for bad in ({"baudrate": 0}, {"bytesize": 9}, {"parity": "M"}, {"stopbits": 3}):
        with pytest.raises(ValueError):
            SerialSettings(**bad)
