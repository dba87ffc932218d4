"""The configured devices by (bed, device id), with their live status: what the device panel,
the bed dicts and the metrics read at request and scrape time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from drivers.base import DeviceStatus


class StatusProvider(Protocol):
    """Anything that can report a device's live status (a driver, or a `DeviceInfo`)."""

    @property
    def status(self) -> DeviceStatus: ...

    @property
    def kind(self) -> str: ...

    @property
    def protocol(self) -> str: ...

    @property
    def address(self) -> str: ...

    @property
    def stale_after(self) -> float:
        """Seconds without data after which the driver drops the session and reconnects."""
        ...


@dataclass(slots=True)
class DeviceInfo:
    """A plain `StatusProvider`: wrap a driver's (shared, mutable) `status` with its config."""

    kind: str
    protocol: str
    address: str
    status: DeviceStatus = field(default_factory=DeviceStatus)
    stale_after: float = 10.0


class DeviceRegistry:
    """Configured devices by (bed, device_id); read at request and scrape time."""

    def __init__(self) -> None:
        self._devices: dict[tuple[str, str], StatusProvider] = {}

    def register(self, bed: str, device_id: str, provider: StatusProvider) -> None:
        key = (bed, device_id)
        if key in self._devices:
            raise ValueError(f"device {device_id!r} at bed {bed!r} is registered twice")
        self._devices[key] = provider

    def unregister(self, bed: str, device_id: str) -> None:
        self._devices.pop((bed, device_id), None)

    def get(self, bed: str, device_id: str) -> StatusProvider | None:
        return self._devices.get((bed, device_id))

    def at_bed(self, bed: str) -> list[tuple[str, StatusProvider]]:
        return [(dev, p) for (b, dev), p in self._devices.items() if b == bed]

    def items(self) -> Iterator[tuple[tuple[str, str], StatusProvider]]:
        return iter(sorted(self._devices.items(), key=lambda kv: kv[0]))

    def __len__(self) -> int:
        return len(self._devices)
