"""IHE PCD-01 / PCD-04 reading and writing."""

from __future__ import annotations

import contextlib
import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import DecodeError
from core.model import ValueStatus
from core.params import PARAMETERS
from drivers.hl7 import mdc
from drivers.hl7.message import parse_message
from drivers.hl7.mllp import MllpDecoder, frame
from drivers.hl7.pcd import Report, decode_report
from drivers.hl7.pcd_write import Patient, build_oru_r01, build_oru_r40, corrupt

T = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
HEAD = (
    "MSH|^~\\&|CMS|WARD|||20260301080000+0000||ORU^R01^ORU_R01|1|P|2.6\r"
    "OBR|1|||182777000^monitoring of patient^SCT|||20260301080000+0000\r"
)


def decode(text: str) -> Report:
    return decode_report(parse_message(text.encode()))


def test_protocols_md_example_obx_is_spo2_98_percent() -> None:
    rep = decode(
        HEAD
        + "OBX|4|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.6.1.1|98|262688^MDC_DIM_PERCENT^MDC|||||R"
    )
    (m,) = rep.metrics
    assert (m.code, m.value, m.unit, m.status) == ("MDC_PULS_OXIM_SAT_O2", 98.0, "%", "valid")
    assert (m.mdc, m.containment, m.known) == (150456, "1.6.1.1", True)
    assert m.time == T


# A central station's PCD-01 as senders write them: MDC units, a UCUM primary, a UCUM
# alternate, a plain unit, a derived-only code, an unknown code, device rows (X), a text row,
# an empty value, OBX-14 times, an EUI-64 in MSH-3 and OBX-18, an escaped location.
REALISTIC = "\r".join(
    [
        "MSH|^~\\&|CMS^00A0370000000001^EUI-64|MINDRAY|IAEWATCH|ICU|20260301085959.123+0100||"
        "ORU^R01^ORU_R01|HL7MSG-0042|P|2.6|||AL|NE||UNICODE UTF-8|||"
        "PCD_DEC_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO",
        "PID|||12345^^^HOSP^PI||Doe^Jane^^^^^L",
        "PV1||I|ICU\\T\\CCU^^Bed 07",
        "OBR|1|080019FFFF4C7A5E^EUI-64|080019FFFF4C7A5E^EUI-64|182777000^monitoring of patient^SCT"
        "|||20260301085959+0100",
        "OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X|||||||"
        "080019FFFF4C7A5E^EUI-64",
        "OBX|2||^MDC_DEV_ECG_VMD^MDC|1.1.0.0|||||||X",
        "OBX|3|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|112|264864^MDC_DIM_BEAT_PER_MIN^MDC"
        "|||||R|||20260301085958+0100",
        "OBX|4|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.2.1.1|91|262688^MDC_DIM_PERCENT^MDC|||||R",
        "OBX|5|NM|149530^MDC_PULS_OXIM_PULS_RATE^MDC|1.2.1.2||264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R",
        "OBX|6|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC|1.3.1.1|15.2|kPa^kPa^UCUM|||||F",
        "OBX|7|NM|150022^MDC_PRESS_BLD_NONINV_DIA^MDC|1.3.1.2|61|mmHg|||||R",
        "OBX|8|NM|^MDC_TEMP_BLD^MDC|1.4.1.1|100.4|^MDC_DIM_FAHR^MDC|||||R",
        "OBX|9|NM|150033^MDC_PRESS_BLD_ART_SYS^MDC|1.5.1.1|121|266016^MDC_DIM_MMHG^MDC|||||R",
        "OBX|10|NM|151562|1.6.1.1|28|264928^MDC_DIM_RESP_PER_MIN^MDC|||||R",
        "OBX|11|NM|^MDC_FLOW_FLUID_PUMP^MDC|1.7.1.1|125|265266^MDC_DIM_MILLI_L_PER_HR^MDC"
        "^mL/h^mL/h^UCUM|||||R",
        "OBX|12|NM|188736^MDC_MASS_BODY_ACTUAL^MDC|1.0.0.1|72|263875^MDC_DIM_KILO_G^MDC|||||R",
        "OBX|13|ST|184326^MDC_ECG_STAT_RHY^MDC|1.1.1.2|Sinus rhythm||||||R",
        "OBX|14|NM|^MDC_AWAY_CO2_ET^MDC|1.8.1.1|38|266016^MDC_DIM_MMHG^MDC|||||X",
        "OBX|15|NM|^MDC_PRESS_AWAY_END_EXP_POS^MDC|1.9.1.1|abc|^MDC_DIM_CM_H2O^MDC|||||R",
        "OBX|16|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.2.1.1|91|262688^MDC_DIM_PERCENT^MDC|||||D",
    ]
)


