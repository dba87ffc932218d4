"""mqtts:// URLs: a TLS context for the broker, client certificate files checked."""

from __future__ import annotations

import ssl
from urllib.parse import urlparse

import pytest

from app.mqtt.bus import MqttBus
from app.mqtt.tls import tls_context
from core.errors import ConfigError


def test_plain_and_tls_urls() -> None:
    assert tls_context(urlparse("mqtt://gw-icu1:secret@broker:1883")) is None
    ctx = tls_context(urlparse("mqtts://gw-icu1:secret@broker"))
    assert ctx is not None and ctx.verify_mode is ssl.CERT_REQUIRED and ctx.check_hostname
    bus = MqttBus("mqtts://gw-icu1:secret@broker", receive=False)
    assert (bus.port, bus.username, bus.tls is not None) == (8883, "gw-icu1", True)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mqtts://broker?ca=/nonexistent/ca.pem", "certificate files"),
        ("mqtts://broker?insecure=1", "unknown mqtts:// option"),
    ],
)
def test_bad_tls_options_are_config_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        tls_context(urlparse(url))
