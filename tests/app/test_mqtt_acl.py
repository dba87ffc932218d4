"""MQTT between gateways and the station as docs/security.md deploys it: a Mosquitto with a
TLS listener only, a password per gateway, and the ACL of `examples/mosquitto-acl.conf`.
A gateway's own beds reach the station; another bed's data published by it does not; a wrong
password and a plain-TCP client are refused."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt
import pytest
from broker import MOSQUITTO
from pki import make_certs
from realtime import free_port

from app.mqtt import MqttBus
from core.model import Observation

ACL = Path(__file__).parents[2] / "examples" / "mosquitto-acl.conf"
PASSWORDS = {"station": "station-pw-0001", "gw-icu1": "gw-icu1-pw-0001", "gw-icu3": "gw3-pw-01"}
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd")

pytestmark = pytest.mark.skipif(
    MOSQUITTO is None or MOSQUITTO_PASSWD is None, reason="mosquitto is not installed"
)


@dataclass(frozen=True)
class TlsBroker:
    port: int
    ca: Path

    def url(self, user: str, password: str | None = None) -> str:
        secret = PASSWORDS[user] if password is None else password
        return f"mqtts://{user}:{secret}@127.0.0.1:{self.port}?ca={self.ca}"


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[TlsBroker]:
    certs = make_certs(tmp_path)
    passwd = tmp_path / "iaewatch.passwd"
    passwd.touch()
    for user, password in PASSWORDS.items():
        assert MOSQUITTO_PASSWD is not None
        subprocess.run([MOSQUITTO_PASSWD, "-b", str(passwd), user, password], check=True)
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\n"
        f"certfile {certs / 'server.crt'}\nkeyfile {certs / 'server.key'}\n"
        f"cafile {certs / 'ca.crt'}\n"
        "allow_anonymous false\n"
        f"password_file {passwd}\nacl_file {ACL}\n"
        f"user {getpass.getuser()}\n"
    )
    assert MOSQUITTO is not None
    proc = subprocess.Popen(
        [MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            assert time.monotonic() < deadline, "mosquitto did not start"
            time.sleep(0.02)
        yield TlsBroker(port, certs / "ca.crt")
    finally:
        proc.terminate()
        proc.wait(5)


def _obs(bed: str, value: float) -> Observation:
    return Observation(t=T0, bed=bed, code="MDC_PULS_OXIM_SAT_O2", value=value, unit="%")


async def test_each_gateway_reaches_only_its_own_beds(tls_broker: TlsBroker) -> None:
    station = MqttBus(tls_broker.url("station"), client_id="station")
    gw1 = MqttBus(tls_broker.url("gw-icu1"), receive=False)
    gw3 = MqttBus(tls_broker.url("gw-icu3"), receive=False)
    await station.start()
    sub = station.subscribe()
    try:
        await gw1.start()
        await gw3.start()
        assert station.connected and gw1.connected and gw3.connected  # over TLS, signed in
        await gw1.publish(_obs("ICU-3", 80.0))  # not its bed: the broker drops it
        await gw1.publish(_obs("ICU-1", 91.0))
        await gw3.publish(_obs("ICU-3", 93.0))
        got = []
        async with asyncio.timeout(10):
            while len(got) < 2:
                got.append(await sub.get())
        assert sorted((m.bed, m.value) for m in got if isinstance(m, Observation)) == [
            ("ICU-1", 91.0),
            ("ICU-3", 93.0),
        ]
        await gw1.publish(_obs("ICU-1", 92.0))  # and nothing of ICU-3 from gw-icu1 came late
        async with asyncio.timeout(10):
            late = await sub.get()
        assert isinstance(late, Observation) and (late.bed, late.value) == ("ICU-1", 92.0)
    finally:
        sub.close()
        await gw1.close()
        await gw3.close()
        await station.close()


async def test_a_wrong_password_and_plain_tcp_are_refused(tls_broker: TlsBroker) -> None:
    context = ssl.create_default_context(cafile=str(tls_broker.ca))
    with pytest.raises(aiomqtt.MqttError):
        async with aiomqtt.Client(
            "127.0.0.1",
            tls_broker.port,
            username="gw-icu1",
            password="not-the-password",
            tls_context=context,
            timeout=5,
        ):
            pass
    with pytest.raises(aiomqtt.MqttError):
        async with aiomqtt.Client(
            "127.0.0.1", tls_broker.port, username="gw-icu1", password="x", timeout=5
        ):
            pass
