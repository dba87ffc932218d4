"""Exact bytes, both ways, against messages published in VSCaptureMP (DataConstants)."""

from __future__ import annotations

import pytest

from drivers.intellivue.association import (
    Abort,
    AssociationRequest,
    ReleaseRequest,
    ReleaseResponse,
    UserInfo,
    build_abort,
    build_association_request,
    build_release_request,
    build_release_response,
)
from drivers.intellivue.messages import (
    ManagedObject,
    MdsCreateResult,
    PollRequest,
    build_mds_create_result,
    build_poll_request,
    decode_message,
)

# VSC aarq_msg: association request, min poll 0x09C4, MTU rx 0x09C4, tx 0x03E8, ext 0x8C000000
AARQ_MSG = bytes.fromhex(
    "0dec0508130100160102800014020002c1dc3180a0808001010000a280a00300"
    "0001a4803080020101060452010001308006025101000000003080020102060c"
    "2a8648ce14020100000001013080060c2a8648ce140201000000020100000000"
    "000061803080020101a0806080a180060c2a8648ce14020100000003010000be"
    "802880060c2a8648ce1402010000000101020102814880000000400000000000"
    "00008000000020000000000000000001002c0001002880000000000009c40000"
    "09c4000003e8ffffffff600000000001000cf00100088c000000000000000000"
    "0000000000000000000000000000"
)
# VSC aarq_msg_ext_poll2: the same with min poll period 0x03E8
AARQ_MSG_EXT_POLL2 = AARQ_MSG[:186] + bytes.fromhex("000003e8") + AARQ_MSG[190:]
# VSC rlrq_msg (release request) and assoc_abort_resp_msg (abort)
RLRQ_MSG = bytes.fromhex("0918c11661803080020101a08062808001000000000000000000")
RLRQ_RESP_MSG = bytes.fromhex("0a18c11661803080020101a08063808001000000000000000000")
ABORT_MSG = bytes.fromhex(
    "192e110103c129a080a0803080020101060251010000000061803080020101a080648080010100000000000000000000"
)
# VSC ext_poll_request_msg: extended poll, invoke 1, poll 1, numerics, all groups
EXT_POLL_NUMERICS = bytes.fromhex(
    "e10000020001002000010007001a00210000000000000000f13b000c000100010006000000000000"
)
# VSC ext_poll_request_alert_msg: invoke 5, poll 4, alert monitor, group 0x0801, period 600 s
EXT_POLL_ALERTS = bytes.fromhex(
    "e10000020001002800050007002200210000000000000000f13b001400040001"
    "0036080100010008f13e000400493e00"
)
# VSC mds_create_resp_msg: MDS Create event result, invoke 1, event time 0x000ABD00
MDS_CREATE_RESULT = bytes.fromhex("e10000020002001400010001000e002100000000000abd000d060000")


VSC_INFO = UserInfo(
    min_poll_period=0x09C4, max_mtu_rx=0x09C4, max_mtu_tx=0x03E8, ext_options=0x8C000000
)


def test_association_request_matches_vsc() -> None:
    assert build_association_request(VSC_INFO) == AARQ_MSG
    info = UserInfo(
        min_poll_period=0x03E8, max_mtu_rx=0x09C4, max_mtu_tx=0x03E8, ext_options=0x8C000000
    )
    assert build_association_request(info) == AARQ_MSG_EXT_POLL2
    assert decode_message(AARQ_MSG) == AssociationRequest(VSC_INFO)


@pytest.mark.parametrize(
    ("built", "vector", "decoded"),
    [
        (build_release_request(), RLRQ_MSG, ReleaseRequest()),
        (build_release_response(), RLRQ_RESP_MSG, ReleaseResponse()),
        (build_abort(), ABORT_MSG, Abort()),
    ],
)
def test_release_and_abort_match_vsc(built: bytes, vector: bytes, decoded: object) -> None:
    assert built == vector
    assert decode_message(vector) == decoded


def test_extended_polls_match_vsc() -> None:
    numerics = PollRequest(invoke_id=1, poll_number=1, obj_code=6, attr_group=0)
    assert build_poll_request(numerics) == EXT_POLL_NUMERICS
    assert decode_message(EXT_POLL_NUMERICS) == numerics
    period = ((0xF13E, bytes.fromhex("00493e00")),)  # 600 s in 1/8 ms ticks
    alerts = PollRequest(5, 4, 0x36, 0x0801, ext_attributes=period)
    assert build_poll_request(alerts) == EXT_POLL_ALERTS
    assert decode_message(EXT_POLL_ALERTS) == alerts


def test_mds_create_result_matches_vsc() -> None:
    result = MdsCreateResult(1, ManagedObject(0x21, 0, 0), 0x000ABD00)
    assert build_mds_create_result(result) == MDS_CREATE_RESULT
    assert decode_message(MDS_CREATE_RESULT) == result
