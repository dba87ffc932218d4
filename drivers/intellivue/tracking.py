"""Alarm episodes from successive alert polls (pure; no I/O).

The monitor's alert monitor lists the alarms active *now*; events need onsets and ends. The
tracker compares each poll with the previous one:

| change                                   | event                                          |
|------------------------------------------|------------------------------------------------|
| a rhythm alarm's rhythm becomes active   | `arrhythmia` {rhythm, code, priority, text}    |
| any other alarm appears / disappears     | `device_alarm` {phase start / end, code, ...}  |
| arrhythmia watching stops / resumes      | `arrhythmia_watch_off` {active true / false}   |

Rhythms are matched on the alarm code, never its text. An arrhythmia is reported once per
episode: while any alarm with that rhythm stays listed, later polls report nothing.
Arrhythmia watching is off when the monitor lists an "ECG alarms off" status alarm, or when
no usable ECG heart rate exists while an SpO2 pulse does (pulse is then the HR source and the
monitor does not raise asystole/VF/VT alarms: silence means "not watched", not "absent").
"""

from __future__ import annotations

from typing import Any

from drivers.intellivue import nomenclature as nom
from drivers.intellivue.values import AlarmEntry, NumericValue

TrackedEvent = tuple[str, dict[str, Any]]

REASON_ECG_ALARMS_OFF = "ecg_alarms_off"
REASON_PULSE_HR_SOURCE = "hr_source_pulse"


def _usable(values: list[NumericValue], physio_id: int) -> bool:
    return any(v.physio_id == physio_id and v.value is not None and not v.invalid for v in values)


class AlarmTracker:
    """Turns polled alarm lists and numerics into onset/end events."""

    def __init__(self) -> None:
        self._active: dict[tuple[bool, int, int], AlarmEntry] = {}
        self._rhythms: set[str] = set()
        self._reasons: set[str] = set()
        self._watch_known = False

    @property
    def watching(self) -> bool | None:
        """Whether lethal arrhythmias are being watched (None before the first poll)."""
        return None if not self._watch_known else not self._reasons

    def update_alarms(self, entries: list[AlarmEntry]) -> list[TrackedEvent]:
        events: list[TrackedEvent] = []
        current = {e.key: e for e in entries}
        rhythms_now = {nom.RHYTHMS[e.code] for e in entries if e.code in nom.RHYTHMS}
        for key, entry in current.items():
            if key in self._active:
                continue
            rhythm = nom.RHYTHMS.get(entry.code)
            if rhythm is None:
                events.append(("device_alarm", _alarm_fields(entry, "start")))
            elif rhythm not in self._rhythms:
                self._rhythms.add(rhythm)  # once per episode, even if two codes share it
                events.append(("arrhythmia", _rhythm_fields(entry, rhythm)))
        for key, entry in self._active.items():
            if key not in current and entry.code not in nom.RHYTHMS:
                events.append(("device_alarm", _alarm_fields(entry, "end")))
        self._rhythms &= rhythms_now
        self._active = current
        off = any(e.code in nom.ECG_ALARMS_OFF for e in entries)
        events.extend(self._set_reason(REASON_ECG_ALARMS_OFF, off))
        return events

    def update_numerics(self, values: list[NumericValue]) -> list[TrackedEvent]:
        pulse_only = not _usable(values, nom.NOM_ECG_CARD_BEAT_RATE) and _usable(
            values, nom.NOM_PLETH_PULS_RATE
        )
        return self._set_reason(REASON_PULSE_HR_SOURCE, pulse_only)

    def _set_reason(self, reason: str, present: bool) -> list[TrackedEvent]:
        was_off = bool(self._reasons)
        known = self._watch_known
        self._watch_known = True
        if present:
            self._reasons.add(reason)
        else:
            self._reasons.discard(reason)
        now_off = bool(self._reasons)
        if now_off and (not was_off or not known):
            reasons = ",".join(sorted(self._reasons))
            return [("arrhythmia_watch_off", {"active": True, "reason": reasons})]
        if was_off and not now_off:
            return [("arrhythmia_watch_off", {"active": False, "reason": reason})]
        return []


def _alarm_fields(entry: AlarmEntry, phase: str) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "phase": phase,
        "code": entry.code,
        "source": entry.source,
        "kind": "patient" if entry.patient else "technical",
        "priority": entry.priority,
        "text": entry.text or "",
    }
    name = nom.ALARM_NAMES.get(entry.code)
    if name:
        fields["name"] = name
    return fields


def _rhythm_fields(entry: AlarmEntry, rhythm: str) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "rhythm": rhythm,
        "code": entry.code,
        "priority": entry.priority,
        "text": entry.text or "",
    }
    if entry.code in nom.SUSTAINED:
        fields["sustained"] = nom.SUSTAINED[entry.code]
    return fields
