"""Who may send HL7 to a listener: the config keys `allow_from` and `tls` of hl7-mllp devices.

    - id: central
      kind: monitor
      protocol: hl7-mllp
      address: 0.0.0.0:2575
      sender: {application: CENTRAL, facility: ICU, location: ICU-1}
      allow_from: [10.1.20.5, 10.1.21.0/24]     # source addresses of this bed's sender
      tls: {cert: mllp.crt, key: mllp.key, client_ca: senders-ca.crt}   # optional

`allow_from` with the sender's `application` (MSH-3) and `facility` (MSH-4) make the bed take
data only from that sender (`drivers.hl7.senders`). `tls` serves the listener's port as MLLP
over TLS; with `client_ca` every sender must present a certificate signed by it. One `tls`
per listen address (the first device's is used; others must agree).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from core.check import Checker, join
from core.errors import ConfigError
from core.yamlfile import Marked
from drivers.hl7.senders import SenderPolicy, SenderRule, parse_networks

KEYS = ("allow_from", "tls")
_TLS_KEYS = ("cert", "key", "client_ca")


def read_access(raw: Marked, path: str, c: Checker, base_dir: Path) -> dict[str, Any]:
    """The `allow_from` and `tls` of one hl7-mllp device, checked (file, line, field)."""
    out: dict[str, Any] = {}
    if "allow_from" in raw:
        where = join(path, "allow_from")
        items = c.seq(raw["allow_from"], raw.line_of("allow_from"), where)
        texts = [c.text(v, line, f) for _, v, line, f in c.items(items, where)]
        try:
            parse_networks(texts)
        except ConfigError as exc:
            c.fail(str(exc), raw.line_of("allow_from"), where)
        out["allow_from"] = tuple(texts)
    if "tls" in raw:
        where = join(path, "tls")
        tls = c.mapping(raw["tls"], raw.line_of("tls"), where)
        c.keys(tls, where, _TLS_KEYS, ("cert", "key"))
        files: dict[str, str] = {}
        for key in tls:
            p = base_dir / c.text(tls[key], tls.line_of(key), join(where, key))
            if not p.is_file():
                c.fail(f"no such file: {p}", tls.line_of(key), join(where, key))
            files[key] = str(p)
        out["tls"] = files
    return out


def sender_policy(
    beds: Iterable[tuple[str, Mapping[str, str], tuple[str, ...]]],
) -> SenderPolicy:
    """Each bed's sender rule from (bed, its device's `sender`, its `allow_from`)."""
    return SenderPolicy(
        {
            bed: SenderRule(
                application=sender.get("application"),
                facility=sender.get("facility"),
                addresses=parse_networks(allow_from),
            )
            for bed, sender, allow_from in beds
        }
    )


def server_tls(tls: Mapping[str, str] | None) -> ssl.SSLContext | None:
    """The TLS context of one listen address from its `tls` files (None: plain MLLP)."""
    if not tls:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(tls["cert"], tls["key"])
    if "client_ca" in tls:
        ctx.load_verify_locations(tls["client_ca"])
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx
