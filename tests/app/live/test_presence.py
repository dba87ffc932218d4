"""Device presence: what a device's dot shows (connected, stale, offline, connecting), since
when, and the push a station gets when a connected device falls silent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from app.live.presence import PresenceWatch
from app.live.registry import DeviceInfo, DeviceRegistry
from app.live.views import device_dict, presence
from core.clock import VirtualClock
from drivers.base import ConnectionState, DeviceStatus

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def monitor(status: DeviceStatus) -> DeviceInfo:
    return DeviceInfo("monitor", "intellivue", "socket://10.0.0.9:24105", status, stale_after=10.0)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def test_a_connected_device_is_stale_from_half_its_stale_after_aged_from_its_last_frame() -> None:
    status = DeviceStatus(ConnectionState.CONNECTED, since=T0, last_frame=at(30))
    dev = monitor(status)
    assert presence(dev, at(34.9)) == ("connected", T0)
    assert presence(dev, at(35)) == ("stale", at(30))
    d = device_dict("ICU-1", "mon", dev, at(36))
    assert (d["stale"], d["presence"], d["presence_since"]) == (
        True,
        "stale",
        "2026-03-01T08:00:30Z",
    )
    assert d["stale_after_s"] == 10.0
    # connected a moment ago and nothing yet: quiet counts from the connection
    fresh = monitor(DeviceStatus(ConnectionState.CONNECTED, since=at(100), last_frame=at(30)))
    assert presence(fresh, at(104)) == ("connected", at(100))


def test_offline_is_aged_from_the_last_data_across_reconnect_attempts() -> None:
    status = DeviceStatus(ConnectionState.DISCONNECTED, since=at(40), last_frame=at(30))
    dev = monitor(status)
    assert presence(dev, at(41)) == ("offline", at(30))
    status.state, status.since = ConnectionState.CONNECTING, at(45)  # the next attempt
    assert presence(dev, at(45)) == ("offline", at(30))
    # never any data, but an attempt failed: offline since the current attempt's state
    failing = monitor(DeviceStatus(ConnectionState.CONNECTING, since=at(5), last_error="refused"))
    assert presence(failing, at(6)) == ("offline", at(5))
    first = monitor(DeviceStatus(ConnectionState.CONNECTING, since=at(0)))
    assert presence(first, at(1)) == ("connecting", at(0))


class Hub:
    def __init__(self) -> None:
        self.devices: list[dict[str, Any]] = []

    async def publish_device(self, device: dict[str, Any]) -> None:
        self.devices.append(device)


async def test_the_watch_pushes_a_device_once_per_change_of_what_its_dot_shows() -> None:
    clock = VirtualClock(T0)
    status = DeviceStatus(ConnectionState.CONNECTED, since=T0, last_frame=T0)
    devices = DeviceRegistry()
    devices.register("ICU-1", "mon", monitor(status))
    hub = Hub()
    watch = PresenceWatch(SimpleNamespace(clock=clock, devices=devices, hub=hub))  # type: ignore[arg-type]
    assert await watch.check() == 0  # the first look only learns what is shown
    await clock.advance(4.0)
    assert await watch.check() == 0
    await clock.advance(1.0)
    assert await watch.check() == 1
    assert [(d["device_id"], d["presence"]) for d in hub.devices] == [("mon", "stale")]
    assert await watch.check() == 0  # still stale: no second push
    status.last_frame = clock.now()  # data again
    assert await watch.check() == 1
    assert hub.devices[-1]["presence"] == "connected" and hub.devices[-1]["stale"] is False
