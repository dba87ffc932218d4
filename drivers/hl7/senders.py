"""Which HL7 senders a listener takes data from, and for which bed.

Each bed names its sender: MSH-3 (sending application) and MSH-4 (sending facility), and the
source addresses (IP addresses or networks) it connects from. A connection from an address no
bed allows is closed before a byte is read; a message is accepted only when the bed it maps
to names its MSH-3 / MSH-4 (as written or their first component) and the connection's
address. Anything else is answered AR, and the listener raises a technical event. A bed with
no addresses configured takes its sender from any address (the listener logs that once).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from core.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(
    values: list[str] | tuple[str, ...], field: str = "addresses"
) -> tuple[Network, ...]:
    """`["10.1.2.3", "10.1.3.0/24", "::1"]` → networks; ConfigError naming a bad one."""
    out: list[Network] = []
    for v in values:
        try:
            out.append(ipaddress.ip_network(v.strip(), strict=False))
        except ValueError:
            raise ConfigError(f"not an IP address or network: {v!r}", field=field) from None
    return tuple(out)


@dataclass(frozen=True, slots=True)
class SenderRule:
    """The sender one bed takes data from (None / empty: not checked)."""

    application: str | None = None
    facility: str | None = None
    addresses: tuple[Network, ...] = ()

    def address_ok(self, host: str) -> bool:
        if not self.addresses:
            return True
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(ip in net for net in self.addresses)


def _matches(wanted: str | None, full: str, component_sep: str) -> bool:
    return wanted is None or wanted in (full, full.split(component_sep)[0])


@dataclass(frozen=True, slots=True)
class SenderPolicy:
    """The rules of every bed a listener serves (a bed without a rule takes any sender)."""

    rules: Mapping[str, SenderRule]

    @property
    def open_to_any_address(self) -> bool:
        return not self.rules or any(not r.addresses for r in self.rules.values())

    def connection_ok(self, host: str) -> bool:
        """Whether any bed takes data from `host` (checked at connect)."""
        return self.open_to_any_address or any(r.address_ok(host) for r in self.rules.values())

    def refusal(
        self, bed: str, host: str, application: str, facility: str, component_sep: str = "^"
    ) -> str | None:
        """Why `bed` must not take this message, or None to accept it."""
        rule = self.rules.get(bed)
        if rule is None:
            return None
        if not rule.address_ok(host):
            return f"{bed} does not take data from {host}"
        if not _matches(rule.application, application, component_sep):
            return f"{bed} does not take data from sending application {application!r}"
        if not _matches(rule.facility, facility, component_sep):
            return f"{bed} does not take data from sending facility {facility!r}"
        return None
