"""`iaewatch simulate alarm-manager|webhook-sink`: receivers to commission outbound routes.

    iaewatch simulate alarm-manager [--listen H:P] [--ack AA|AE|AR] [--reply ack|ora]
                                    [--stall] [--drop]
    iaewatch simulate webhook-sink [--listen H:P] --secret-env VAR [--status 200] [--stall]

Each prints its address, then one JSON line per message received; Ctrl-C stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Awaitable, Callable
from typing import Annotated

import typer

from core.clock import RealClock
from drivers.hl7.message import Message
from drivers.hl7.pcd import decode_report
from simulators.alarm_manager import REPLIES, AlarmManager
from simulators.bed import parse_hostport
from simulators.webhook_sink import WebhookSink

ListenOpt = Annotated[str, typer.Option("--listen", help="HOST:PORT to listen on (port 0: any).")]
StallOpt = Annotated[bool, typer.Option("--stall", help="Take messages in, never answer.")]


def register_receivers(sim: typer.Typer) -> None:
    @sim.command("alarm-manager")
    def alarm_manager(
        listen: ListenOpt = "127.0.0.1:2575",
        ack: Annotated[str, typer.Option("--ack", help="Answer AA, AE or AR.")] = "AA",
        reply: Annotated[str, typer.Option("--reply", help="ack (ACK) or ora (ORA^R41).")] = "ack",
        stall: StallOpt = False,
        drop: Annotated[
            bool, typer.Option("--drop", help="Close the connection on every message.")
        ] = False,
    ) -> None:
        """An IHE PCD ACM alarm manager over MLLP, for iaewatch's pcd-04 / pcd-01 endpoints."""
        if ack not in ("AA", "AE", "AR") or reply not in REPLIES:
            raise typer.BadParameter("--ack is AA, AE or AR; --reply is ack or ora")
        am = AlarmManager(RealClock(), ack=ack, reply=reply, stall=stall, drop=drop)
        am.on_message = _print_hl7
        _run(am.serve, am.close, listen, "alarm manager (MLLP)")

    @sim.command("webhook-sink")
    def webhook_sink(
        secret_env: Annotated[
            str, typer.Option("--secret-env", help="Environment variable with the HMAC key.")
        ],
        listen: ListenOpt = "127.0.0.1:8099",
        status: Annotated[int, typer.Option("--status", help="HTTP status to answer.")] = 200,
        stall: StallOpt = False,
    ) -> None:
        """A webhook receiver that checks the HMAC signature of each POST."""
        secret = os.environ.get(secret_env, "")
        if not secret:
            raise typer.BadParameter(f"the environment variable {secret_env} is not set")
        sink = WebhookSink(secret.encode(), status=status, stall=stall)
        _run(sink.serve, sink.close, listen, "webhook sink (HTTP)")


def _print_hl7(msg: Message, code: str) -> None:
    report = decode_report(msg)
    line = {
        "control_id": msg.control_id,
        "type": "^".join(msg.message_type),
        "location": report.location,
        "patient": report.patient_id,
        "alarms": [{"event": a.name, "phase": a.phase, "state": a.state,
                    "inactivation": a.inactivation, "priority": a.priority} for a in report.alarms],
        "metrics": {m.code: m.value for m in report.metrics},
        "answered": code,
    }  # fmt: skip
    print(json.dumps(line), flush=True)


def _run(
    serve: Callable[[str, int], Awaitable[int]],
    close: Callable[[], Awaitable[None]],
    listen: str,
    what: str,
) -> None:
    try:
        host, port = parse_hostport(listen)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--listen") from None

    async def main() -> None:
        bound = await serve(host, port)
        print(f"{what} listening on {host}:{bound}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
