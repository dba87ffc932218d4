"""A small HL7 v2 message parser and writer, sans-IO.

Layout (HL7 v2 chapter 2): segments separated by CR; each segment is a three-character id
followed by fields separated by the field separator (MSH-1, normally `|`). MSH-2 holds the
other encoding characters in the order component `^`, repetition `~`, escape `\\`,
subcomponent `&` (and in v2.7+ optionally truncation `#`). Fields split into repetitions,
repetitions into components, components into subcomponents. Escape sequences `\\F\\ \\S\\ \\T\\
\\R\\ \\E\\` stand for the delimiters themselves, `\\Xhh..\\` for bytes; formatting escapes
(`\\.br\\`, `\\H\\`, ...) are kept as written.

Numbering follows the standard: `segment.field(n)` is SEG-n, so for MSH `field(1)` is the
field separator and `field(2)` the encoding characters.

Tolerance: LF or CR LF between segments are read as CR; empty lines are skipped. A payload
that does not start with an MSH segment, has invalid encoding characters or a malformed
segment id raises `DecodeError`.

python-hl7 (`hl7` on PyPI) was considered. It is not used: it has no type information, reports
malformed input with assertions and IndexErrors rather than one exception type, and we need
only the small, well-defined part written here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from core.errors import DecodeError

SEGMENT_SEPARATOR = "\r"  # HL7 v2 chapter 2: segments end with CR
DEFAULT_ENCODING_CHARACTERS = "^~\\&"  # HL7 v2 chapter 2: recommended MSH-2

_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}\Z")
_DTM = re.compile(r"(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,4}))?([+-]\d{4})?\Z")


@dataclass(frozen=True, slots=True)
class Encoding:
    """The delimiters of one message (MSH-1 and MSH-2)."""

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"

    def __post_init__(self) -> None:
        chars = [self.field, self.component, self.repetition, self.escape, self.subcomponent]
        if any(len(c) != 1 for c in chars):
            raise DecodeError("encoding characters must be single characters")
        if len(set(chars)) != len(chars):
            raise DecodeError(f"encoding characters repeat: {''.join(chars)!r}")
        if any(c.isalnum() or c in "\r\n " for c in chars):
            raise DecodeError(f"invalid encoding characters: {''.join(chars)!r}")

    @property
    def msh2(self) -> str:
        return self.component + self.repetition + self.escape + self.subcomponent

    def escape_text(self, text: str) -> str:
        """`text` with delimiters written as escape sequences (for building messages)."""
        e = self.escape
        table = {
            e: f"{e}E{e}",
            self.field: f"{e}F{e}",
            self.component: f"{e}S{e}",
            self.subcomponent: f"{e}T{e}",
            self.repetition: f"{e}R{e}",
            "\r": f"{e}X0D{e}",
            "\n": f"{e}X0A{e}",
        }
        return "".join(table.get(ch, ch) for ch in text)

    def unescape(self, text: str) -> str:
        """`text` with escape sequences replaced by what they stand for."""
        e = self.escape
        if e not in text:
            return text
        out: list[str] = []
        i = 0
        n = len(text)
        while i < n:
            ch = text[i]
            if ch != e:
                out.append(ch)
                i += 1
                continue
            end = text.find(e, i + 1)
            if end < 0:  # a lone escape character: keep it as written
                out.append(text[i:])
                break
            seq = text[i + 1 : end]
            out.append(self._expand(seq, text[i : end + 1]))
            i = end + 1
        return "".join(out)

    def _expand(self, seq: str, written: str) -> str:
        simple = {
            "F": self.field,
            "S": self.component,
            "T": self.subcomponent,
            "R": self.repetition,
            "E": self.escape,
        }
        if seq in simple:
            return simple[seq]
        if seq.startswith("X") and len(seq) > 1 and len(seq) % 2 == 1:
            try:
                return bytes.fromhex(seq[1:]).decode("latin-1")
            except ValueError:
                return written
        return written


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment: its id and its raw (still escaped) fields."""

    name: str
    fields: tuple[str, ...]  # fields[0] is the id; for MSH fields[1] is MSH-2
    encoding: Encoding

    def _index(self, n: int) -> int | None:
        if n < 1:
            raise IndexError(f"HL7 field numbers start at 1, got {n}")
        if self.name == "MSH":
            return None if n == 1 else n - 1
        return n

    def field(self, n: int) -> str:
        """SEG-n as written (escaped, all repetitions); '' when absent."""
        i = self._index(n)
        if i is None:
            return self.encoding.field
        return self.fields[i] if i < len(self.fields) else ""

    def repetitions(self, n: int) -> list[str]:
        raw = self.field(n)
        if self.name == "MSH" and n <= 2:
            return [raw]
        return raw.split(self.encoding.repetition) if raw else []

    def components(self, n: int, rep: int = 0) -> list[str]:
        """The unescaped components of repetition `rep` of SEG-n ([] when absent)."""
        reps = self.repetitions(n)
        if rep >= len(reps):
            return []
        if self.name == "MSH" and n <= 2:
            return [reps[rep]]
        enc = self.encoding
        return [enc.unescape(c) for c in reps[rep].split(enc.component)]

    def component(self, n: int, c: int = 1, rep: int = 0) -> str:
        """SEG-n.c (1-based component) of repetition `rep`, unescaped; '' when absent."""
        comps = self.components(n, rep)
        return comps[c - 1] if 0 < c <= len(comps) else ""

    def text(self, n: int) -> str:
        """SEG-n's first repetition as text (components rejoined, escapes resolved)."""
        return self.encoding.component.join(self.components(n))


