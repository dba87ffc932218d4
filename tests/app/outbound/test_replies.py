"""Reading an endpoint's reply: ACK / ORA^R41 codes, mismatched ids, malformed bytes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.outbound.replies import Verdict, hl7_reply, http_reply

ACK = "MSH|^~\\&|AM||IAEWATCH||20260301080001||ACK^R40^ACK|9|P|2.6\rMSA|{code}|{id}|{text}\r"
ORA = "MSH|^~\\&|AM||IAEWATCH||20260301080001||ORA^R41^ORA_R41|9|P|2.6\r"


def test_acknowledgement_codes() -> None:
    for code, verdict in [
        ("AA", Verdict.ACCEPTED),
        ("CA", Verdict.ACCEPTED),
        ("AE", Verdict.ERROR),
        ("CE", Verdict.ERROR),
        ("AR", Verdict.REJECTED),
        ("CR", Verdict.REJECTED),
    ]:
        reply = hl7_reply(ACK.format(code=code, id="A7", text="why").encode(), "A7")
        assert reply.verdict is verdict, code
    assert hl7_reply(ACK.format(code="AE", id="A7", text="busy").encode(), "A7").text == "AE busy"


def test_a_reply_to_another_message_or_an_unknown_code_is_an_error() -> None:
    other = hl7_reply(ACK.format(code="AA", id="A6", text="").encode(), "A7")
    assert other.verdict is Verdict.ERROR and "A6" in other.text
    odd = hl7_reply(ACK.format(code="ZZ", id="A7", text="").encode(), "A7")
    assert odd.verdict is Verdict.ERROR


def test_ora_r41_with_or_without_msa() -> None:
    assert hl7_reply(ORA.encode(), "A7").verdict is Verdict.ACCEPTED
    with_msa = ORA + "MSA|AR|A7\r"
    assert hl7_reply(with_msa.encode(), "A7").verdict is Verdict.REJECTED
    no_msa_ack = "MSH|^~\\&|AM||||20260301||ACK^R40^ACK|9|P|2.6\r"
    assert hl7_reply(no_msa_ack.encode(), "A7").verdict is Verdict.ERROR


def test_http_statuses() -> None:
    assert http_reply(204).verdict is Verdict.ACCEPTED
    assert http_reply(503).verdict is http_reply(429).verdict is Verdict.ERROR
    assert http_reply(401, "bad signature").verdict is Verdict.REJECTED


@given(st.binary(max_size=300))
def test_any_bytes_give_a_verdict_never_an_exception(data: bytes) -> None:
    assert hl7_reply(data, "A7").verdict in Verdict


@given(st.text(max_size=80))
def test_any_msa_text_is_read(text: str) -> None:
    raw = ACK.format(code="AA", id="A7", text=text.replace("\r", " ").replace("|", " "))
    assert hl7_reply(raw.encode(), "A7").verdict in Verdict
