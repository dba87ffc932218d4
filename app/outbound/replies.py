"""What an endpoint answered, sans-IO: an HL7 ACK or ORA^R41 (MLLP), or an HTTP status.

HL7 (v2 chapter 2, table 0008; IHE PCD ACM for ORA^R41): MSA-1 `AA`/`CA` accepted, `AE`/`CE`
error (try again later), `AR`/`CR` rejected (sending it again cannot help). MSA-2 must echo
our MSH-10; a reply to another message is an error. An ORA^R41 without MSA (some alarm
managers send only the delivery report) accepts the message it answers on that connection.
HTTP: 2xx accepted; 408, 429 and 5xx errors; any other status rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.errors import DecodeError
from drivers.hl7.message import parse_message


class Verdict(StrEnum):
    ACCEPTED = "accepted"  # remove from the outbox
    ERROR = "error"  # keep, retry with backoff
    REJECTED = "rejected"  # keep, stop the endpoint, raise a technical alert


@dataclass(frozen=True, slots=True)
class Reply:
    verdict: Verdict
    text: str


_MSA = {"AA": Verdict.ACCEPTED, "CA": Verdict.ACCEPTED, "AE": Verdict.ERROR,
        "CE": Verdict.ERROR, "AR": Verdict.REJECTED, "CR": Verdict.REJECTED}  # fmt: skip


def hl7_reply(payload: bytes, control_id: str) -> Reply:
    """The verdict of an HL7 reply to our message `control_id`."""
    try:
        msg = parse_message(payload)
    except DecodeError as exc:
        return Reply(Verdict.ERROR, f"unreadable reply: {exc}")
    code, trigger, _ = msg.message_type
    msa = msg.first("MSA")
    if msa is None:
        if (code, trigger) == ("ORA", "R41"):
            return Reply(Verdict.ACCEPTED, "ORA^R41")
        return Reply(Verdict.ERROR, f"reply {code}^{trigger} has no MSA segment")
    ack = msa.component(1, 1).upper()
    echoed = msa.text(2)
    if echoed != control_id:
        return Reply(Verdict.ERROR, f"reply acknowledges {echoed!r}, not {control_id!r}")
    verdict = _MSA.get(ack)
    if verdict is None:
        return Reply(Verdict.ERROR, f"unknown acknowledgement code {ack!r}")
    err = msg.first("ERR")
    detail = msa.text(3) or (err.text(8) if err else "")
    return Reply(verdict, f"{ack} {detail}".strip())


def http_reply(status: int, text: str = "") -> Reply:
    """The verdict of an HTTP status."""
    if 200 <= status < 300:
        verdict = Verdict.ACCEPTED
    elif status in (408, 429) or status >= 500:
        verdict = Verdict.ERROR
    else:
        verdict = Verdict.REJECTED
    return Reply(verdict, f"HTTP {status} {text[:200]}".strip())
