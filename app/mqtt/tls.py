"""MQTT over TLS: `mqtts://user:password@broker:8883?ca=…&cert=…&key=…`.

`ca` is the broker's CA file (default: the system's trust store); `cert` and `key`, a client
certificate when the broker asks for one (Mosquitto `require_certificate true`). Each gateway
signs in with its own user name and password (or certificate), and the broker's ACL limits it
to its own beds' topics (examples/mosquitto-acl.conf, docs/security.md).
"""

from __future__ import annotations

import ssl
from urllib.parse import ParseResult, parse_qs

from core.errors import ConfigError

DEFAULT_PORT = {"mqtt": 1883, "tcp": 1883, "mqtts": 8883}


def tls_context(parsed: ParseResult) -> ssl.SSLContext | None:
    """The client TLS context an `mqtts://` URL asks for; None for plain `mqtt://`."""
    if parsed.scheme != "mqtts":
        return None
    query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    unknown = sorted(set(query) - {"ca", "cert", "key"})
    if unknown:
        raise ConfigError(f"unknown mqtts:// option(s): {', '.join(unknown)}", field="mqtt_url")
    try:
        ctx = ssl.create_default_context(cafile=query.get("ca"))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if "cert" in query:
            ctx.load_cert_chain(query["cert"], query.get("key"))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"mqtts:// certificate files: {exc}", field="mqtt_url") from None
    return ctx
