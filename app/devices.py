"""Device drivers as an app service: built from the ICU configuration, run for the app's life.

Each driver's stream is drained into the bus by its own task; a driver never stops the
service (its `stream()` reconnects with backoff and reports `device_disconnected`). HL7
devices that share a listen address share one listener, whose sender → bed map is the union
of their `sender` identifiers; `hl7-pump` devices (pumps behind a pump server) are that
listener's pump sources (`drivers.hl7.pump_feed`). Pumps learn the patient's weight from the
enrolment record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import tzinfo
from typing import cast

from app.config import HL7_PROTOCOLS, DeviceConfig, IcuConfig
from app.context import AppContext
from app.hl7_access import sender_policy, server_tls
from core.bus import Bus
from core.clock import Clock
from core.model import DeviceEvent
from drivers.base import DeviceStatus, Driver, DriverOutput

log = logging.getLogger(__name__)

WEIGHT_REFRESH_S = 30.0


@dataclass(slots=True)
class RunningDevice:
    """What the registry shows for one configured device: its config and its driver's status."""

    config: DeviceConfig
    driver: Driver

    @property
    def status(self) -> DeviceStatus:
        return self.driver.status

    @property
    def kind(self) -> str:
        return self.config.kind

    @property
    def protocol(self) -> str:
        return self.config.protocol

    @property
    def address(self) -> str:
        return self.config.address

    @property
    def stale_after(self) -> float:
        return self.config.stale_after


class Weights:
    """Patient weight per bed, from the store, refreshed in the background."""

    def __init__(self) -> None:
        self.by_bed: dict[str, float] = {}

    def of(self, bed: str) -> Callable[[], float | None]:
        return lambda: self.by_bed.get(bed)


def build_driver(d: DeviceConfig, clock: Clock, weights: Weights) -> Driver:
    """The driver for one configured (non-HL7) device."""
    if d.protocol in ("modbus-tcp", "modbus-rtu"):
        from drivers.modbus.driver import ModbusPumpDriver

        assert d.profile is not None
        return ModbusPumpDriver(
            bed=d.bed,
            device_id=d.id,
            clock=clock,
            profile=d.profile,
            transport="tcp" if d.protocol == "modbus-tcp" else "rtu",
            address=d.address,
            unit=d.unit,
            role="vasopressor" if d.role == "vasopressor" else "study",
            drug=d.drug,
            concentration_ug_ml=d.concentration_ug_ml,
            weight_kg=weights.of(d.bed),
            serial_settings=d.serial,
            poll_interval=d.poll_interval,
            stale_after=d.stale_after,
        )
    if d.protocol in ("medibus", "intellivue"):
        from drivers.intellivue.driver import IntellivueDriver
        from drivers.medibus.driver import MedibusDriver

        serial_driver = MedibusDriver if d.protocol == "medibus" else IntellivueDriver
        assert d.serial is not None
        return serial_driver(
            bed=d.bed,
            device_id=d.id,
            url=d.address,
            clock=clock,
            serial_settings=d.serial,
            poll_interval=d.poll_interval,
            stale_after=d.stale_after,
        )
    raise ValueError(f"no driver for protocol {d.protocol}")


def build_hl7_listeners(
    devices: list[DeviceConfig], clock: Clock, *, tz: tzinfo, weights: Weights | None = None
) -> list[tuple[list[DeviceConfig], Driver]]:
    """One listener per listen address, mapping each sender identifier to its bed; HL7 times
    without an offset are read in the site's zone `tz` (`SiteConfig.tz`), never assumed UTC.
    A pump server's listener (`hl7-pump`) is named `hl7-pump@<address>`: its outputs carry
    each pump's own device id."""
    from drivers.hl7.listener import Hl7MllpDriver
    from drivers.hl7.pump_feed import PumpSource

    weights = weights or Weights()

    by_address: dict[str, list[DeviceConfig]] = defaultdict(list)
    for d in devices:
        by_address[d.address].append(d)
    out: list[tuple[list[DeviceConfig], Driver]] = []
    for address, group in by_address.items():
        bed_map = {value: d.bed for d in group for value in d.sender.values()}
        replies = {value: d.pcd04_reply for d in group for value in d.sender.values()}
        pumps: dict[str, list[PumpSource]] = defaultdict(list)
        for d in group:
            if d.protocol == "hl7-pump":
                pumps[d.bed].append(
                    PumpSource(
                        device_id=d.id,
                        role="vasopressor" if d.role == "vasopressor" else "study",
                        drug=d.drug,
                        concentration_ug_ml=d.concentration_ug_ml,
                        ids=(d.sender["eui64"],) if "eui64" in d.sender else (),
                        weight_kg=weights.of(d.bed),
                    )
                )
        driver = Hl7MllpDriver(
            bed_map=bed_map,
            assume_tz=tz,
            pcd04_reply=replies,
            clock=clock,
            listen=address,
            device_id=f"hl7-pump@{address}" if pumps else group[0].id,
            stale_after=group[0].stale_after,
            pumps=pumps,
            senders=sender_policy((d.bed, d.sender, d.allow_from) for d in group),
            ssl_context=server_tls(next((d.tls for d in group if d.tls), None)),
        )
        out.append((group, driver))
    return out


async def pump_into(
    driver: Driver, bus: Bus, shared: dict[str, str] | None = None, *, start_after: float = 0.0
) -> None:
    """Publish a driver's output. `shared` (bed → device id) is for one listener serving
    several beds: its own events (bed "*") go to every bed it serves, and each message is
    labelled with the device id configured at its bed (a pump server's outputs already carry
    their pump's)."""
    if start_after > 0:  # spread the first polls of many devices over a poll interval
        await driver.clock.sleep(start_after)
    # aclosing: a cancelled consumer must close the driver's session (link, reader task) now
    stream = cast(AsyncGenerator[DriverOutput, None], driver.stream())
    async with contextlib.aclosing(stream) as items:
        async for item in items:
            if shared is None:
                await bus.publish(item)
            elif item.bed == "*" and isinstance(item, DeviceEvent):
                for bed, device_id in shared.items():
                    fields = {**item.fields, "device": device_id}
                    await bus.publish(replace(item, bed=bed, device=device_id, fields=fields))
            elif item.bed in shared and item.device == driver.device_id:
                await bus.publish(replace(item, device=shared[item.bed]))
            elif item.bed in shared:
                await bus.publish(item)


async def _refresh_weights(ctx: AppContext, beds: list[str], weights: Weights) -> None:
    while True:
        for bed in beds:
            try:
                patient = await ctx.store.patient_at_bed(bed)
            except Exception:  # the store may be briefly unavailable; keep the last weight
                log.debug("weight refresh failed for %s", bed, exc_info=True)
                continue
            if patient is not None and patient.weight_kg:
                weights.by_bed[bed] = float(patient.weight_kg)
        await ctx.clock.sleep(WEIGHT_REFRESH_S)


def devices_service(
    config: IcuConfig,
) -> Callable[[AppContext], contextlib.AbstractAsyncContextManager[list[RunningDevice]]]:
    """Run every configured device's driver for the app's lifetime."""

    @contextlib.asynccontextmanager
    async def run(ctx: AppContext) -> AsyncIterator[list[RunningDevice]]:
        weights = Weights()
        running: list[RunningDevice] = []
        for bed in config.beds:
            await ctx.store.upsert_bed(bed.bed, label=bed.label)
            for d in bed.devices:
                await ctx.store.upsert_device(
                    bed=d.bed, device_id=d.id, kind=d.kind, protocol=d.protocol, address=d.address
                )
        plain = [d for d in config.devices() if d.protocol not in HL7_PROTOCOLS]
        for d in plain:
            running.append(RunningDevice(d, build_driver(d, ctx.clock, weights)))
        hl7 = [d for d in config.devices() if d.protocol in HL7_PROTOCOLS]
        tz = config.site.tz
        for group, driver in build_hl7_listeners(hl7, ctx.clock, tz=tz, weights=weights):
            running += [RunningDevice(d, driver) for d in group]
        for r in running:
            ctx.devices.register(r.config.bed, r.config.id, r)
        shared: dict[int, dict[str, str]] = {}
        for r in running:
            if r.config.protocol in HL7_PROTOCOLS:
                shared.setdefault(id(r.driver), {})[r.config.bed] = r.config.id
        drivers = list({id(r.driver): r.driver for r in running}.values())
        tasks = [
            asyncio.create_task(
                pump_into(drv, ctx.bus, shared.get(id(drv)), start_after=i / len(drivers)),
                name=f"driver-{drv.device_id}",
            )
            for i, drv in enumerate(drivers)
        ]
        tasks.append(
            asyncio.create_task(
                _refresh_weights(ctx, [b.bed for b in config.beds], weights), name="weights"
            )
        )
        try:
            yield running
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            for drv in drivers:
                closer = getattr(drv, "aclose", None)  # listeners keep a server between sessions
                if closer is not None:
                    with contextlib.suppress(Exception):
                        await closer()
            for r in running:
                ctx.devices.unregister(r.config.bed, r.config.id)

    return run