@dataclass(frozen=True, slots=True)
class Message:
    """A parsed HL7 v2 message."""

    segments: tuple[Segment, ...]
    encoding: Encoding

    @property
    def msh(self) -> Segment:
        return self.segments[0]

    def all(self, name: str) -> Iterator[Segment]:
        return (s for s in self.segments if s.name == name)

    def first(self, name: str) -> Segment | None:
        return next(self.all(name), None)

    @property
    def control_id(self) -> str:
        return self.msh.text(10)

    @property
    def message_type(self) -> tuple[str, str, str]:
        """MSH-9 as (code, trigger event, structure), e.g. ("ORU", "R01", "ORU_R01")."""
        m = self.msh
        return (m.component(9, 1), m.component(9, 2), m.component(9, 3))


def parse_message(payload: bytes | str) -> Message:
    """Parse one HL7 v2 message; DecodeError when it is not one."""
    if isinstance(payload, bytes):
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            text = payload.decode("latin-1")  # older senders (MSH-18 8859/1)
    else:
        text = payload
    text = text.replace("\r\n", "\r").replace("\n", "\r").strip("\r \t\x00")
    if not text.startswith("MSH") or len(text) < 8:
        raise DecodeError("not an HL7 message: it does not start with an MSH segment")
    field_sep = text[3]
    msh2_end = text.find(field_sep, 4)
    msh2 = text[4:msh2_end] if msh2_end > 0 else text[4:].split("\r", 1)[0]
    if not 4 <= len(msh2) <= 5:
        raise DecodeError(f"MSH-2 must hold 4 or 5 encoding characters, got {msh2!r}")
    encoding = Encoding(field_sep, msh2[0], msh2[1], msh2[2], msh2[3])
    if len(msh2) == 5 and msh2[4] in (field_sep, *msh2[:4]):  # v2.7 truncation character
        raise DecodeError(f"invalid encoding characters: {msh2!r}")
    segments: list[Segment] = []
    for line in text.split(SEGMENT_SEPARATOR):
        line = line.strip("\x00")
        if not line.strip():
            continue
        parts = tuple(line.split(field_sep))
        name = parts[0]
        if not _SEGMENT_ID.match(name):
            raise DecodeError(f"malformed segment id {name[:10]!r}")
        if name == "MSH" and segments:
            raise DecodeError("a second MSH segment inside one message")
        segments.append(Segment(name, parts, encoding))
    msh = segments[0]
    if msh.field(2) != msh2:
        raise DecodeError("MSH is malformed")
    return Message(tuple(segments), encoding)


def compose(segments: Sequence[Sequence[str]], encoding: Encoding | None = None) -> bytes:
    """Build message bytes from segments given as [id, field1, field2, ...] of raw fields.

    Field values are written as given: escape text with `Encoding.escape_text` first. For MSH
    give [\"MSH\", MSH-3, MSH-4, ...]; MSH-1 and MSH-2 are written from `encoding`.
    """
    enc = encoding or Encoding()
    lines: list[str] = []
    for seg in segments:
        name, *fields = seg
        if not _SEGMENT_ID.match(name):
            raise ValueError(f"bad segment id {name!r}")
        while fields and fields[-1] == "":
            fields.pop()
        if name == "MSH":
            lines.append(name + enc.field + enc.msh2 + enc.field + enc.field.join(fields))
        else:
            lines.append(enc.field.join([name, *fields]))
    return (SEGMENT_SEPARATOR.join(lines) + SEGMENT_SEPARATOR).encode("utf-8")


