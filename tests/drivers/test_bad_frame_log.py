"""Bad frames: every one counted, one log line per kind per device a minute."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from core.clock import VirtualClock
from drivers.base import BAD_FRAME_LOG_EVERY_S, Driver, DriverOutput


class _Quiet(Driver):
    protocol = "test"

    async def _session(self) -> AsyncIterator[DriverOutput]:  # pragma: no cover - unused
        return
        yield


def test_one_line_per_kind_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    clock = VirtualClock()
    driver = _Quiet(bed="ICU-1", device_id="vent", clock=clock)
    with caplog.at_level(logging.WARNING, logger="drivers.base"):
        for i in range(1000):
            driver.count_bad_frame(f"checksum 0x{i % 7}{i % 3} wrong in frame {i}")
            driver.count_bad_frame("frame too short")
        assert driver.status.bad_frames == 2000
        assert sum(driver.status.bad_frame_kinds.values()) == 2000
        assert len(caplog.records) == 2  # one per kind (numbers do not make a new kind)
        clock.set(clock.now() + timedelta(seconds=BAD_FRAME_LOG_EVERY_S))
        driver.count_bad_frame("frame too short")
    assert len(caplog.records) == 3
    assert "999 more of this kind in the last minute" in caplog.records[-1].getMessage()
