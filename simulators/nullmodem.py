"""A software null-modem cable: two pseudo-terminals whose masters are bridged.

Programs that open a serial port by path (pymodbus's serial server, our drivers) can then talk
over a real tty on both ends: `path_a` ↔ `path_b`. Used by simulators that need a serial path
on their own side as well as the device side.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from collections.abc import AsyncIterator


@contextlib.asynccontextmanager
async def pty_null_modem() -> AsyncIterator[tuple[str, str]]:
    """Yield two tty paths wired to each other; the bridge stops on exit."""
    loop = asyncio.get_running_loop()
    m1, s1 = os.openpty()
    m2, s2 = os.openpty()
    for fd in (s1, s2):
        tty.setraw(fd)
    for fd in (m1, m2):
        os.set_blocking(fd, False)

    def forward(src: int, dst: int) -> None:
        try:
            data = os.read(src, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return  # slave side closed (EIO); it may be reopened
        if data:
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(dst, data)

    loop.add_reader(m1, forward, m1, m2)
    loop.add_reader(m2, forward, m2, m1)
    try:
        yield os.ttyname(s1), os.ttyname(s2)
    finally:
        loop.remove_reader(m1)
        loop.remove_reader(m2)
        for fd in (m1, m2, s1, s2):
            with contextlib.suppress(OSError):
                os.close(fd)
