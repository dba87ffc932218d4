"""Byte links to devices: serial URLs and TCP, behind one small interface.

A serial URL is anything pyserial's `serial_for_url` opens (`/dev/ttyUSB0`, a pty such as
`/dev/pts/5`, `rfc2217://host:port`) plus `socket://host:port`, opened as a plain asyncio TCP
connection. `tcp://host:port` and bare `host:port` are TCP. Foreign exceptions (OSError,
serial.SerialException) are translated here into `DeviceUnreachable` / `ConnectionLost`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import serial
import serial_asyncio_fast

from core.errors import ConfigError, ConnectionLost, DeviceUnreachable

try:  # termios.error is not an OSError; a pty refusing parity raises it (EINVAL)
    import termios

    _LINE_ERRORS: tuple[type[Exception], ...] = (termios.error,)
except ImportError:  # pragma: no cover - not POSIX
    _LINE_ERRORS = ()

Parity = Literal["N", "E", "O"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SerialSettings:
    """Line settings for a serial link (ignored for TCP and socket:// links)."""

    baudrate: int = 19200
    bytesize: int = 8
    parity: Parity = "N"
    stopbits: float = 1

    def __post_init__(self) -> None:
        if self.baudrate <= 0:
            raise ValueError("baudrate must be positive")
        if self.bytesize not in (5, 6, 7, 8):
            raise ValueError("bytesize must be 5-8")
        if self.parity not in ("N", "E", "O"):
            raise ValueError("parity must be N, E or O")
        if self.stopbits not in (1, 1.5, 2):
            raise ValueError("stopbits must be 1, 1.5 or 2")


def split_host_port(address: str) -> tuple[str, int]:
    """`host:port` (optionally `tcp://host:port`) → (host, port); ConfigError when malformed."""
    text = address.removeprefix("tcp://").removeprefix("socket://")
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(f"not a host:port address: {address!r}", field="address")
    return host.strip("[]"), int(port_text)


def is_serial_url(url: str) -> bool:
    """True for device paths and pyserial URL schemes; False for plain TCP addresses."""
    return url.startswith(("/", "rfc2217://", "loop://", "spy://", "COM", "socket://"))


class Link:
    """An open byte stream to one device (any asyncio stream pair: TCP, serial, in memory)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str):
        self._reader = reader
        self._writer = writer
        self.name = name

    async def read(self, max_bytes: int = 4096) -> bytes:
        """Some bytes (at least one); ConnectionLost at end of stream or on error."""
        try:
            data = await self._reader.read(max_bytes)
        except (OSError, serial.SerialException) as exc:
            raise ConnectionLost(f"{self.name}: {exc}") from exc
        if not data:
            raise ConnectionLost(f"{self.name}: closed by peer")
        return data

    async def write(self, data: bytes) -> None:
        try:
            self._writer.write(data)
            await self._writer.drain()
        except (OSError, serial.SerialException, RuntimeError) as exc:
            raise ConnectionLost(f"{self.name}: {exc}") from exc

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            self._writer.close()
            await asyncio.wait_for(self._writer.wait_closed(), 1.0)


async def open_link(url: str, serial_settings: SerialSettings | None = None) -> Link:
    """Open `url` (serial URL, socket://, tcp:// or host:port); DeviceUnreachable on failure."""
    settings = serial_settings or SerialSettings()
    try:
        if url.startswith("socket://") or not is_serial_url(url):
            host, port = split_host_port(url)
            reader, writer = await asyncio.open_connection(host, port)
        else:
            reader, writer = await serial_asyncio_fast.open_serial_connection(
                url=url,
                baudrate=settings.baudrate,
                bytesize=settings.bytesize,
                parity=settings.parity,
                stopbits=settings.stopbits,
            )
    except (OSError, serial.SerialException, ValueError, *_LINE_ERRORS) as exc:
        raise DeviceUnreachable(f"{url}: {exc}") from exc
    return Link(reader, writer, url)


Opener = Callable[[str, SerialSettings | None], Awaitable[Link]]
"""How a driver opens its address: `open_link`, or a test's in-memory link
(`simulators.memlink.MemoryServer.open_link`), which returns the same `Link`."""
