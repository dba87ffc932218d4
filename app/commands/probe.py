"""`iaewatch probe`: talk to one device exactly as the service would, print what it decodes.

Observations and events go to stdout as JSON Lines in the replay format (`bed` is `probe`);
connection state, identification and bad-frame counts go to stderr. Exit codes: 0 when at
least one observation was decoded, 1 when it connected but decoded nothing, 2 when it could
not connect (or, for hl7-mllp, when no message was accepted: no sender connected, or every
message was rejected as from an unknown sender).

hl7-mllp reads times without an offset in `--timezone` (the site's IANA zone; UTC when not
given, and stderr says so). Given a file instead of an address (a capture: MLLP-framed, or
messages one after another starting at their MSH line), it decodes that file offline, exactly
as the listener would (device times judged against the message's own MSH-7, not today), and
prints per message its acknowledgement code to stderr: the way to see how a site's real
messages are read (demo data, vendor codes, code conflicts).

hl7-pump does the same for a pump server (live or a capture): its PCD-01 / PCD-10 / PCD-04
messages are read as the probe's one pump of `--role` (and `--drug`), and printed as the
Modbus pump driver's events (`drivers.hl7.pump_feed`).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from app.config import SERIAL_PROTOCOLS, DeviceConfig
from app.devices import Weights, build_driver
from core.clock import RealClock
from core.errors import ConfigError, DecodeError
from core.model import DeviceEvent, Observation
from core.records import dump_record
from core.vocabulary import PROTOCOLS
from drivers.base import Backoff, Driver
from drivers.hl7.message import parse_dtm, parse_message
from drivers.hl7.mllp import MllpDecoder
from drivers.hl7.pump_feed import PumpSource
from drivers.hl7.receiver import Hl7Receiver
from drivers.modbus.profile import load_profile
from drivers.transport import SerialSettings

BED = "probe"
HL7 = ("hl7-mllp", "hl7-pump")


def _pumps(protocol: str, role: str, drug: str | None) -> dict[str, list[PumpSource]]:
    """hl7-pump: the probe's bed has one pump source of `role` (vasopressor: `drug`)."""
    if protocol != "hl7-pump":
        return {}
    if role not in ("study", "vasopressor"):
        raise ConfigError(f"role must be study or vasopressor, not {role!r}", field="--role")
    vaso = role == "vasopressor"
    source = PumpSource(
        device_id="probe-hl7-pump", role="vasopressor" if vaso else "study", drug=drug
    )
    return {BED: [source]}


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
    tz: tzinfo,
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
        profile=load_profile(profile) if protocol.startswith("modbus") else None,
        role=role,
        drug=drug,
        serial=serial,
        poll_interval=1.0,
        stale_after=10.0,
    )
    if protocol in HL7:
        from drivers.hl7.listener import Hl7MllpDriver

        # "*" maps every sender to the probe's bed unless --sender narrows it
        return Hl7MllpDriver(
            bed_map={sender or "*": BED},
            clock=clock,
            listen=url,
            device_id=d.id,
            stale_after=seconds + 1,
            assume_tz=tz,
            pumps=_pumps(protocol, role, drug),
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


def hl7_messages(data: bytes) -> list[bytes]:
    """The messages of an HL7 capture: MLLP blocks when framed, else split at each MSH line."""
    if b"\x0b" in data:
        decoder = MllpDecoder(max(len(data), 1))
        decoder.feed(data)
        return decoder.frames_available()
    text = data.replace(b"\r\n", b"\r").replace(b"\n", b"\r")
    messages: list[bytes] = []
    for line in text.split(b"\r"):
        if line.startswith(b"MSH") or not messages:
            messages.append(b"")
        if line.strip():
            messages[-1] += line + b"\r"
    return [m for m in messages if m]


def _probe_hl7_file(
    path: Path, sender: str | None, tz: tzinfo, pumps: dict[str, list[PumpSource]]
) -> int:
    receiver = Hl7Receiver(
        bed_map={sender or "*": BED}, device_id="probe-hl7", assume_tz=tz, pumps=pumps
    )
    observations = accepted = 0
    for n, payload in enumerate(hl7_messages(path.read_bytes()), 1):
        out = receiver.receive(payload, _sent_at(payload, tz) or RealClock().now())
        why = f": {out.reason}" if out.reason else ""
        print(f"probe: {path}: message {n} ({out.control_id or '?'}): {out.code}{why}",
              file=sys.stderr)  # fmt: skip
        accepted += out.code == "AA"
        for item in out.outputs:
            observations += isinstance(item, Observation)
            print(dump_record(item), flush=True)
    print(f"probe: messages accepted={accepted} observations={observations}", file=sys.stderr)
    if observations:
        return 0
    return 1 if accepted else 2


def _sent_at(payload: bytes, tz: tzinfo) -> datetime | None:
    """A captured message's MSH-7: its device times are judged against it, not today."""
    try:
        return parse_dtm(parse_message(payload).msh.component(7, 1), tz)
    except DecodeError:
        return None


def _zone(name: str | None) -> tzinfo:
    if name is None:
        print("probe: HL7 times without an offset are read as UTC (--timezone)", file=sys.stderr)
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {name!r}", field="--timezone") from None


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
        timezone: Annotated[
            str | None,
            typer.Option(help="hl7-mllp: the site's IANA zone for times without an offset."),
        ] = None,
    ) -> None:
        """Connect to one device as the service would; print decoded data as JSON Lines."""
        clock = RealClock()
        if protocol in HL7:
            tz = _zone(timezone)
            if Path(url).is_file():
                pumps = _pumps(protocol, role, drug)
                try:
                    raise typer.Exit(_probe_hl7_file(Path(url), sender, tz, pumps))
                except (OSError, DecodeError) as exc:
                    raise ConfigError(f"cannot read {url}: {exc}", file=url) from None
        else:
            tz = UTC
        driver = _driver(
            protocol, url, profile, unit, role, drug, baud, parity, sender, seconds, clock, tz
        )
        raise typer.Exit(asyncio.run(_probe(driver, seconds)))
