"""What a gateway keeps retained on the broker so that a fresh station rebuilds the truth.

A pure tracker: each published event gives the retained publications it implies.

- `device_connected` / `device_disconnected` / `device_stale` → `state/<device>` (the last).
- `pump_alarm` → `alarm/<device>/pump-<kind>`; its `pump_alarm_cleared` clears it.
- `device_alarm` start/update → `alarm/<device>/<name>`; its `end` clears it.
- `arrhythmia` → `alarm/<device>/arrhythmia-<rhythm>`; cleared by a `device_alarm` end of
  the same alarm (HL7 name or code) or by the device's `device_disconnected`. A monitor that
  reports no arrhythmia end (IntelliVue) keeps it retained until one of those.

A clear is an empty retained payload (MQTT's way of deleting a retained message).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.model import DeviceEvent

STATE_EVENTS = frozenset({"device_connected", "device_disconnected", "device_stale"})


@dataclass(frozen=True, slots=True)
class Retained:
    """One retained publication: `rest` are the topic levels after the kind."""

    kind: str
    rest: tuple[str, ...]
    set: bool
    """False: clear the retained message."""


def device_of(ev: DeviceEvent) -> str:
    return ev.device or str(ev.fields.get("device") or "unknown")


def _alarm_name(fields: dict[str, object]) -> str:
    for key in ("alarm", "name", "code", "mdc", "text"):
        value = fields.get(key)
        if value not in (None, ""):
            return str(value)
    return "alarm"


@dataclass
class RetainedTracker:
    """Open alarms per device, to know which retained messages an event sets or clears."""

    _arrhythmias: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)

    def on_event(self, ev: DeviceEvent) -> list[Retained]:
        device = device_of(ev)
        name = ev.event
        if name in STATE_EVENTS:
            out = [Retained("state", (device,), True)]
            if name == "device_disconnected":
                cleared = self._arrhythmias.pop(device, {})
                out += [Retained("alarm", rest, False) for rest in cleared.values()]
            return out
        if name in ("pump_alarm", "pump_alarm_cleared"):
            rest = (device, f"pump-{ev.fields.get('kind', 'alarm')}")
            return [Retained("alarm", rest, name == "pump_alarm")]
        if name == "arrhythmia":
            rest = (device, f"arrhythmia-{ev.fields.get('rhythm', 'unknown')}")
            self._arrhythmias.setdefault(device, {})[_alarm_name(ev.fields)] = rest
            return [Retained("alarm", rest, True)]
        if name == "device_alarm":
            alarm = _alarm_name(ev.fields)
            ended = ev.fields.get("phase") == "end"
            out = [Retained("alarm", (device, alarm), not ended)]
            rhythm = self._arrhythmias.get(device, {}).pop(alarm, None) if ended else None
            if rhythm is not None:
                out.append(Retained("alarm", rhythm, False))
            return out
        return []
