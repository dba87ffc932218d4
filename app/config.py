"""The ICU configuration file: beds and, per bed, the devices plugged in.

    beds:
      - bed: ICU-1
        label: Bed 1                       # optional
        devices:
          - id: pump-study
            kind: pump                     # pump | ventilator | monitor
            protocol: modbus-tcp    # modbus-tcp | modbus-rtu | medibus | intellivue | hl7-mllp
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

Serial URLs: `/dev/ttyUSB0`, a pty path, `socket://host:port`, `rfc2217://host:port`.
`check_config` validates everything and raises `ConfigError` naming file, line and field;
the service refuses to start on an invalid file with the same message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.params import VASOPRESSOR_CODES
from core.yamlfile import Marked, read_marked
from drivers.modbus.profile import PumpProfile, load_profile
from drivers.transport import SerialSettings

PROTOCOLS: dict[str, str] = {
    "modbus-tcp": "pump",
    "modbus-rtu": "pump",
    "medibus": "ventilator",
    "intellivue": "monitor",
    "hl7-mllp": "monitor",
}
SERIAL_PROTOCOLS = {"modbus-rtu", "medibus", "intellivue"}
_SERIAL_DEFAULTS: dict[str, SerialSettings] = {
    "modbus-rtu": SerialSettings(baudrate=19200, parity="E"),
    "medibus": SerialSettings(baudrate=19200, parity="E"),  # Evita 4 (PROTOCOLS.md §1)
    "intellivue": SerialSettings(baudrate=115200, parity="N"),  # IVH: 115200 8N1
}
# IntelliVue answers one poll per object type per second and aborts after 10 s of silence
# (IVH); MEDIBUS links die after 3 s without traffic, so a keep-alive runs between polls (XEN).
_POLL_LIMITS: dict[str, tuple[float, float]] = {"intellivue": (1.0, 5.0), "medibus": (0.2, 60.0)}
_POLL_WHY = {
    "intellivue": "the monitor answers one poll a second and drops the link after 10 s",
    "medibus": "a keep-alive holds the link between polls",
}
# A central station may send only every few seconds to a minute: stale is judged on that scale.
_STALE_DEFAULT: dict[str, float] = {"hl7-mllp": 60.0}
_HOST_PORT = re.compile(r"^(?:tcp://)?(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")
_SERIAL_URL = re.compile(r"^(/dev/\S+|socket://\S+:\d+|rfc2217://\S+:\d+|loop://\S*|COM\d+)$")
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
}


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


@dataclass(frozen=True, slots=True, kw_only=True)
class BedConfig:
    bed: str
    label: str
    devices: tuple[DeviceConfig, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class IcuConfig:
    beds: tuple[BedConfig, ...]
    source: str

    def devices(self) -> list[DeviceConfig]:
        return [d for b in self.beds for d in b.devices]


def load_config(path: str | Path) -> IcuConfig:
    """Load and validate the ICU configuration file."""
    p = Path(path)
    return parse_config(read_marked(p), file=str(p), base_dir=p.parent)


class _Errors:
    def __init__(self, file: str) -> None:
        self.file = file

    def at(self, where: Marked, key: str, field_path: str, msg: str) -> ConfigError:
        return ConfigError(msg, file=self.file, line=where.line_of(key), field=field_path)


def parse_config(data: Any, *, file: str, base_dir: Path) -> IcuConfig:
    e = _Errors(file)
    if not isinstance(data, Marked):
        raise ConfigError("the file must be a mapping with 'beds'", file=file, line=1)
    for key in data:
        if key != "beds":
            raise e.at(data, key, key, "unknown key (expected 'beds')")
    beds_raw = data.get("beds")
    if not isinstance(beds_raw, list) or not beds_raw:
        raise ConfigError(
            "'beds' must be a non-empty list", file=file, line=data.line_of("beds"), field="beds"
        )
    beds: list[BedConfig] = []
    seen_beds: set[str] = set()
    serial_ports: dict[str, str] = {}
    senders: dict[tuple[str, str], str] = {}
    for i, bed_raw in enumerate(beds_raw):
        path = f"beds[{i}]"
        if not isinstance(bed_raw, Marked):
            raise ConfigError(
                "a bed must be a mapping", file=file, line=data.line_of("beds"), field=path
            )
        bed = _bed(bed_raw, path, e, base_dir, serial_ports)
        if bed.bed in seen_beds:
            raise e.at(bed_raw, "bed", f"{path}.bed", f"bed {bed.bed!r} is declared twice")
        seen_beds.add(bed.bed)
        _check_senders(bed, bed_raw, path, e, senders)
        beds.append(bed)
    return IcuConfig(beds=tuple(beds), source=file)


def _check_senders(
    bed: BedConfig, raw: Marked, path: str, e: _Errors, senders: dict[tuple[str, str], str]
) -> None:
    """One HL7 sender identifier maps to one bed per listener, or messages go astray."""
    devices_raw = raw["devices"]
    for j, d in enumerate(bed.devices):
        for value in d.sender.values():
            other = senders.get((d.address, value))
            if other is not None and other != bed.bed:
                raise e.at(
                    devices_raw[j],
                    "sender",
                    f"{path}.devices[{j}].sender",
                    f"sender identifier {value!r} on {d.address} already maps to {other}",
                )
            senders[(d.address, value)] = bed.bed


def _bed(
    raw: Marked, path: str, e: _Errors, base_dir: Path, serial_ports: dict[str, str]
) -> BedConfig:
    for key in raw:
        if key not in ("bed", "label", "devices"):
            raise e.at(raw, key, f"{path}.{key}", "unknown key (expected bed, label, devices)")
    name = raw.get("bed")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,32}", name):
        raise e.at(
            raw,
            "bed",
            f"{path}.bed",
            "must be a bed name of letters, digits, '-', '_' or '.' (at most 32)",
        )
    devices_raw = raw.get("devices")
    if not isinstance(devices_raw, list) or not devices_raw:
        raise e.at(raw, "devices", f"{path}.devices", f"bed {name} has no devices")
    devices: list[DeviceConfig] = []
    ids: set[str] = set()
    for j, dev_raw in enumerate(devices_raw):
        dpath = f"{path}.devices[{j}]"
        if not isinstance(dev_raw, Marked):
            raise e.at(raw, "devices", dpath, "a device must be a mapping")
        dev = _device(name, dev_raw, dpath, e, base_dir)
        if dev.id in ids:
            raise e.at(dev_raw, "id", f"{dpath}.id", f"device id {dev.id!r} used twice at {name}")
        ids.add(dev.id)
        if dev.protocol in SERIAL_PROTOCOLS and not dev.address.startswith("socket://"):
            other = serial_ports.get(dev.address)
            if other is not None:
                raise e.at(
                    dev_raw,
                    "address",
                    f"{dpath}.address",
                    f"serial port {dev.address} is already used by {other}",
                )
            serial_ports[dev.address] = f"{name}/{dev.id}"
        devices.append(dev)
    if not any(d.kind == "monitor" for d in devices):
        raise e.at(
            raw,
            "devices",
            f"{path}.devices",
            f"bed {name} has no monitor: SpO2, heart rate and arrhythmia alarms are needed",
        )
    return BedConfig(bed=name, label=str(raw.get("label", name)), devices=tuple(devices))


def _device(bed: str, raw: Marked, path: str, e: _Errors, base_dir: Path) -> DeviceConfig:
    for key in raw:
        if key not in _DEVICE_KEYS:
            raise e.at(
                raw, key, f"{path}.{key}", f"unknown key (known: {', '.join(sorted(_DEVICE_KEYS))})"
            )
    for key in ("id", "kind", "protocol", "address"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise e.at(raw, key, f"{path}.{key}", "is required (a non-empty string)")
    protocol, kind, address = raw["protocol"], raw["kind"], raw["address"]
    if protocol not in PROTOCOLS:
        raise e.at(
            raw,
            "protocol",
            f"{path}.protocol",
            f"unknown protocol {protocol!r} (known: {', '.join(PROTOCOLS)})",
        )
    if kind != PROTOCOLS[protocol]:
        raise e.at(
            raw,
            "kind",
            f"{path}.kind",
            f"protocol {protocol} is for a {PROTOCOLS[protocol]}, not a {kind}",
        )
    if protocol in SERIAL_PROTOCOLS:
        if not _SERIAL_URL.match(address):
            raise e.at(
                raw,
                "address",
                f"{path}.address",
                f"{address!r} is not a serial URL (/dev/ttyUSB0, socket://host:port, "
                "rfc2217://host:port)",
            )
    elif not _valid_host_port(address):
        raise e.at(raw, "address", f"{path}.address", f"{address!r} is not a host:port address")
    kw: dict[str, Any] = {}
    kw["poll_interval"] = _positive(raw, "poll_interval", path, e, 1.0)
    low, high = _POLL_LIMITS.get(protocol, (0.05, 3600.0))
    if not low <= kw["poll_interval"] <= high:
        raise e.at(
            raw,
            "poll_interval",
            f"{path}.poll_interval",
            f"{protocol} polls every {low:g}-{high:g} s ({_POLL_WHY[protocol]})",
        )
    kw["stale_after"] = _positive(raw, "stale_after", path, e, _STALE_DEFAULT.get(protocol, 10.0))
    if protocol in SERIAL_PROTOCOLS:
        kw["serial"] = _serial(raw, path, e, _SERIAL_DEFAULTS[protocol])
    elif "serial" in raw:
        raise e.at(raw, "serial", f"{path}.serial", f"{protocol} is not a serial protocol")
    if kind == "pump":
        kw.update(_pump(raw, path, e, base_dir))
    else:
        for key in ("unit", "profile", "role", "drug", "concentration_ug_ml"):
            if key in raw:
                raise e.at(raw, key, f"{path}.{key}", f"only pumps have {key}")
    if protocol == "hl7-mllp":
        sender = raw.get("sender")
        if not isinstance(sender, Marked) or not sender:
            raise e.at(
                raw,
                "sender" if "sender" in raw else "protocol",
                f"{path}.sender",
                "hl7-mllp needs the sender's identifiers (application, facility, "
                "location or eui64) to map messages to this bed",
            )
        for key, value in sender.items():
            if key not in ("application", "facility", "location", "eui64"):
                raise e.at(
                    sender,
                    key,
                    f"{path}.sender.{key}",
                    "unknown key (application, facility, location, eui64)",
                )
            if not isinstance(value, str | int) or not str(value):
                raise e.at(sender, key, f"{path}.sender.{key}", "must be a non-empty string")
        kw["sender"] = {k: str(v) for k, v in sender.items()}
    elif "sender" in raw:
        raise e.at(raw, "sender", f"{path}.sender", "only hl7-mllp devices have a sender")
    return DeviceConfig(
        bed=bed, id=raw["id"], kind=kind, protocol=protocol, address=address, line=raw.line, **kw
    )


def _pump(raw: Marked, path: str, e: _Errors, base_dir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    unit = raw.get("unit", 1)
    if isinstance(unit, bool) or not isinstance(unit, int) or not 1 <= unit <= 247:
        raise e.at(raw, "unit", f"{path}.unit", "must be a Modbus unit id 1-247")
    out["unit"] = unit
    profile_ref = raw.get("profile", "default")
    if not isinstance(profile_ref, str):
        raise e.at(raw, "profile", f"{path}.profile", "must be 'default' or a file path")
    if profile_ref == "default":
        out["profile"] = load_profile()
    else:
        ppath = Path(profile_ref)
        ppath = ppath if ppath.is_absolute() else base_dir / ppath
        if not ppath.is_file():
            raise e.at(raw, "profile", f"{path}.profile", f"profile file {ppath} not found")
        out["profile"] = load_profile(ppath)  # its own errors name the profile file
    role = raw.get("role", "study")
    if role not in ("study", "vasopressor"):
        raise e.at(raw, "role", f"{path}.role", "must be 'study' or 'vasopressor'")
    out["role"] = role
    drug = raw.get("drug")
    if role == "vasopressor":
        if not isinstance(drug, str) or drug.lower() not in VASOPRESSOR_CODES:
            raise e.at(
                raw,
                "drug" if "drug" in raw else "role",
                f"{path}.drug",
                f"a vasopressor pump needs a drug: one of {', '.join(VASOPRESSOR_CODES)}",
            )
        out["drug"] = drug.lower()
    elif drug is not None:
        raise e.at(raw, "drug", f"{path}.drug", "only vasopressor pumps carry a drug")
    conc = raw.get("concentration_ug_ml")
    if conc is not None:
        if isinstance(conc, bool) or not isinstance(conc, int | float) or conc <= 0:
            raise e.at(
                raw,
                "concentration_ug_ml",
                f"{path}.concentration_ug_ml",
                "must be a positive number (ug/mL)",
            )
        out["concentration_ug_ml"] = float(conc)
    return out


def _serial(raw: Marked, path: str, e: _Errors, default: SerialSettings) -> SerialSettings:
    s = raw.get("serial")
    if s is None:
        return default
    if not isinstance(s, Marked):
        raise e.at(raw, "serial", f"{path}.serial", "must be {baud, parity, stop_bits, data_bits}")
    for key in s:
        if key not in ("baud", "parity", "stop_bits", "data_bits"):
            raise e.at(
                s, key, f"{path}.serial.{key}", "unknown key (baud, parity, stop_bits, data_bits)"
            )
    try:
        return SerialSettings(
            baudrate=int(s.get("baud", default.baudrate)),
            parity=str(s.get("parity", default.parity)).upper()[:1],  # type: ignore[arg-type]
            stopbits=float(s.get("stop_bits", default.stopbits)),
            bytesize=int(s.get("data_bits", default.bytesize)),
        )
    except (ValueError, TypeError) as exc:
        raise e.at(s, next(iter(s)), f"{path}.serial", str(exc)) from None


def _positive(raw: Marked, key: str, path: str, e: _Errors, default: float) -> float:
    v = raw.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int | float) or v <= 0:
        raise e.at(raw, key, f"{path}.{key}", "must be a positive number of seconds")
    return float(v)


def _valid_host_port(address: str) -> bool:
    m = _HOST_PORT.match(address)
    return bool(m) and 0 < int(m.group(2)) < 65536  # type: ignore[union-attr]
