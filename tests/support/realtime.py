"""Helpers for tests that mix the virtual clock with real sockets."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

from core.clock import VirtualClock


def free_port() -> int:
    """A TCP port nothing listens on now (for a server a test starts, or for nothing)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def drive(clock: VirtualClock, seconds: float, step: float = 0.05) -> None:
    """Move the virtual clock on by `seconds`, letting real socket I/O run between steps."""
    end = clock.monotonic() + seconds
    while (left := end - clock.monotonic()) > 1e-9:
        await clock.advance(min(step, left))
        await asyncio.sleep(0.002)


async def drive_until(
    clock: VirtualClock, check: Callable[[], bool], seconds: float, step: float = 0.25
) -> None:
    """`drive` until `check()` holds; AssertionError when `seconds` of virtual time pass
    first (a bound on a stuck component, not a verdict on its timing)."""
    end = clock.monotonic() + seconds
    while not check():
        assert clock.monotonic() < end, f"not reached within {seconds:g} s of virtual time"
        await drive(clock, step)