def parse_dtm(text: str, assume_tz: tzinfo = UTC) -> datetime | None:
    """An HL7 DTM/TS (`YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]`) as an aware datetime.

    None when empty or invalid; a time without an offset is read in `assume_tz`.
    """
    m = _DTM.match(text.strip())
    if not m:
        return None
    year, month, day, hour, minute, second, frac, offset = m.groups()
    try:
        tz: tzinfo = assume_tz
        if offset:
            sign = -1 if offset[0] == "-" else 1
            hours, minutes = int(offset[1:3]), int(offset[3:5])
            if hours > 23 or minutes > 59:
                return None
            tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
        micro = int((frac or "0").ljust(6, "0")[:6])
        return datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            micro,
            tzinfo=tz,
        )
    except ValueError:
        return None


def format_dtm(t: datetime) -> str:
    """`t` as an HL7 DTM with seconds and its UTC offset, e.g. 20260301080000+0000."""
    if t.tzinfo is None:
        raise ValueError("format_dtm needs an aware datetime")
    return t.strftime("%Y%m%d%H%M%S%z")


ACK_CODES = frozenset({"AA", "AE", "AR", "CA", "CE", "CR"})
"""MSA-1 values (HL7 v2 chapter 2 table 0008): original mode and enhanced-mode application
acknowledgements AA / AE / AR (accept, error, reject); enhanced-mode accept acknowledgements
CA / CE / CR (commit accept, error, reject)."""

ACCEPT_CODES = {"AA": "CA", "AE": "CE", "AR": "CR"}
"""The enhanced-mode accept acknowledgement for each application outcome."""


def ack_wanted(condition: str, code: str) -> bool:
    """Whether an MSH-15 / MSH-16 condition (HL7 table 0155: AL always, NE never, ER error
    or reject only, SU successful completion only) asks for an acknowledgement `code`."""
    success = code in ("AA", "CA")
    return {"AL": True, "NE": False, "ER": not success, "SU": success}.get(condition, True)


def build_ack(
    incoming: Message | None,
    code: str,
    *,
    control_id: str,
    now: datetime,
    text: str = "",
    error_code: str = "",
    sending_application: str = "IAEWATCH",
    sending_facility: str = "IAEWATCH",
    message_type: str = "ACK",
    trigger: str | None = None,
    structure: str = "ACK",
) -> bytes:
    """An acknowledgement of `incoming`: MSH, MSA (MSA-2 = incoming MSH-10) and, for AE/AR,
    an ERR segment carrying `error_code` (HL7 table 0357) and `text`.

    `incoming` may be None when the message could not be parsed at all; MSA-2 is then empty.
    """
    if code not in ACK_CODES:
        raise ValueError(f"ACK code must be one of {sorted(ACK_CODES)}, got {code!r}")
    enc = incoming.encoding if incoming is not None else Encoding()
    receiving_app = incoming.msh.field(3) if incoming else ""
    receiving_fac = incoming.msh.field(4) if incoming else ""
    event = trigger if trigger is not None else (incoming.message_type[1] if incoming else "")
    processing = (incoming.msh.field(11) if incoming else "") or "P"
    version = (incoming.msh.field(12) if incoming else "") or "2.6"
    c = enc.component
    msh = [
        "MSH",
        enc.escape_text(sending_application),
        enc.escape_text(sending_facility),
        receiving_app,
        receiving_fac,
        format_dtm(now),
        "",
        c.join(p for p in (message_type, event, structure)),
        enc.escape_text(control_id),
        processing,
        version,
    ]
    incoming_id = incoming.msh.field(10) if incoming else ""
    msa = ["MSA", code, incoming_id]
    segments: list[list[str]] = [msh, msa]
    if code not in ("AA", "CA"):
        msa.append(enc.escape_text(text[:80]))
        err_code = error_code or "207"
        err_text = {
            "100": "Segment sequence error",
            "101": "Required field missing",
            "102": "Data type error",
            "200": "Unsupported message type",
            "201": "Unsupported event code",
            "203": "Unsupported version id",
            "204": "Unknown key identifier",
            "207": "Application internal error",
        }.get(err_code, "")
        segments.append(
            [
                "ERR",
                "",
                "",
                c.join((err_code, err_text, "HL70357")),
                "E",
                "",
                "",
                "",
                enc.escape_text(text),
            ]
        )
    return compose(segments, enc)
