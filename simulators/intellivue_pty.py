"""A pseudo-terminal as the simulated monitor's serial port.

`PtyPort.open()` makes a pty pair in raw mode and keeps its own slave descriptor open, so the
master never sees EIO while the driver closes and reopens the slave path between sessions.
Like a real RS-232 line, bytes written while nobody reads are dropped once the kernel buffer
is full.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty

_READ_SIZE = 4096


class PtyPort:
    """Master side of a pty: `read()` / `write()` for the simulator, `path` for the driver."""

    def __init__(self, master: int, slave: int) -> None:
        self._master = master
        self._slave = slave
        self.path = os.ttyname(slave)
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._closed = False
        self.dropped_bytes = 0
        os.set_blocking(master, False)
        self._loop.add_reader(master, self._readable)

    @classmethod
    async def open(cls) -> PtyPort:
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no line editing, no CR/LF translation
        return cls(master, slave)

    def _readable(self) -> None:
        try:
            data = os.read(self._master, _READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._loop.remove_reader(self._master)
        self._queue.put_nowait(data)

    async def read(self) -> bytes:
        """Bytes the driver wrote (b"" once the pty is gone)."""
        if self._closed:
            return b""
        return await self._queue.get()

    async def write(self, data: bytes) -> None:
        if self._closed:
            return
        try:
            written = os.write(self._master, data)
        except BlockingIOError:
            written = 0
        except OSError:
            return
        self.dropped_bytes += len(data) - written

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._loop.remove_reader(self._master)
        self._queue.put_nowait(b"")
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
