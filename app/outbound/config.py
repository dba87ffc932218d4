"""The `outbound:` section of the ICU file: where alerts and numerics leave iaewatch.

    outbound:
      - name: alarm-manager            # unique; labels metrics, logs and the outbox
        kind: pcd-04                   # pcd-04 (alarm manager, MLLP) | pcd-01 (EHR, MLLP) | webhook
        address: 10.1.2.3:2575         # host:port for MLLP; http(s)://... for a webhook
        facility: ICU                  # MSH-4 (HL7) and PV1-3 point of care; default the site name
        interval: 60                   # pcd-01: seconds between numerics messages (default 60)
        secret_env: PAGER_SECRET       # webhook: the environment variable holding the HMAC key
        ack_timeout: 10                # seconds to wait for an ACK / HTTP reply
        retry: {initial: 1, max: 60}   # backoff between attempts, doubling (seconds)
        backlog_alert: 50              # queued messages that raise a technical alert

Validated with `core.check.Checker`, so `iaewatch config check` names file, line and field.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import StrEnum

from core.check import Checker, join
from core.yamlfile import Marked


class Kind(StrEnum):
    """What an endpoint receives, and how."""

    PCD_04 = "pcd-04"  # every alert transition, ORU^R40 over MLLP (IHE PCD ACM)
    PCD_01 = "pcd-01"  # numerics every `interval` s + every alert, ORU^R01 over MLLP (IHE DEC)
    WEBHOOK = "webhook"  # every alert transition, JSON over HTTP POST with an HMAC signature

    @property
    def hl7(self) -> bool:
        return self is not Kind.WEBHOOK


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointConfig:
    """One outbound endpoint."""

    name: str
    kind: Kind
    address: str
    line: int
    facility: str = "ICU"
    interval: float = 60.0
    secret_env: str = ""
    ack_timeout: float = 10.0
    retry_initial: float = 1.0
    retry_max: float = 60.0
    backlog_alert: int = 50

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.address.removeprefix("tcp://").rpartition(":")
        return host.strip("[]"), int(port)


_KEYS = {
    "name",
    "kind",
    "address",
    "facility",
    "interval",
    "secret_env",
    "ack_timeout",
    "retry",
    "backlog_alert",
}
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,32}")
_HOST_PORT = re.compile(r"^(?:tcp://)?(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")
_URL = re.compile(r"^https?://[^\s/]+(/\S*)?$")
_ENV = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_outbound(data: Marked, c: Checker, *, facility: str) -> tuple[EndpointConfig, ...]:
    """The endpoints of the file's `outbound:` list (none when it is absent)."""
    if "outbound" not in data:
        return ()
    raw = c.seq(data["outbound"], data.line_of("outbound"), "outbound")
    out: list[EndpointConfig] = []
    names: set[str] = set()
    for _i, item, line, path in c.items(raw, "outbound"):
        m = c.mapping(item, line, path)
        ep = _endpoint(m, path, c, facility)
        if ep.name in names:
            c.fail(f"endpoint {ep.name!r} is declared twice", m.line_of("name"), join(path, "name"))
        names.add(ep.name)
        out.append(ep)
    return tuple(out)


def _endpoint(m: Marked, path: str, c: Checker, facility: str) -> EndpointConfig:
    c.keys(m, path, _KEYS, {"name", "kind", "address"})
    name, kind_text, address = (
        c.text(m[k], m.line_of(k), join(path, k)) for k in ("name", "kind", "address")
    )
    if not _NAME.fullmatch(name):
        c.fail(
            "must be letters, digits, '-', '_' or '.' (at most 32)",
            m.line_of("name"),
            join(path, "name"),
        )
    kind = Kind(c.choice(kind_text, m.line_of("kind"), join(path, "kind"), [k.value for k in Kind]))
    if kind.hl7:
        hp = _HOST_PORT.match(address)
        if not hp or not 0 < int(hp.group(2)) < 65536:
            c.fail(
                f"{address!r} is not a host:port address (MLLP)",
                m.line_of("address"),
                join(path, "address"),
            )
    elif not _URL.match(address):
        c.fail(
            f"{address!r} is not an http:// or https:// URL",
            m.line_of("address"),
            join(path, "address"),
        )
    facility_name = c.get(m, "facility", path, c.text) or facility
    if "interval" in m and kind is not Kind.PCD_01:
        c.fail(
            "only pcd-01 endpoints send numerics at an interval",
            m.line_of("interval"),
            join(path, "interval"),
        )
    interval = c.get(m, "interval", path, c.positive, 60.0) or 60.0
    if not 1.0 <= interval <= 3600.0:
        c.fail("must be 1-3600 s", m.line_of("interval"), join(path, "interval"))
    secret_env = c.get(m, "secret_env", path, c.text) or ""
    if kind is Kind.WEBHOOK:
        if not _ENV.fullmatch(secret_env):
            c.fail(
                "a webhook needs secret_env: the environment variable holding its HMAC key",
                m.line_of("secret_env" if "secret_env" in m else "kind"),
                join(path, "secret_env"),
            )
    elif secret_env:
        c.fail("only webhooks are signed", m.line_of("secret_env"), join(path, "secret_env"))
    timeout = c.get(m, "ack_timeout", path, c.positive, 10.0) or 10.0
    if timeout > 300:
        c.fail("must be at most 300 s", m.line_of("ack_timeout"), join(path, "ack_timeout"))
    initial, most = 1.0, 60.0
    if "retry" in m:
        rpath = join(path, "retry")
        r = c.mapping(m["retry"], m.line_of("retry"), rpath)
        c.keys(r, rpath, {"initial", "max"})
        initial = c.get(r, "initial", rpath, c.positive, 1.0) or 1.0
        most = c.get(r, "max", rpath, c.positive, 60.0) or 60.0
        if most < initial:
            c.fail("max must not be below initial", r.line_of("max"), join(rpath, "max"))
    backlog = c.get(m, "backlog_alert", path, functools.partial(c.integer, minimum=1), 50) or 50
    return EndpointConfig(
        name=name,
        kind=kind,
        address=address,
        line=m.line,
        facility=facility_name,
        interval=interval,
        secret_env=secret_env,
        ack_timeout=timeout,
        retry_initial=initial,
        retry_max=most,
        backlog_alert=backlog,
    )
