"""`iaewatch gateway`: a bedside gateway — device drivers only, publishing to the MQTT bus.

The station service (`iaewatch serve` with `IAEWATCH_MQTT_URL` set) consumes what gateways
publish; the gateway keeps no database and runs no rules. Drivers never wait on the broker:
messages go to an outbox, spooled to `--spool-dir` while the broker is away and replayed in
order, after a gateway restart too (drop policy: `app.mqtt.bus`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from app.mqtt import MqttBus
    from core.clock import Clock

STATUS_EVERY_S = 60.0
DEFAULT_SPOOL_DIR = Path.home() / ".iaewatch" / "spool"
SPOOL_FILE = "gateway.sqlite"


async def report(bus: MqttBus, clock: Clock) -> None:
    """Log the outbox's figures every `STATUS_EVERY_S` while they are not all zero."""
    log = logging.getLogger("iaewatch.gateway")
    while True:
        await clock.sleep(STATUS_EVERY_S)
        if bus.pending or bus.dropped:
            log.warning(
                "mqtt: %d message(s) waiting for the broker, %d observation(s) dropped so far",
                bus.pending,
                bus.dropped,
            )


def register(cli: typer.Typer) -> None:
    @cli.command()
    def gateway(
        config: Annotated[
            Path,
            typer.Option(help="ICU configuration: the beds this gateway serves and their devices."),
        ],
        mqtt_url: Annotated[
            str, typer.Option(envvar="IAEWATCH_MQTT_URL", help="Broker, e.g. mqtt://station:1883.")
        ],
        beds: Annotated[
            list[str] | None,
            typer.Option("--bed", help="Only these beds of the file (repeatable)."),
        ] = None,
        spool_dir: Annotated[
            Path,
            typer.Option(
                envvar="IAEWATCH_MQTT_SPOOL_DIR",
                help="Where messages wait while the broker is away (one directory per gateway).",
            ),
        ] = DEFAULT_SPOOL_DIR,
        prefix: Annotated[
            str, typer.Option(envvar="IAEWATCH_MQTT_PREFIX", help="Topic prefix.")
        ] = "iaewatch",
    ) -> None:
        """Read the configured devices and publish their data to the MQTT bus."""
        from app.config import HL7_PROTOCOLS, load_config
        from app.devices import Weights, build_driver, build_hl7_listeners, pump_into
        from app.mqtt import MqttBus
        from app.runner import configure_logging
        from core.clock import RealClock
        from core.errors import ConfigError

        configure_logging()
        icu = load_config(config)
        devices = [d for d in icu.devices() if not beds or d.bed in beds]
        if not devices:
            raise ConfigError(f"no devices for bed(s) {', '.join(beds or [])}", file=str(config))
        bus = MqttBus(mqtt_url, prefix=prefix, receive=False, spool=spool_dir / SPOOL_FILE)

        async def main() -> None:
            clock = RealClock()
            drivers = [
                build_driver(d, clock, Weights())
                for d in devices
                if d.protocol not in HL7_PROTOCOLS
            ]
            shared: dict[int, dict[str, str]] = {}
            hl7 = [d for d in devices if d.protocol in HL7_PROTOCOLS]
            for group, drv in build_hl7_listeners(hl7, clock, tz=icu.site.tz) if hl7 else []:
                drivers.append(drv)
                shared[id(drv)] = {d.bed: d.id for d in group}
            await bus.start()
            typer.echo(
                f"iaewatch gateway: {len(devices)} device(s) → {mqtt_url}"
                + ("" if bus.connected else " (broker not reachable yet; retrying)")
                + (f"; {bus.pending} spooled message(s) to replay" if bus.pending else "")
            )
            tasks = [
                asyncio.create_task(pump_into(drv, bus, shared.get(id(drv)))) for drv in drivers
            ]
            tasks.append(asyncio.create_task(report(bus, clock)))
            try:
                await asyncio.gather(*tasks)
            finally:
                for t in tasks:
                    t.cancel()
                for t in tasks:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await t
                await bus.close()

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main())
