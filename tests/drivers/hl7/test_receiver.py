"""Per-message decisions: ACK code and bytes, bed lookup, times, alarm → arrhythmia."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.model import DeviceEvent, Observation
from drivers.hl7.message import parse_message
from drivers.hl7.pcd_write import build_oru_r01, build_oru_r40, corrupt
from drivers.hl7.receiver import Hl7Receiver

T = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def receiver(alarm_refresh: float = 60.0) -> Hl7Receiver:
    return Hl7Receiver(
        bed_map={
            "ICU^^3": "ICU-3",
            "ICU": "ICU-WARD",
            "0123456789ABCDEF": "ICU-7",
            "MONITOR9": "ICU-9",
            "ST-JOHN": "ICU-F",
        },
        device_id="hl7",
        alarm_refresh=alarm_refresh,
    )


def r01(
    location: str = "ICU^^3",
    t: datetime = T,
    control_id: str = "MSG1",
    sending_app: str = "CENTRAL",
    sending_facility: str = "",
    device_eui64: str = "",
) -> bytes:
    return build_oru_r01(
        {"MDC_PULS_OXIM_SAT_O2": 94.0, "MDC_ECG_HEART_RATE": 101.0},
        now=t,
        control_id=control_id,
        location=location,
        sending_app=sending_app,
        sending_facility=sending_facility,
        device_eui64=device_eui64,
    )


def test_accepted_message_ack_bytes_and_observations() -> None:
    out = receiver().receive(r01(), T)
    assert out.code == "AA"
    assert out.ack == (
        b"MSH|^~\\&|IAEWATCH|IAEWATCH|CENTRAL||20260301080000+0000||ACK^R01^ACK"
        b"|IAEWATCH00000001|P|2.6\rMSA|CA|MSG1\r"  # enhanced mode (MSH-15 AL): accept ack
    )
    assert out.bed == "ICU-3"
    assert out.identification == {"sending_application": "CENTRAL", "sending_facility": ""}
    assert out.outputs == (
        Observation(t=T, bed="ICU-3", code="MDC_ECG_HEART_RATE", value=101.0, unit="/min",
                    device="hl7"),
        Observation(t=T, bed="ICU-3", code="MDC_PULS_OXIM_SAT_O2", value=94.0, unit="%",
                    device="hl7"),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "bed"),
    [
        ({"location": "ICU^^3"}, "ICU-3"),  # PV1-3 as written
        ({"location": "ICU^^5"}, "ICU-WARD"),  # PV1-3's first component
        ({"location": "ICU^^3", "device_eui64": "0123456789ABCDEF"}, "ICU-7"),  # OBX-18 first
        ({"location": "X", "sending_app": "MONITOR9"}, "ICU-9"),  # MSH-3
        ({"location": "X", "sending_app": "M^0123456789ABCDEF^EUI-64"}, "ICU-7"),  # MSH-3.2
        ({"location": "X", "sending_facility": "ST-JOHN"}, "ICU-F"),  # MSH-4
    ],
)
def test_bed_lookup_order(kwargs: dict[str, str], bed: str) -> None:
    out = receiver().receive(r01(**kwargs), T)  # type: ignore[arg-type]
    assert (out.code, out.bed) == ("AA", bed)
    assert {o.bed for o in out.outputs} == {bed}


def test_unknown_sender_is_rejected_with_ar() -> None:
    out = receiver().receive(r01(location="ER^^1"), T)
    assert out.code == "AR"
    assert out.outputs == ()
    msg = parse_message(out.ack)
    msa = msg.first("MSA")
    assert msa is not None
    assert (msa.field(1), msa.field(2)) == ("CR", "MSG1")  # MSH-15 AL: commit reject
    err = msg.first("ERR")
    assert err is not None and err.component(3, 1) == "204"
    assert "ER^^1" in msa.text(3)


def test_malformed_message_gets_ae_with_its_control_id_when_msh_is_readable() -> None:
    rc = receiver()
    out = rc.receive(corrupt(r01(control_id="BAD7")), T)
    assert out.code == "AE"
    assert out.control_id == "BAD7"
    assert b"\rMSA|CE|BAD7|" in out.ack  # its MSH-15 AL is readable: enhanced mode
    out = rc.receive(b"\x00\xff garbage", T)
    assert out.code == "AE"
    assert b"\rMSA|AE||" in out.ack


@pytest.mark.parametrize(
    ("msh9", "version", "code", "err"),
    [
        ("ADT^A01^ADT_A01", "2.6", "AR", "200"),
        ("ORU^R30^ORU_R30", "2.6", "AR", "201"),
        ("ORU^R01^ORU_R01", "3.0", "AR", "203"),
        ("ORU^R01^ORU_R01", "2.3.1", "AA", ""),
    ],
)
def test_unsupported_messages(msh9: str, version: str, code: str, err: str) -> None:
    payload = (
        f"MSH|^~\\&|CMS||||20260301080000||{msh9}|Q1|P|{version}\rPV1||I|ICU^^3\r"
        "OBR|1|||182777000^monitoring of patient^SCT\r"
    ).encode()
    out = receiver().receive(payload, T)
    assert out.code == code
    if err:
        err_seg = parse_message(out.ack).first("ERR")
        assert err_seg is not None and err_seg.component(3, 1) == err


def test_alarm_is_answered_with_ora_r41() -> None:
    out = receiver().receive(
        build_oru_r40(rhythm="VF", phase="start", now=T, control_id="AL1", location="ICU^^3"), T
    )
    assert out.code == "AA"
    assert parse_message(out.ack).message_type == ("ORA", "R41", "ORA_R41")
    assert b"\rMSA|CA|AL1\r" in out.ack


def test_device_times_used_when_plausible_else_the_clock() -> None:
    rc = receiver()
    for sent, expected in [
        (T - timedelta(minutes=30), T - timedelta(minutes=30)),
        (T + timedelta(seconds=60), T + timedelta(seconds=60)),
        (T - timedelta(hours=3), T),  # a sender clock far behind
        (T + timedelta(minutes=10), T),  # or ahead
    ]:
        out = rc.receive(r01(t=sent), T)
        assert {o.t for o in out.outputs} == {expected}
    assert rc.implausible_times == 4  # two observations each, twice


def alarm(rc: Hl7Receiver, rhythm: str, phase: str, now: datetime) -> list[DeviceEvent]:
    out = rc.receive(
        build_oru_r40(rhythm=rhythm, phase=phase, now=now, control_id="A", location="ICU^^3"),
        now,
    )
    assert out.code == "AA"
    return [o for o in out.outputs if isinstance(o, DeviceEvent)]


def test_rhythm_alarm_starts_one_arrhythmia_episode() -> None:
    rc = receiver()
    first = alarm(rc, "VT", "start", T)
    assert [e.event for e in first] == ["device_alarm", "arrhythmia"]
    assert first[1].fields == {"rhythm": "VT", "alarm": "MDC_EVT_ECG_V_TACHY", "source": "hl7"}
    assert first[1].bed == "ICU-3"
    assert first[0].fields["phase"] == "start"
    t = T
    for _ in range(5):  # continue messages inside the refresh window: no new episode
        t += timedelta(seconds=20)
        assert [e.event for e in alarm(rc, "VT", "continue", t)] == ["device_alarm"]
    assert [e.event for e in alarm(rc, "VT", "end", t)] == ["device_alarm"]
    # after the end, a continue (its start was lost) opens a new episode
    assert [e.event for e in alarm(rc, "VT", "continue", t)] == ["device_alarm", "arrhythmia"]
    # a different rhythm is its own episode
    assert alarm(rc, "asystole", "start", t)[1].fields["rhythm"] == "asystole"


def test_alarm_without_phases_is_not_missed_after_a_gap() -> None:
    rc = receiver(alarm_refresh=60.0)
    payload = (
        b"MSH|^~\\&|CMS||||20260301080000+0000||ORU^R40^ORU_R40|X|P|2.6\rPV1||I|ICU^^3\r"
        b"OBR|1|||196616^MDC_EVT_ALARM^MDC\r"
        b"OBX|1|CWE|196616^MDC_EVT_ALARM^MDC|1.1|^MDC_EVT_ECG_V_FIB^MDC||||||R\r"
    )
    names = [[o.event for o in rc.receive(payload, T + timedelta(seconds=s)).outputs
              if isinstance(o, DeviceEvent)] for s in (0, 30, 200)]  # fmt: skip
    assert names == [
        ["device_alarm", "arrhythmia"],
        ["device_alarm"],
        ["device_alarm", "arrhythmia"],
    ]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.integers(min_value=0, max_value=2000))
def test_any_bytes_get_an_answer_and_never_raise(noise: bytes, at: int) -> None:
    rc = receiver()
    good = r01()
    cut = at % len(good)
    for payload in (noise, good[:cut] + noise, good[:cut] + noise + good[cut:]):
        out = rc.receive(payload, T)
        assert out.code in ("AA", "AE", "AR")
        assert parse_message(out.ack).first("MSA") is not None