def test_realistic_pcd01() -> None:
    rep = decode(REALISTIC)
    h = rep.header
    assert h.sending_application == "CMS^00A0370000000001^EUI-64"
    assert h.sending_facility == "MINDRAY"
    assert (h.control_id, h.message_code, h.trigger, h.version) == (
        "HL7MSG-0042",
        "ORU",
        "R01",
        "2.6",
    )
    assert h.time == datetime(2026, 3, 1, 7, 59, 59, 123000, tzinfo=UTC)
    assert rep.patient_id == "12345"
    assert rep.location == "ICU&CCU^^Bed 07"
    assert rep.devices == ("080019FFFF4C7A5E",)
    assert not rep.is_alarm
    got = {m.code: m for m in rep.metrics}
    assert list(got) == [
        "MDC_ECG_HEART_RATE",
        "MDC_PULS_OXIM_SAT_O2",
        "MDC_PULS_OXIM_PULS_RATE",
        "MDC_PRESS_BLD_NONINV_SYS",
        "MDC_PRESS_BLD_NONINV_DIA",
        "MDC_TEMP_BLD",
        "MDC_PRESS_BLD_ART_SYS",
        "MDC_RESP_RATE",
        "MDC_FLOW_FLUID_PUMP",
        "MDC_MASS_BODY_ACTUAL",
        "MDC_PRESS_AWAY_END_EXP_POS",
    ]
    hr = got["MDC_ECG_HEART_RATE"]
    assert (hr.value, hr.unit) == (112.0, "/min")
    assert hr.time == datetime(2026, 3, 1, 7, 59, 58, tzinfo=UTC)  # OBX-14 wins over OBR-7
    assert got["MDC_PULS_OXIM_SAT_O2"].time == datetime(2026, 3, 1, 7, 59, 59, tzinfo=UTC)
    pr = got["MDC_PULS_OXIM_PULS_RATE"]
    assert (pr.value, pr.status, pr.unit) == (None, ValueStatus.UNAVAILABLE, "/min")
    nbp = got["MDC_PRESS_BLD_NONINV_SYS"]
    assert nbp.unit == "mm[Hg]"
    assert nbp.value == pytest.approx(114.01, abs=0.01)  # 15.2 kPa
    assert got["MDC_PRESS_BLD_NONINV_DIA"].value == 61.0
    temp = got["MDC_TEMP_BLD"]
    assert temp.unit == "Cel"
    assert temp.value == pytest.approx(38.0)
    assert got["MDC_PRESS_BLD_ART_SYS"].value == 121.0  # derived number 150033
    assert (got["MDC_RESP_RATE"].value, got["MDC_RESP_RATE"].mdc) == (28.0, 151562)
    assert (got["MDC_FLOW_FLUID_PUMP"].value, got["MDC_FLOW_FLUID_PUMP"].unit) == (125.0, "mL/h")
    weight = got["MDC_MASS_BODY_ACTUAL"]
    assert (weight.known, weight.value, weight.mdc) == (False, 72.0, 188736)
    peep = got["MDC_PRESS_AWAY_END_EXP_POS"]
    assert (peep.value, peep.status) == (None, ValueStatus.UNAVAILABLE)


