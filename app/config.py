"""The ICU configuration file: the site, the beds and, per bed, the devices plugged in.

    site:                                  # optional
      name: Guangzhou ICU                  # shown on the station and in reports
      timezone: Asia/Shanghai              # IANA zone: station, reports, HL7 times without offset
      qualifying_gas_max_h: 6              # eligibility: the qualifying gas's age at start, h
    storage: {full_resolution_days: 7}     # optional: retention, disk alarm (app.storage_config)
    outbound:                              # optional: alarm manager, EHR, webhook (app.outbound)
      - {name: alarm-manager, kind: pcd-04, address: 10.1.2.3:2575}
    beds:
      - bed: ICU-1
        label: Bed 1                       # optional
        devices:
          - id: pump-study
            kind: pump                     # pump | ventilator | monitor
            protocol: modbus-tcp    # modbus-tcp | modbus-rtu | hl7-pump (pumps); medibus;
                                    # intellivue | hl7-mllp (monitors)
            address: 127.0.0.1:5020        # TCP host:port, or a serial URL for serial protocols
            unit: 1                        # Modbus unit id (pumps)
            profile: default               # pump register profile: 'default' or a YAML path
            role: study                    # study | vasopressor (pumps)
            drug: norepinephrine           # vasopressor pumps: drug (and concentration_ug_ml)
            serial: {baud: 19200, parity: E, stop_bits: 1}   # serial protocols
            poll_interval: 1.0             # seconds
            stale_after: 10                # seconds without valid data → technical alert
          - id: central
            kind: monitor
            protocol: hl7-mllp
            address: 0.0.0.0:2575          # where iaewatch listens
            sender: {application: CENTRAL, facility: ICU, location: ICU-1, eui64: ...}
            pcd04_reply: ORA^R41           # hl7-mllp: what PCD-04 alarms get back (or ACK^R40)
          - id: pump-norepi
            kind: pump
            protocol: hl7-pump             # a pump server: IHE PCD-01, PCD-10 (IPEC), PCD-04
            address: 0.0.0.0:2576          # where iaewatch listens (not an hl7-mllp address)
            sender: {location: ICU-1, eui64: "0012210000000777"}   # eui64: the pump's
            role: vasopressor
            drug: norepinephrine

Serial URLs: `/dev/ttyUSB0`, a pty path, `socket://host:port`, `rfc2217://host:port`.
`check_config` validates everything and raises `ConfigError` naming file, line and field;
the service refuses to start on an invalid file with the same message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.hl7_access import KEYS as HL7_ACCESS_KEYS
from app.hl7_access import read_access
from app.outbound.config import EndpointConfig, parse_outbound
from app.storage_config import StorageConfig, read_storage
from core.check import Checker, join
from core.params import VASOPRESSOR_CODES
from core.vocabulary import PROTOCOLS, suggest
from core.yamlfile import Marked, read_marked
from drivers.hl7.receiver import PCD04_REPLIES
from drivers.modbus.profile import PumpProfile, load_profile
from drivers.transport import SerialSettings

SERIAL_PROTOCOLS = frozenset(name for name, p in PROTOCOLS.items() if p.serial)
_SERIAL_DEFAULTS: dict[str, SerialSettings] = {
    "modbus-rtu": SerialSettings(baudrate=19200, parity="E"),
    "medibus": SerialSettings(baudrate=19200, parity="E"),  # Evita 4 (PROTOCOLS.md §1)
    "intellivue": SerialSettings(baudrate=115200, parity="N"),  # IVH: 115200 8N1
}
# IntelliVue answers one poll per object type per second and aborts after 10 s of silence
# (IVH); MEDIBUS links die after 3 s without traffic, so a keep-alive runs between polls (XEN).
_POLL_LIMITS: dict[str, tuple[float, float, str]] = {
    "intellivue": (1.0, 5.0, "the monitor answers one poll a second and drops the link after 10 s"),
    "medibus": (0.2, 60.0, "a keep-alive holds the link between polls"),
}
_POLL_DEFAULT_LIMITS = (0.05, 3600.0, "from 50 ms to an hour")
# A central station may send only every few seconds to a minute: stale is judged on that scale.
_STALE_DEFAULT: dict[str, float] = {"hl7-mllp": 60.0, "hl7-pump": 60.0}
HL7_PROTOCOLS = frozenset({"hl7-mllp", "hl7-pump"})
"""Protocols served by an HL7 MLLP listener (one per listen address, one protocol each)."""
_MODBUS_ONLY = ("unit", "profile")
_STALE_MAX_S = 86400.0
_HOST_PORT = re.compile(r"^(?:tcp://)?(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")
_SERIAL_URL = re.compile(r"^(/dev/\S+|socket://\S+:\d+|rfc2217://\S+:\d+|loop://\S*|COM\d+)$")
_BED_NAME = re.compile(r"[A-Za-z0-9_.-]{1,32}")
_DEVICE_KEYS = {
    "id",
    "kind",
    "protocol",
    "address",
    "unit",
    "profile",
    "role",
    "drug",
    "concentration_ug_ml",
    "serial",
    "poll_interval",
    "stale_after",
    "sender",
    "pcd04_reply",
    *HL7_ACCESS_KEYS,
}
_SENDER_KEYS = ("application", "facility", "location", "eui64")
_SERIAL_KEYS = ("baud", "parity", "stop_bits", "data_bits")


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceConfig:
    bed: str
    id: str
    kind: str
    protocol: str
    address: str
    line: int
    unit: int = 1
    profile: PumpProfile | None = None
    role: str = "study"
    drug: str | None = None
    concentration_ug_ml: float | None = None
    serial: SerialSettings | None = None
    poll_interval: float = 1.0
    stale_after: float = 10.0
    sender: dict[str, str] = field(default_factory=dict)
    pcd04_reply: str = "ORA^R41"  # HL7 (drivers.hl7.receiver.PCD04_REPLIES)
    allow_from: tuple[str, ...] = ()  # HL7: the sender's source addresses (app.hl7_access)
    tls: dict[str, str] | None = None  # HL7: MLLP over TLS files (app.hl7_access)


@dataclass(frozen=True, slots=True, kw_only=True)
class BedConfig:
    bed: str
    label: str
    devices: tuple[DeviceConfig, ...]


QUALIFYING_GAS_HOURS = (1.0, 24.0)
"""The qualifying gas window a site may set, h: a gas older than a day no longer says what
the lungs are at the start (the persistence test itself looks back 8–24 h)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteConfig:
    """Where the ICU is: its name and the IANA time zone its clocks and people use."""

    name: str = "ICU"
    timezone: str = "UTC"
    qualifying_gas_max_h: float = 6.0
    """Eligibility: the qualifying gas (P/F < 200, PEEP ≥ 8) is at most this old at the
    infusion start (the protocol's 6 h; `monitors.trial.eligibility.Criteria`)."""

    @property
    def tz(self) -> tzinfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True, kw_only=True)
