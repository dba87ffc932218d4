"""`iaewatch simulate ...`: software devices driven by a simulated patient, and recordings.

    iaewatch simulate record SCENARIO --out FILE.jsonl [--beds N] [--hours H] [--period S]
    iaewatch simulate monitor|ventilator|pump [--scenario F] [--speed N] [--tcp H:P | --pty]
    iaewatch simulate hl7 --to HOST:PORT [--scenario F] [--speed N]
    iaewatch simulate hl7-pump --to HOST:PORT [--scenario F] [--speed N]
    iaewatch simulate bed [--scenario F] [--speed N] [--tcp H:P | --pty] [--hl7-to H:P]
    iaewatch simulate alarm-manager|webhook-sink ...   (app.commands.simulate_receivers)

SCENARIO is a file or the name of a shipped scenario (`fever`, see docs/scenarios.md). Device
commands print each address, then one line per scenario step and event; Ctrl-C stops them.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from app.commands.simulate_receivers import register_receivers
from core.errors import ConfigError
from simulators.bed import BED_DEVICES, ScaledClock, SimulatedBed, parse_hostport
from simulators.recording import DEFAULT_INFUSION_AT, record_file
from simulators.scenario import Scenario, load_scenario, parse_offset, resolve_scenario

ScenarioOpt = Annotated[
    str,
    typer.Option(
        "--scenario", "-s", help="Scenario file, or a shipped scenario's name (fever, ...)."
    ),
]
SpeedOpt = Annotated[
    float, typer.Option("--speed", min=0.001, help="Simulated time runs this many × real time.")
]
TcpOpt = Annotated[str, typer.Option("--tcp", help="HOST:PORT to listen on (port 0: a free port).")]
PtyOpt = Annotated[bool, typer.Option("--pty", help="Serve on pseudo-terminals instead of TCP.")]
BedOpt = Annotated[str | None, typer.Option("--bed", help="Which bed of a multi-bed scenario.")]
FromOpt = Annotated[
    str | None,
    typer.Option("--from", help="Begin at this scenario time (e.g. -5m, +0) instead of its start."),
]
SecondsOpt = Annotated[
    float | None, typer.Option("--seconds", help="Stop after this many real seconds.")
]


def register(cli: typer.Typer) -> None:
    sim = typer.Typer(
        help="Simulated devices (monitor, ventilator, pump, HL7, a whole bed) and recordings.",
        no_args_is_help=True,
    )
    cli.add_typer(sim, name="simulate")
    register_receivers(sim)

    @sim.command("record")
    def record(
        scenario: Annotated[str, typer.Argument(help="Scenario file or shipped name.")],
        out: Annotated[Path, typer.Option("--out", "-o", help="JSON Lines file to write.")],
        beds: Annotated[
            int | None, typer.Option("--beds", min=1, help="Number of beds (ICU-1..ICU-N).")
        ] = None,
        hours: Annotated[
            float, typer.Option("--hours", min=0.0, help="Hours after infusion start to record.")
        ] = 24.0,
        period: Annotated[
            float, typer.Option("--period", min=0.01, help="Sample period in seconds.")
        ] = 1.0,
        start: Annotated[
            str | None,
            typer.Option("--start", help="Wall time of infusion start (ISO 8601 with a zone)."),
        ] = None,
    ) -> None:
        """Render a scenario to a recorded stream (offline, as fast as it computes)."""
        scen = _load(scenario)
        if beds is not None:
            scen = scen.for_beds(beds)
        infusion_at = _parse_start(start)
        n = record_file(scen, out, infusion_at=infusion_at, until_s=hours * 3600.0, period=period)
        names = ", ".join(b.name for b in scen.beds)
        typer.echo(f"wrote {n} records ({scen.name}; beds {names}; {hours:g} h) to {out}")

    def device_command(device: str, helptext: str) -> None:
        @sim.command(device, help=helptext)
        def _cmd(
            scenario: ScenarioOpt = "quiet_control",
            speed: SpeedOpt = 1.0,
            tcp: TcpOpt = "127.0.0.1:0",
            pty: PtyOpt = False,
            bed: BedOpt = None,
            from_: FromOpt = None,
            seconds: SecondsOpt = None,
        ) -> None:
            _serve(scenario, [device], speed, tcp, pty, bed, from_, seconds, None)

    device_command("monitor", "A Philips IntelliVue monitor (LAN/serial protocol).")
    device_command("ventilator", "A Dräger ventilator speaking MEDIBUS.")
    device_command("pump", "An infusion-pump Modbus gateway (TCP, or RTU on a pty).")

    def hl7_command(device: str, helptext: str) -> None:
        @sim.command(device, help=helptext)
        def _cmd(
            to: Annotated[str, typer.Option("--to", help="HOST:PORT of the HL7 MLLP listener.")],
            scenario: ScenarioOpt = "quiet_control",
            speed: SpeedOpt = 1.0,
            bed: BedOpt = None,
            from_: FromOpt = None,
            seconds: SecondsOpt = None,
        ) -> None:
            _serve(scenario, [device], speed, "127.0.0.1:0", False, bed, from_, seconds, to)

    hl7_command(
        "hl7", "A central station sending the bed's vitals and rhythm alarms as HL7 (PCD-01/04)."
    )
    hl7_command(
        "hl7-pump",
        "A pump server sending the bed's pumps as HL7 (PCD-10 IPEC events, PCD-04 alarms, "
        "PCD-01 status).",
    )

    @sim.command("bed")
    def bed_cmd(
        scenario: ScenarioOpt = "quiet_control",
        speed: SpeedOpt = 1.0,
        tcp: Annotated[
            str,
            typer.Option("--tcp", help="HOST:PORT of the first device; the others follow it."),
        ] = "127.0.0.1:0",
        pty: PtyOpt = False,
        hl7_to: Annotated[
            str | None, typer.Option("--hl7-to", help="Also send HL7 to this listener.")
        ] = None,
        bed: BedOpt = None,
        from_: FromOpt = None,
        seconds: SecondsOpt = None,
    ) -> None:
        """A whole bed: monitor, ventilator and pump gateway (and HL7) on one patient."""
        devices = [*BED_DEVICES, "hl7"] if hl7_to else list(BED_DEVICES)
        _serve(scenario, devices, speed, tcp, pty, bed, from_, seconds, hl7_to)


def _load(name: str) -> Scenario:
    return load_scenario(resolve_scenario(name))


def _parse_start(text: str | None) -> datetime:
    if text is None:
        return DEFAULT_INFUSION_AT
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"not an ISO 8601 time: {text!r}", field="--start") from None
    if t.tzinfo is None:
        raise ConfigError("the time needs a zone (e.g. 2026-03-01T08:00:00Z)", field="--start")
    return t.astimezone(UTC)


def _serve(
    scenario: str,
    devices: Sequence[str],
    speed: float,
    tcp: str,
    pty: bool,
    bed: str | None,
    from_: str | None,
    seconds: float | None,
    hl7_to: str | None,
) -> None:
    scen = _load(scenario)
    try:
        host, port = parse_hostport(tcp)
        to = parse_hostport(hl7_to) if hl7_to else None
        start_at = parse_offset(from_) if from_ is not None else None
    except ValueError as exc:
        raise ConfigError(str(exc), field="--tcp/--to/--from") from None
    if bed is not None and bed not in {b.name for b in scen.beds}:
        names = ", ".join(b.name for b in scen.beds)
        raise ConfigError(f"no bed {bed!r} in the scenario (beds: {names})", field="--bed")

    async def main() -> None:
        clock = ScaledClock(speed)
        sim_bed = SimulatedBed(
            scen, clock, bed=bed, start_at=start_at, out=lambda s: print(s, flush=True)
        )
        async with sim_bed:
            for addr in await sim_bed.start(devices, host=host, port=port, pty=pty, hl7_to=to):
                print(addr, flush=True)
            print(
                f"scenario {scen.name} (bed {sim_bed.spec.name}) at {speed:g}× real time; "
                "Ctrl-C stops",
                flush=True,
            )
            runner = sim_bed.run()
            if seconds is None:
                await runner
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(runner, timeout=seconds)

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    except OSError as exc:
        print(f"error: {exc.strerror or exc}", file=sys.stderr)
        raise typer.Exit(1) from None
