"""`iaewatch simulate alarm-manager` and `webhook-sink` as an engineer runs them."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from factories import make_alert
from realtime import free_port

from app.outbound.config import EndpointConfig, Kind
from app.outbound.messages import alert_items, signature
from drivers.hl7.message import parse_message
from drivers.hl7.mllp import MllpDecoder, frame

CLI = [sys.executable, "-c", "from app.cli import main; main()", "simulate"]


@asynccontextmanager
async def _running(
    *args: str, env: dict[str, str] | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await asyncio.create_subprocess_exec(
        *CLI, *args, stdout=asyncio.subprocess.PIPE, env={**os.environ, **(env or {})}
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert b"listening on" in line, line
        yield proc
    finally:
        proc.terminate()
        await proc.wait()


async def test_alarm_manager_answers_as_told_and_prints_each_message() -> None:
    port = free_port()
    ep = EndpointConfig(name="am", kind=Kind.PCD_04, address=f"127.0.0.1:{port}", line=1)
    [item] = alert_items(make_alert(seq=7), "S-001", (ep,))
    async with _running("alarm-manager", "--listen", f"127.0.0.1:{port}", "--ack", "AE") as proc:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(frame(item.payload.encode()))
        decoder = MllpDecoder()
        while (reply := decoder.next_frame()) is None:
            decoder.feed(await asyncio.wait_for(reader.read(4096), 10))
        writer.close()
        msa = parse_message(reply).first("MSA")
        assert msa is not None and (msa.text(1), msa.text(2)) == ("AE", "A7")
        assert proc.stdout is not None
        printed = json.loads(await asyncio.wait_for(proc.stdout.readline(), 10))
    assert printed["control_id"] == "A7" and printed["answered"] == "AE"
    assert printed["alarms"][0]["phase"] == "start" and printed["patient"] == "S-001"


async def test_webhook_sink_checks_the_signature() -> None:
    port = free_port()
    body = b'{"id": "a-1"}'
    env = {"IAEW_SINK_KEY": "k3y"}
    async with (
        _running(
            "webhook-sink",
            "--listen",
            f"127.0.0.1:{port}",
            "--secret-env",
            "IAEW_SINK_KEY",
            env=env,
        ),
        httpx.AsyncClient() as http,
    ):
        url = f"http://127.0.0.1:{port}/hook"
        good = {"X-IAEWatch-Signature": signature(b"k3y", body)}
        assert (await http.post(url, content=body, headers=good)).status_code == 200
        bad = {"X-IAEWatch-Signature": signature(b"other", body)}
        assert (await http.post(url, content=body, headers=bad)).status_code == 401
