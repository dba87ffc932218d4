"""Byte links the ventilator simulator serves on: a stream connection or a pseudo-terminal.

Both give the simulator's `handle` the same small interface (`ByteLink`). A stream link can be
closed (dropping it ends the connection); a pty is a serial line that stays: "dropping" it
can only mean going silent, as an unplugged cable does.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import tty
from typing import Protocol

from core.clock import Clock


class ByteLink(Protocol):
    name: str
    can_close: bool

    async def read(self) -> bytes:
        """Some bytes; b"" when the peer has gone for good."""
        ...

    async def write(self, data: bytes) -> None: ...

    async def close(self) -> None: ...


class StreamLink:
    """A stream connection: TCP accepted by `asyncio.start_server`, or an in-memory one
    (`simulators.memlink`)."""

    can_close = True

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        peer = writer.get_extra_info("peername")
        self.name = f"link {peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "link"

    async def read(self) -> bytes:
        try:
            return await self._reader.read(4096)
        except OSError:
            return b""

    async def write(self, data: bytes) -> None:
        if self._writer.is_closing():
            return
        with contextlib.suppress(OSError, RuntimeError):
            self._writer.write(data)
            await self._writer.drain()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            self._writer.close()
            await self._writer.wait_closed()


class PtyLink:
    """The master side of a pty; its slave path is what a driver opens as a serial port.

    The simulator keeps the slave open itself, so the line survives a driver closing and
    reopening it. Writes that would block (nobody reading the slave) are dropped after a short
    wait, as bytes sent down a cable with nobody listening are lost.
    """

    can_close = False

    def __init__(self, clock: Clock, write_wait_s: float = 1.0) -> None:
        self._clock = clock
        self._write_wait_s = write_wait_s
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # no echo, no line editing: bytes pass as they are
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        self.name = f"pty {self.path}"
        self._closed = False

    async def _wait(self, writable: bool) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()

        def ready() -> None:
            if not fut.done():
                fut.set_result(None)

        if writable:
            loop.add_writer(self.master, ready)
        else:
            loop.add_reader(self.master, ready)
        try:
            await fut
        finally:
            if writable:
                loop.remove_writer(self.master)
            else:
                loop.remove_reader(self.master)

    async def read(self) -> bytes:
        while not self._closed:
            try:
                data = os.read(self.master, 4096)
            except BlockingIOError:
                await self._wait(writable=False)
                continue
            except OSError as exc:
                if exc.errno != errno.EIO:
                    return b""
                await self._clock.sleep(0.05)  # no slave opener right now; the line stays
                continue
            if data:
                return data
        return b""

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view and not self._closed:
            try:
                n = os.write(self.master, view)
            except BlockingIOError:
                try:
                    await self._clock.wait_for(self._wait(writable=True), self._write_wait_s)
                except TimeoutError:
                    return  # nobody is reading the line: the rest is lost
                continue
            except OSError:
                return
            view = view[n:]

    async def close(self) -> None:
        """A pty line is not closed by a dropped session; see `close_line`."""

    def close_line(self) -> None:
        if self._closed:
            return
        self._closed = True
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)
