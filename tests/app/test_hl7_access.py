"""hl7-mllp `allow_from` and `tls` in the ICU config, and MLLP over TLS with client
certificates end to end (certificates made with the openssl command line)."""

from __future__ import annotations

import asyncio
import ssl
from datetime import UTC
from pathlib import Path

import pytest
from pki import make_certs
from realtime import free_port

from app.config import load_config
from app.devices import build_hl7_listeners
from core.clock import RealClock
from core.errors import ConfigError
from drivers.hl7.mllp import EB, frame
from drivers.hl7.pcd_write import build_oru_r01

from .test_config import write  # type: ignore[import-not-found]

CONFIG = """\
beds:
  - bed: ICU-1
    devices:
      - id: central
        kind: monitor
        protocol: hl7-mllp
        address: "127.0.0.1:PORT"
        sender: {application: CENTRAL, location: ICU-1}
        allow_from: [127.0.0.1, 10.1.0.0/16]
        tls: {cert: server.crt, key: server.key, client_ca: ca.crt}
"""


@pytest.fixture
def certs(tmp_path: Path) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, signed by the CA."""
    return make_certs(tmp_path)


def test_allow_from_and_tls_are_read(certs: Path) -> None:
    icu = load_config(write(certs, CONFIG.replace("PORT", str(free_port()))))
    (d,) = icu.devices()
    assert d.allow_from == ("127.0.0.1", "10.1.0.0/16")
    assert d.tls is not None and d.tls["client_ca"].endswith("ca.crt")


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ("10.1.0.0/16]", "beds[0].devices[0].allow_from", "not an IP address"),
        ("client_ca: ca.crt}", "beds[0].devices[0].tls.client_ca", "no such file"),
    ],
)
def test_bad_access_settings_name_the_field(
    certs: Path, change: str, field: str, message: str
) -> None:
    broken = CONFIG.replace(
        change, change.replace("10.1.0.0/16", "10.1.0.300").replace("ca.crt", "nope.crt")
    )
    with pytest.raises(ConfigError) as info:
        load_config(write(certs, broken.replace("PORT", "2575")))
    assert info.value.field == field and message in info.value.message


async def _send(port: int, ctx: ssl.SSLContext) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx)
    try:
        msg = build_oru_r01(
            {"MDC_PULS_OXIM_SAT_O2": 96.0},
            now=RealClock().now(),
            control_id="T1",
            location="ICU-1",
            sending_app="CENTRAL",
        )
        writer.write(frame(msg))
        return await asyncio.wait_for(reader.readuntil(bytes((EB, 0x0D))), 5)
    finally:
        writer.close()


async def test_mllp_over_tls_needs_a_client_certificate(certs: Path) -> None:
    icu = load_config(write(certs, CONFIG.replace("PORT", str(free_port()))))
    ((_, driver),) = build_hl7_listeners(icu.devices(), RealClock(), tz=UTC)
    port = await driver.start()  # type: ignore[attr-defined]
    try:
        client = ssl.create_default_context(cafile=str(certs / "ca.crt"))
        with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
            await _send(port, client)  # no client certificate: refused in the handshake
        client.load_cert_chain(str(certs / "client.crt"), str(certs / "client.key"))
        ack = await _send(port, client)
        assert b"MSA|CA" in ack or b"MSA|AA" in ack
    finally:
        await driver.aclose()  # type: ignore[attr-defined]