class IcuConfig:
    beds: tuple[BedConfig, ...]
    source: str
    site: SiteConfig = field(default_factory=SiteConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    outbound: tuple[EndpointConfig, ...] = ()

    def devices(self) -> list[DeviceConfig]:
        return [d for b in self.beds for d in b.devices]


def load_config(path: str | Path) -> IcuConfig:
    """Load and validate the ICU configuration file."""
    p = Path(path)
    return parse_config(read_marked(p), file=str(p), base_dir=p.parent)


def parse_config(data: Any, *, file: str, base_dir: Path) -> IcuConfig:
    c = Checker(file)
    if not isinstance(data, Marked):
        c.fail("the file must be a mapping with 'beds'", 1)
    c.keys(data, "", {"site", "storage", "outbound", "beds"}, {"beds"})
    site = _site(data, c)
    storage = read_storage(data, c)
    outbound = parse_outbound(data, c, facility=site.name)
    beds_raw = c.seq(data["beds"], data.line_of("beds"), "beds")
    if not beds_raw:
        c.fail("must be a non-empty list", data.line_of("beds"), "beds")
    beds: list[BedConfig] = []
    seen_beds: set[str] = set()
    serial_ports: dict[str, str] = {}
    senders: dict[tuple[str, str], str] = {}
    listeners: dict[str, str] = {}  # HL7 listen address -> its protocol
    for _i, bed_raw, line, path in c.items(beds_raw, "beds"):
        raw = c.mapping(bed_raw, line, path)
        bed = _bed(raw, path, c, base_dir, serial_ports)
        if bed.bed in seen_beds:
            c.fail(f"bed {bed.bed!r} is declared twice", raw.line_of("bed"), join(path, "bed"))
        seen_beds.add(bed.bed)
        _check_senders(bed, raw, path, c, senders)
        _check_listeners(bed, raw, path, c, listeners)
        beds.append(bed)
    return IcuConfig(beds=tuple(beds), source=file, site=site, storage=storage, outbound=outbound)


def _site(data: Marked, c: Checker) -> SiteConfig:
    if "site" not in data:
        return SiteConfig()
    raw = c.mapping(data["site"], data.line_of("site"), "site")
    c.keys(raw, "site", {"name", "timezone", "qualifying_gas_max_h"}, set())
    default = SiteConfig()
    name = c.get(raw, "name", "site", c.text) or default.name
    zone = c.get(raw, "timezone", "site", c.text) or default.timezone
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        c.fail(
            f"unknown time zone {zone!r} (an IANA name such as Asia/Shanghai)",
            raw.line_of("timezone"),
            "site.timezone",
        )
    low, high = QUALIFYING_GAS_HOURS
    hours = c.get(
        raw,
        "qualifying_gas_max_h",
        "site",
        lambda v, line, f: c.number(v, line, f, minimum=low, maximum=high),
    )
    gas_h = hours or default.qualifying_gas_max_h  # at least QUALIFYING_GAS_HOURS[0] if set
    return SiteConfig(name=name, timezone=zone, qualifying_gas_max_h=gas_h)


def _check_senders(
    bed: BedConfig, raw: Marked, path: str, c: Checker, senders: dict[tuple[str, str], str]
) -> None:
    """One HL7 sender identifier maps to one bed per listener, or messages go astray."""
    devices_raw = raw["devices"]
    for j, d in enumerate(bed.devices):
        for value in d.sender.values():
            other = senders.get((d.address, value))
            if other is not None and other != bed.bed:
                c.fail(
                    f"sender identifier {value!r} on {d.address} already maps to {other}",
                    devices_raw[j].line_of("sender"),
                    f"{path}.devices[{j}].sender",
                )
            senders[(d.address, value)] = bed.bed


def _check_listeners(
    bed: BedConfig, raw: Marked, path: str, c: Checker, listeners: dict[str, str]
) -> None:
    """A pump server and a central station listen on different addresses: one listener
    checks one kind of sender per bed (`drivers.hl7.senders`)."""
    for j, d in enumerate(bed.devices):
        if d.protocol not in HL7_PROTOCOLS:
            continue
        other = listeners.setdefault(d.address, d.protocol)
        if other != d.protocol:
            c.fail(
                f"{d.address} already listens for {other}: give {d.protocol} its own address",
                raw["devices"][j].line_of("address"),
                f"{path}.devices[{j}].address",
            )


def _bed(
    raw: Marked, path: str, c: Checker, base_dir: Path, serial_ports: dict[str, str]
) -> BedConfig:
    c.keys(raw, path, {"bed", "label", "devices"}, {"bed", "devices"})
    name = raw["bed"]
    if not isinstance(name, str) or not _BED_NAME.fullmatch(name):
        c.fail(
            "must be a bed name of letters, digits, '-', '_' or '.' (at most 32)",
            raw.line_of("bed"),
            join(path, "bed"),
        )
    label = c.get(raw, "label", path, c.text) or name
    devices_raw = c.seq(raw["devices"], raw.line_of("devices"), join(path, "devices"))
    if not devices_raw:
        c.fail(f"bed {name} has no devices", raw.line_of("devices"), join(path, "devices"))
    devices: list[DeviceConfig] = []
    ids: set[str] = set()
    for _j, dev_raw, line, dpath in c.items(devices_raw, join(path, "devices")):
        dev_map = c.mapping(dev_raw, line, dpath)
        dev = _device(name, dev_map, dpath, c, base_dir)
        if dev.id in ids:
            c.fail(
                f"device id {dev.id!r} used twice at {name}", dev_map.line_of("id"), dpath + ".id"
            )
        ids.add(dev.id)
        if dev.protocol in SERIAL_PROTOCOLS and not dev.address.startswith("socket://"):
            other = serial_ports.get(dev.address)
            if other is not None:
                c.fail(
                    f"serial port {dev.address} is already used by {other}",
                    dev_map.line_of("address"),
                    dpath + ".address",
                )
            serial_ports[dev.address] = f"{name}/{dev.id}"
        devices.append(dev)
    if not any(d.kind == "monitor" for d in devices):
        c.fail(
            f"bed {name} has no monitor: SpO2, heart rate and arrhythmia alarms are needed",
            raw.line_of("devices"),
            join(path, "devices"),
        )
    return BedConfig(bed=name, label=str(label), devices=tuple(devices))


def _device(bed: str, raw: Marked, path: str, c: Checker, base_dir: Path) -> DeviceConfig:
    c.keys(raw, path, _DEVICE_KEYS, {"id", "kind", "protocol", "address"})
    dev_id, kind, protocol, address = (
        c.text(raw[k], raw.line_of(k), join(path, k)) for k in ("id", "kind", "protocol", "address")
    )
    spec = PROTOCOLS.get(protocol)
    if spec is None:
        c.fail(
            f"unknown protocol {protocol!r}{suggest(protocol, PROTOCOLS)} "
            f"(known: {', '.join(PROTOCOLS)})",
            raw.line_of("protocol"),
            join(path, "protocol"),
        )
    if kind != spec.kind:
        c.fail(
            f"protocol {protocol} is for a {spec.kind}, not a {kind}",
            raw.line_of("kind"),
            join(path, "kind"),
        )
    if spec.serial:
        if not _SERIAL_URL.match(address):
            c.fail(
                f"{address!r} is not a serial URL (/dev/ttyUSB0, socket://host:port, "
                "rfc2217://host:port)",
                raw.line_of("address"),
                join(path, "address"),
            )
    elif not _valid_host_port(address):
        c.fail(
            f"{address!r} is not a host:port address", raw.line_of("address"), join(path, "address")
        )
    kw: dict[str, Any] = {}
    low, high, why = _POLL_LIMITS.get(protocol, _POLL_DEFAULT_LIMITS)
    poll = c.get(raw, "poll_interval", path, c.positive, 1.0) or 1.0
    if not low <= poll <= high:
        c.fail(
            f"{protocol} polls every {low:g}-{high:g} s ({why})",
            raw.line_of("poll_interval"),
            join(path, "poll_interval"),
        )
    kw["poll_interval"] = poll
    stale_default = _STALE_DEFAULT.get(protocol, 10.0)
    stale = c.get(raw, "stale_after", path, c.positive, stale_default) or stale_default
    if stale > _STALE_MAX_S:
        c.fail(
            f"must be at most {_STALE_MAX_S:g} s: a silent device must become stale",
            raw.line_of("stale_after"),
            join(path, "stale_after"),
        )
    kw["stale_after"] = stale
    if spec.serial:
        kw["serial"] = _serial(raw, path, c, _SERIAL_DEFAULTS[protocol])
    elif "serial" in raw:
        c.fail(f"{protocol} is not a serial protocol", raw.line_of("serial"), join(path, "serial"))
    if kind == "pump":
        kw.update(_pump(raw, path, c, base_dir, modbus=protocol not in HL7_PROTOCOLS))
    else:
        for key in ("unit", "profile", "role", "drug", "concentration_ug_ml"):
            if key in raw:
                c.fail(f"only pumps have {key}", raw.line_of(key), join(path, key))
    if protocol in HL7_PROTOCOLS:
        kw["sender"] = _sender(raw, path, c, protocol)
        if "pcd04_reply" in raw:
            where = (raw.line_of("pcd04_reply"), join(path, "pcd04_reply"))
            kw["pcd04_reply"] = c.choice(raw["pcd04_reply"], *where, tuple(PCD04_REPLIES))
        kw.update(read_access(raw, path, c, base_dir))
    else:
        for key in ("sender", "pcd04_reply", *HL7_ACCESS_KEYS):
            if key in raw:
                c.fail(
                    f"only HL7 devices ({', '.join(sorted(HL7_PROTOCOLS))}) have a {key}",
                    raw.line_of(key),
                    join(path, key),
                )
    return DeviceConfig(
        bed=bed, id=dev_id, kind=kind, protocol=protocol, address=address, line=raw.line, **kw
    )


def _sender(raw: Marked, path: str, c: Checker, protocol: str) -> dict[str, str]:
    sender = raw.get("sender")
    if not isinstance(sender, Marked) or not sender:
        c.fail(
            f"{protocol} needs the sender's identifiers (application, facility, "
            "location or eui64) to map messages to this bed",
            raw.line_of("sender" if "sender" in raw else "protocol"),
            join(path, "sender"),
        )
    spath = join(path, "sender")
    c.keys(sender, spath, _SENDER_KEYS)
    out: dict[str, str] = {}
    for key, value in sender.items():
        if isinstance(value, bool) or not isinstance(value, str | int) or not str(value):
            c.fail("must be a non-empty string", sender.line_of(key), join(spath, key))
        if key == "eui64" and not isinstance(value, str):  # YAML reads 0012… as a number
            c.fail("an EUI-64 of digits only must be quoted", sender.line_of(key), join(spath, key))
        out[key] = str(value)
    return out


def _pump(raw: Marked, path: str, c: Checker, base_dir: Path, *, modbus: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not modbus:  # a pump server says what it reports: no register map, no unit id
        for key in _MODBUS_ONLY:
            if key in raw:
                c.fail(f"only Modbus pumps have a {key}", raw.line_of(key), join(path, key))
        return _pump_role(raw, path, c)
    unit = raw.get("unit", 1)
    if isinstance(unit, bool) or not isinstance(unit, int) or not 1 <= unit <= 247:
        c.fail("must be a Modbus unit id 1-247", raw.line_of("unit"), join(path, "unit"))
    out["unit"] = unit
    profile_ref = raw.get("profile", "default")
    if not isinstance(profile_ref, str):
        c.fail("must be 'default' or a file path", raw.line_of("profile"), join(path, "profile"))
    if profile_ref == "default":
        out["profile"] = load_profile()
    else:
        ppath = Path(profile_ref)
        ppath = ppath if ppath.is_absolute() else base_dir / ppath
        if not ppath.is_file():
            c.fail(f"profile file {ppath} not found", raw.line_of("profile"), join(path, "profile"))
        out["profile"] = load_profile(ppath)  # its own errors name the profile file
    return out | _pump_role(raw, path, c)


def _pump_role(raw: Marked, path: str, c: Checker) -> dict[str, Any]:
    out: dict[str, Any] = {}
    role = raw.get("role", "study")
    out["role"] = c.choice(role, raw.line_of("role"), join(path, "role"), ("study", "vasopressor"))
    drug = raw.get("drug")
    if role == "vasopressor":
        if not isinstance(drug, str) or drug.lower() not in VASOPRESSOR_CODES:
            c.fail(
                f"a vasopressor pump needs a drug: one of {', '.join(VASOPRESSOR_CODES)}",
                raw.line_of("drug" if "drug" in raw else "role"),
                join(path, "drug"),
            )
        out["drug"] = drug.lower()
    elif drug is not None:
        c.fail("only vasopressor pumps carry a drug", raw.line_of("drug"), join(path, "drug"))
    conc = c.get(raw, "concentration_ug_ml", path, c.positive)
    if conc is not None:
        out["concentration_ug_ml"] = conc
    return out


def _serial(raw: Marked, path: str, c: Checker, default: SerialSettings) -> SerialSettings:
    if "serial" not in raw:
        return default
    spath = join(path, "serial")
    s = c.mapping(raw["serial"], raw.line_of("serial"), spath)
    c.keys(s, spath, _SERIAL_KEYS)
    baud = c.get(s, "baud", spath, c.integer, default.baudrate)
    bits = c.get(s, "data_bits", spath, c.integer, default.bytesize)
    stop = c.get(s, "stop_bits", spath, c.number, default.stopbits)
    parity = str(s.get("parity", default.parity)).upper()[:1]
    try:
        return SerialSettings(
            baudrate=baud or default.baudrate,
            parity=parity,  # type: ignore[arg-type]
            stopbits=stop if stop is not None else default.stopbits,
            bytesize=bits or default.bytesize,
        )
    except ValueError as exc:
        c.fail(str(exc), s.line, spath)


def _valid_host_port(address: str) -> bool:
    m = _HOST_PORT.match(address)
    return bool(m) and 0 < int(m.group(2)) < 65536  # type: ignore[union-attr]
