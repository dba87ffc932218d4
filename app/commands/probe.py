"""`iaewatch probe`: talk to one device exactly as the service would, print what it decodes.

Observations and events go to stdout as JSON Lines in the replay format (`bed` is `probe`);
connection state, identification and bad-frame counts go to stderr. Exit codes: 0 when at
least one observation was decoded, 1 when it connected but decoded nothing, 2 when it could
not connect (or, for hl7-mllp, when no message was accepted: no sender connected, or every
message was rejected as from an unknown sender).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from app.config import SERIAL_PROTOCOLS, DeviceConfig
from app.devices import Weights, build_driver
from core.clock import RealClock
from core.errors import ConfigError
from core.model import DeviceEvent, Observation
from core.records import dump_record
from core.vocabulary import PROTOCOLS
from drivers.base import Backoff, Driver
from drivers.modbus.profile import load_profile
from drivers.transport import SerialSettings

BED = "probe"


def _driver(
    protocol: str,
    url: str,
    profile: Path | None,
    unit: int,
    role: str,
    drug: str | None,
    baud: int | None,
    parity: str | None,
    sender: str | None,
    seconds: float,
    clock: RealClock,
) -> Driver:
    if protocol not in PROTOCOLS:
        raise ConfigError(
            f"unknown protocol {protocol!r} (known: {', '.join(PROTOCOLS)})", field="--protocol"
        )
    serial = None
    if protocol in SERIAL_PROTOCOLS:
        defaults = {
            "medibus": SerialSettings(baudrate=19200, parity="E"),
            "intellivue": SerialSettings(baudrate=115200, parity="N"),
            "modbus-rtu": SerialSettings(baudrate=19200, parity="E"),
        }[protocol]
        serial = SerialSettings(
            baudrate=baud or defaults.baudrate,
            parity=(parity or defaults.parity).upper()[:1],  # type: ignore[arg-type]
            stopbits=defaults.stopbits,
        )
    d = DeviceConfig(
        bed=BED,
        id=f"probe-{protocol}",
        kind=PROTOCOLS[protocol].kind,
        protocol=protocol,
        address=url,
        line=0,
        unit=unit,
        profile=load_profile(profile) if PROTOCOLS[protocol].kind == "pump" else None,
        role=role,
        drug=drug,
        serial=serial,
        poll_interval=1.0,
        stale_after=10.0,
    )
    if protocol == "hl7-mllp":
        from drivers.hl7.listener import Hl7MllpDriver

        # "*" maps every sender to the probe's bed unless --sender narrows it
        return Hl7MllpDriver(
            bed_map={sender or "*": BED},
            clock=clock,
            listen=url,
            device_id=d.id,
            stale_after=seconds + 1,
        )
    driver = build_driver(d, clock, Weights())
    driver.backoff = Backoff(initial=1.0, cap=2.0)
    return driver


async def _probe(driver: Driver, seconds: float) -> int:
    observations = 0
    connected = False

    async def run() -> None:
        nonlocal observations, connected
        async for item in driver.stream():
            if isinstance(item, DeviceEvent) and item.event == "device_connected":
                connected = True
                ident = {k: v for k, v in item.fields.items() if k not in ("device",)}
                print(f"probe: connected {ident}", file=sys.stderr, flush=True)
            elif isinstance(item, DeviceEvent) and item.event == "device_disconnected":
                print(
                    f"probe: disconnected: {item.fields.get('reason', '')}",
                    file=sys.stderr,
                    flush=True,
                )
            if isinstance(item, Observation):
                observations += 1
            print(dump_record(item), flush=True)

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(run(), seconds)
    closer = getattr(driver, "aclose", None)  # a listener keeps its server between sessions
    if closer is not None:
        await closer()
    s = driver.status
    print(
        f"probe: frames={s.frames} bad_frames={s.bad_frames} reconnects={s.reconnects} "
        f"observations={observations}" + (f" last_error={s.last_error}" if s.last_error else ""),
        file=sys.stderr,
    )
    if observations:
        return 0
    return 1 if connected else 2


def register(cli: typer.Typer) -> None:
    @cli.command()
    def probe(
        url: Annotated[
            str,
            typer.Argument(help="Serial URL, host:port, or (hl7-mllp) the address to listen on."),
        ],
        protocol: Annotated[str, typer.Option(help=", ".join(PROTOCOLS))],
        profile: Annotated[Path | None, typer.Option(help="Pump register profile YAML.")] = None,
        seconds: Annotated[float, typer.Option(help="How long to listen.")] = 10.0,
        unit: Annotated[int, typer.Option(help="Modbus unit id.")] = 1,
        role: Annotated[str, typer.Option(help="Pump role: study or vasopressor.")] = "study",
        drug: Annotated[str | None, typer.Option(help="Vasopressor pump's drug.")] = None,
        baud: Annotated[int | None, typer.Option(help="Serial baud rate.")] = None,
        parity: Annotated[str | None, typer.Option(help="Serial parity N, E or O.")] = None,
        sender: Annotated[
            str | None,
            typer.Option(help="hl7-mllp: accept only this sending application/location."),
        ] = None,
    ) -> None:
        """Connect to one device as the service would; print decoded data as JSON Lines."""
        clock = RealClock()
        driver = _driver(
            protocol, url, profile, unit, role, drug, baud, parity, sender, seconds, clock
        )
        raise typer.Exit(asyncio.run(_probe(driver, seconds)))
