"""Numerics → vocabulary readings; alarm lists → onset/end events."""

from __future__ import annotations

import pytest

from core.model import ValueStatus
from drivers.intellivue import nomenclature as nom
from drivers.intellivue.tracking import AlarmTracker
from drivers.intellivue.translate import reading, readings
from drivers.intellivue.values import AlarmEntry, NumericValue, encode_float


def nv(physio: int, value: float | None, unit: int, state: int = 0, dec: int = 0) -> NumericValue:
    return NumericValue(
        handle=1, physio_id=physio, state=state, unit_code=unit, raw=encode_float(value, dec)
    )


@pytest.mark.parametrize(
    ("physio", "unit", "code"),
    [
        (0x4182, 0x0AA0, "MDC_ECG_HEART_RATE"),
        (0x4822, 0x0AA0, "MDC_PULS_OXIM_PULS_RATE"),
        (0x4BB8, 0x0220, "MDC_PULS_OXIM_SAT_O2"),
        (0x4A15, 0x0F20, "MDC_PRESS_BLD_ART_SYS"),
        (0x4A12, 0x0F20, "MDC_PRESS_BLD_ART_DIA"),
        (0x4A07, 0x0F20, "MDC_PRESS_BLD_NONINV_MEAN"),
        (0x4B48, 0x17A0, "MDC_TEMP"),
        (0x4B60, 0x17A0, "MDC_TEMP_BLD"),
        (0xE014, 0x17A0, "MDC_TEMP_BLD"),
        (0x500A, 0x0AE0, "MDC_RESP_RATE"),
        (0x5012, 0x0AE0, "MDC_RESP_RATE"),
        (0x50B0, 0x0F20, "MDC_AWAY_CO2_ET"),
    ],
)
def test_mapping(physio: int, unit: int, code: str) -> None:
    r = reading(nv(physio, 37.0, unit))
    assert r is not None and r.code == code and r.value == 37.0
    assert r.status is ValueStatus.VALID


def test_units_converted_and_states() -> None:
    etco2 = reading(nv(0x50B0, 5.6, 0x0F03, dec=1))
    assert etco2 is not None and etco2.unit == "mm[Hg]"
    assert etco2.value == pytest.approx(42.0, abs=0.05)
    q = reading(nv(0x4BB8, 91, 0x0220, state=0x4000))
    assert q is not None and q.status is ValueStatus.QUESTIONABLE and q.value == 91
    demo = reading(nv(0x4BB8, 91, 0x0220, state=0x0400))
    assert demo is not None and demo.status is ValueStatus.QUESTIONABLE
    for state in (0x8000, 0x2000):
        r = reading(nv(0x4BB8, 91, 0x0220, state=state))
        assert r is not None and r.value is None and r.status is ValueStatus.UNAVAILABLE
    nan = reading(nv(0x4182, None, 0x0AA0))
    assert nan is not None and nan.value is None and nan.note == "nan"
    odd_unit = reading(nv(0x4182, 60, 0x1234))
    assert odd_unit is not None and odd_unit.value is None
    assert reading(nv(0x1234, 1, 0x0220)) is None
    assert len(readings([nv(0x4182, 60, 0x0AA0), nv(0x1234, 1, 0x0220)])) == 1


def alarm(code: int, patient: bool = True, al_type: int = 0x0400) -> AlarmEntry:
    return AlarmEntry(patient=patient, source=0x4182, code=code, type=al_type, state=0)


def test_arrhythmia_once_per_episode() -> None:
    t = AlarmTracker()
    vt = alarm(nom.NOM_EVT_ECG_V_TACHY)
    assert t.update_alarms([vt]) == [
        ("arrhythmia", {"rhythm": "VT", "code": 0x0C98, "priority": "high", "text": ""})
    ]
    assert t.update_alarms([vt]) == []
    ns = alarm(nom.NOM_EVT_ECG_V_TACHY_NON_SUST)
    assert t.update_alarms([vt, ns]) == []  # same rhythm, same episode
    assert t.update_alarms([]) == []
    assert t.update_alarms([vt])[0][1]["rhythm"] == "VT"  # a new episode


@pytest.mark.parametrize(
    ("code", "rhythm"),
    [(0x0C04, "asystole"), (0xF004, "VF"), (0x0C0E, "brady"), (0xF1C8, "AF"), (0x0C78, "SVT")],
)
def test_rhythm_codes(code: int, rhythm: str) -> None:
    events = AlarmTracker().update_alarms([alarm(code)])
    assert events[0][0] == "arrhythmia" and events[0][1]["rhythm"] == rhythm


def test_other_alarms_start_and_end() -> None:
    t = AlarmTracker()
    desat = alarm(nom.NOM_EVT_DESAT, al_type=0x0200)
    ((name, fields),) = t.update_alarms([desat])
    assert name == "device_alarm"
    assert fields["phase"] == "start" and fields["priority"] == "medium"
    assert fields["name"] == "desat" and fields["kind"] == "patient"
    assert t.update_alarms([desat]) == []
    ((name, fields),) = t.update_alarms([])
    assert fields["phase"] == "end" and fields["code"] == nom.NOM_EVT_DESAT


def test_watch_off_from_status_alarm_and_pulse_source() -> None:
    t = AlarmTracker()
    assert t.watching is None
    events = t.update_numerics([nv(0x4182, 80, 0x0AA0), nv(0x4822, 80, 0x0AA0)])
    assert events == [] and t.watching is True
    events = t.update_numerics([nv(0x4822, 80, 0x0AA0)])  # pulse only: HR source is pulse
    assert events == [("arrhythmia_watch_off", {"active": True, "reason": "hr_source_pulse"})]
    assert t.update_numerics([nv(0x4822, 80, 0x0AA0)]) == []
    off = alarm(nom.NOM_EVT_STAT_ECG_AL_ALL_OFF, patient=False, al_type=0x0001)
    events = t.update_alarms([off])
    assert [e[0] for e in events] == ["device_alarm"]  # already off: no second watch event
    events = t.update_numerics([nv(0x4182, 80, 0x0AA0)])
    assert events == []  # still off: ECG alarms are switched off
    events = t.update_alarms([])
    assert ("arrhythmia_watch_off", {"active": False, "reason": "ecg_alarms_off"}) in events
    assert t.watching is True