def test_number_wins_over_name_and_unknown_units_are_questionable() -> None:
    rep = decode(
        HEAD
        + "OBX|1|NM|150456^MDC_ECG_HEART_RATE^MDC|1.1.1.1|97|%|||||R\r"
        + "OBX|2|NM|^MDC_ECG_HEART_RATE^MDC|1.1.1.2|97|furlong|||||R\r"
        + "OBX|3|NM|^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.3|140|%|||||R\r"
        + "OBX|4|NM|^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.4|0.93|1|||||R\r"
        + "OBX|5|NM|^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.5|93||||||R"
    )
    a, b, c, d, e = rep.metrics
    # number (SpO2) and name (heart rate) disagree: flagged and kept apart, never guessed
    assert (a.code, a.known, a.status) == (
        "150456^MDC_ECG_HEART_RATE",
        False,
        ValueStatus.QUESTIONABLE,
    )
    assert a.conflict == "150456 is MDC_PULS_OXIM_SAT_O2, MDC_ECG_HEART_RATE is MDC_ECG_HEART_RATE"
    assert (b.status, b.unit) == (ValueStatus.QUESTIONABLE, "furlong")
    assert c.status == ValueStatus.QUESTIONABLE  # 140 % is not possible
    assert d.value == pytest.approx(93.0)
    assert d.unit == "%"
    assert (e.value, e.unit) == (93.0, "%")  # no unit: the parameter's own


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ("MSH|^~\\&|CMS|||||||1\r", "MSH-9"),
        ("MSH|^~\\&|CMS||||||ORU^R01|\r", "MSH-10"),
        ("MSH|^~\\&|CMS||||||ORU^R01|1\rOBX|1|NM|150456|1|98\r", "before any OBR"),
    ],
)
def test_broken_structure(payload: str, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        decode(payload)


# PCD-04 as two public vendor samples write the alarm row: OBX-3 = MDC_EVT_ALARM with the
# event in OBX-5 (and companion attribute rows), or OBX-3 = the event itself.
R40_HEAD = (
    "MSH|^~\\&|CMS|WARD|||20260301080000+0000||ORU^R40^ORU_R40|A7|P|2.6\r"
    "PV1||I|ICU^^3\r"
    "OBR|1|A7||196616^MDC_EVT_ALARM^MDC|||20260301080000+0000\r"
)


def test_pcd04_alarm_in_obx5_with_companions() -> None:
    rep = decode(
        R40_HEAD
        + "OBX|1|CWE|196616^MDC_EVT_ALARM^MDC|1.7.0.199684.1|199684^MDC_EVT_ECG_ASYSTOLE^MDC"
        "|||A~PH~SP|||R|||20260301075955+0000\r"
        "OBX|2|NM|147842^MDC_ECG_HEART_RATE^MDC|1.7.0.199684.2|0|264864^MDC_DIM_BEAT_PER_MIN^MDC"
        "|||||R\r"
        "OBX|3|ST|68481^MDC_ATTR_EVENT_PHASE^MDC|1.7.0.199684.3|start||||||R\r"
        "OBX|4|ST|68482^MDC_ATTR_ALARM_STATE^MDC|1.7.0.199684.4|active||||||R\r"
        "OBX|5|ST|68483^MDC_ATTR_ALARM_INACTIVATION_STATE^MDC|1.7.0.199684.5|enabled||||||R"
    )
    assert rep.is_alarm
    assert rep.metrics == ()  # the value that tripped the alarm is not a new observation
    (al,) = rep.alarms
    assert (al.code, al.name, al.rhythm) == (199684, "MDC_EVT_ECG_ASYSTOLE", "asystole")
    assert (al.phase, al.state, al.inactivation) == ("start", "active", "enabled")
    assert (al.priority, al.kind) == ("PH", "SP")
    assert al.time == datetime(2026, 3, 1, 7, 59, 55, tzinfo=UTC)


def test_pcd04_event_in_obx3_and_numeric_only_codes() -> None:
    rep = decode(
        R40_HEAD + "OBX|1|ST|196674^MDC_EVT_LO_VAL_LT_LIM^MDC|1.1.0.1.1|SPO2 LOW|||L~SP|||R\r"
        "OBX|2|ST|68481^MDC_ATTR_EVENT_PHASE^MDC|1.1.0.1.3|continue||||||R\r"
        "OBX|3|CWE|196616^MDC_EVT_ALARM^MDC|1.2.0.1.1|199832|||PM|||R\r"
        "OBX|4|ST|68484^MDC_ATTR_ALARM_PRIORITY^MDC|1.2.0.1.6|ph||||||R\r"
        "OBX|5|CWE|196616^MDC_EVT_ALARM^MDC|1.3.0.1.1|^MDC_EVT_ECG_V_FIB^MDC||||||R\r"
        "OBX|6|ST|68481^MDC_ATTR_EVENT_PHASE^MDC|1.3.0.1.3|END||||||R"
    )
    low, vt, vf = rep.alarms
    assert (low.name, low.text, low.rhythm, low.kind, low.phase) == (
        "MDC_EVT_LO_VAL_LT_LIM",
        "SPO2 LOW",
        None,
        "SP",
        "continue",
    )
    assert (vt.code, vt.rhythm, vt.priority) == (199832, "VT", "PH")
    assert (vf.name, vf.rhythm, vf.phase) == ("MDC_EVT_ECG_V_FIB", "VF", "end")


def test_rhythm_table() -> None:
    assert mdc.rhythm_of(None, "MDC_EVT_ECG_V_TACHY") == "VT"
    assert mdc.rhythm_of(None, "MDC_EVT_ECG_V_FIB_TACHY") == "VF"
    assert mdc.rhythm_of(3 * 65536 + 3076, "") == "asystole"
    assert mdc.rhythm_of(None, "MDC_EVT_LEAD_OFF") is None
    assert {r.rhythm for r in mdc.RHYTHMS} >= mdc.LETHAL_RHYTHMS


def test_mdc_numbers_follow_partition_rule() -> None:
    assert mdc.mdc_number(mdc.PARTITION_DIM, 0x0220) == 262688  # MDC_DIM_PERCENT
    assert mdc.mdc_number(mdc.PARTITION_DIM, 0x0F40) == 266048  # MDC_DIM_CM_H2O
    assert mdc.mdc_number(mdc.PARTITION_SCADA, 0x4A11) == 150033
    for unit in mdc.UNITS:
        for number in (unit.number, unit.derived):
            if number is not None:
                assert number // 65536 == mdc.PARTITION_DIM, unit
    for number in mdc.PARAMETER_BY_NUMBER:
        assert number // 65536 == mdc.PARTITION_SCADA


# -- writing ------------------------------------------------------------------------------
def test_build_r01_layout() -> None:
    out = build_oru_r01(
        {"MDC_PULS_OXIM_SAT_O2": 98, "MDC_PRESS_AWAY_END_EXP_POS": 12.0},
        now=T,
        control_id="MSG1",
        location="ICU^^3",
        sending_facility="WARD",
        device_eui64="0123456789ABCDEF",
    )
    lines = out.decode().split("\r")
    assert lines[0] == (
        "MSH|^~\\&|CENTRAL|WARD|IAEWATCH|IAEWATCH|20260301080000+0000||ORU^R01^ORU_R01|MSG1|P|2.6"
        "|||AL|NE||UNICODE UTF-8|||PCD_DEC_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO"
    )
    assert lines[2] == "PV1||I|ICU^^3"
    assert lines[3] == ("OBR|1|MSG1|MSG1|182777000^monitoring of patient^SCT|||20260301080000+0000")
    eui = "0123456789ABCDEF^^0123456789ABCDEF^EUI-64"
    assert lines[1] == "PID|||||^^^^^^U"  # PID-5 is required: an unknown name says U
    assert lines[4] == (
        f"OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X|||||||{eui}"
    )
    assert lines[5] == f"OBX|2||69642^MDC_DEV_ANALY_SAT_O2_VMD^MDC|1.1.0.0|||||||X|||||||{eui}"
    assert lines[6] == (
        "OBX|3|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|98"
        f"|262688^MDC_DIM_PERCENT^MDC^%^%^UCUM|||||R|||20260301080000+0000||||{eui}"
    )
    # PEEP has no number two sources agree on: it is left out, never sent without one.
    assert len(lines) == 8
    assert lines[-1] == ""


def test_every_written_row_has_its_numeric_code_and_unit_code() -> None:
    out = build_oru_r01(
        {code: p.low + 1 for code, p in PARAMETERS.items()},
        now=T,
        control_id="M",
        location="B",
        device_eui64="0123456789ABCDEF",
    ).decode()
    rows = [r.split("|") for r in out.split("\r") if r.startswith("OBX")]
    sent = {r[3].split("^")[1] for r in rows if r[2] == "NM"}
    assert sent == {name for _, name in mdc.WRITTEN_NUMBERS.values()}
    for r in rows:
        assert r[3].split("^")[0].isdigit(), r  # OBX-3 numeric code on every row
        assert r[18].endswith("^EUI-64"), r  # OBX-18 equipment on every row
        if r[2] == "NM":
            assert r[6].split("^")[0].isdigit(), r  # OBX-6 unit code
    for number in mdc.DERIVED_PARAMETER_NUMBERS:
        assert f"|{number}^" not in out
    for unit in mdc.UNITS:
        if unit.derived is not None:
            assert f"{unit.derived}^" not in out


def test_r40_built_and_read_back() -> None:
    for rhythm in ("VT", "VF", "asystole"):
        rep = decode_report(
            parse_message(
                build_oru_r40(rhythm=rhythm, phase="start", now=T, control_id="A1", location="L")
            )
        )
        assert rep.header.trigger == "R40"
        (al,) = rep.alarms
        assert (al.rhythm, al.phase, al.state, al.priority, al.kind) == (
            rhythm,
            "start",
            "active",
            "PH",
            "SP",
        )
    with pytest.raises(ValueError):
        build_oru_r40(rhythm="VT", phase="begin", now=T, control_id="A", location="L")


def test_corrupt_is_answered_as_malformed() -> None:
    good = build_oru_r01({"MDC_PULS_OXIM_SAT_O2": 95}, now=T, control_id="C1", location="L")
    bad = corrupt(good)
    assert len(bad) < len(good)
    with pytest.raises(DecodeError):
        parse_message(bad)
    assert parse_message(bad.split(b"\r")[0]).control_id == "C1"


codes = st.sampled_from(sorted(PARAMETERS))
values = st.dictionaries(
    codes, st.integers(min_value=0, max_value=300).map(lambda v: v / 4), min_size=1, max_size=8
)
# PV1-3 is written as given (components joined by ^), so no other delimiter may appear.
locations = st.text(
    alphabet=st.characters(codec="ascii", min_codepoint=32, exclude_characters="|~\\&"),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(values, locations, st.lists(st.integers(min_value=0, max_value=4000), max_size=6))
def test_round_trip_build_frame_split_decode(
    vals: dict[str, float], location: str, cuts: list[int]
) -> None:
    t = T + timedelta(seconds=len(cuts))
    msgs = [
        build_oru_r01(vals, now=t, control_id=f"M{i}", location=location, patient=Patient(id="P^1"))
        for i in range(2)
    ]
    stream = b"".join(frame(m) for m in msgs)
    points = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
    dec = MllpDecoder()
    payloads: list[bytes] = []
    for a, b in itertools.pairwise(points):
        dec.feed(stream[a:b])
        payloads.extend(dec.frames_available())
    assert len(payloads) == 2
    for i, payload in enumerate(payloads):
        rep = decode_report(parse_message(payload))
        assert rep.header.control_id == f"M{i}"
        assert rep.patient_id == "P^1"
        assert rep.location == location.rstrip("^")
        got = sorted((m.code, m.value) for m in rep.metrics)
        sent = sorted((mdc.PARAMETER_BY_NUMBER[mdc.WRITTEN_NUMBERS[c][0]], v)
                      for c, v in vals.items() if c in mdc.WRITTEN_NUMBERS)  # fmt: skip
        assert got == sent
        assert all(m.time == t for m in rep.metrics)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_garbled_messages_raise_only_decode_error(noise: bytes) -> None:
    good = build_oru_r01(
        {"MDC_PULS_OXIM_SAT_O2": 95, "MDC_ECG_HEART_RATE": 80},
        now=T,
        control_id="G",
        location="L",
    )
    cut = len(noise) % len(good)
    for payload in (noise, good[:cut] + noise, good[:cut] + noise + good[cut:]):
        with contextlib.suppress(DecodeError):
            decode_report(parse_message(payload))


def test_times_keep_their_offset() -> None:
    rep = decode(HEAD.replace("+0000", "-0300") + "OBX|1|NM|150456|1|98|%|||||R")
    assert rep.metrics[0].time == datetime(2026, 3, 1, 8, 0, tzinfo=timezone(timedelta(hours=-3)))
