"""Bus messages as MQTT payloads, and the topics they travel on.

Topics under `<prefix>/<bed>/`:

| topic                         | retained | payload                                            |
|-------------------------------|----------|----------------------------------------------------|
| `obs`                         | no       | an observation, or an array of a bed's, in order   |
| `event`                       | no       | an event                                           |
| `state/<device>`              | yes      | the device's last connected/disconnected/stale event |
| `alarm/<device>/<alarm>`      | yes      | the onset event of an open alarm; empty once ended |
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from core.bus import WireBatch
from core.errors import RecordError
from core.model import Message, Observation
from core.records import parse_time, record_from_dict, to_record

KINDS = frozenset({"obs", "event", "state", "alarm"})
RETAINED_KINDS = frozenset({"state", "alarm"})
_UNSAFE = re.compile(r"[/+#\s]")


def kind_of(msg: Message) -> str:
    return "obs" if isinstance(msg, Observation) else "event"


def encode(msg: Message) -> tuple[str, bytes]:
    """(kind, JSON payload) of a bus message."""
    return kind_of(msg), json.dumps(to_record(msg), default=str).encode()


def encode_observations(batch: list[Observation]) -> bytes:
    """One `obs` payload for several observations (a JSON array, in their order)."""
    return json.dumps([to_record(o) for o in batch], default=str).encode()


def decode(kind: str, payload: bytes) -> Message:
    """The bus message of a payload on a `kind` topic; RecordError when it is not one.
    Retained `state` and `alarm` topics carry events."""
    (msg,) = _decode(kind, payload, batch=False)
    return msg


def decode_all(kind: str, payload: bytes) -> list[Message]:
    """The bus messages of a payload: one, or an `obs` array of several."""
    return _decode(kind, payload, batch=kind == "obs")


def _decode(kind: str, payload: bytes, *, batch: bool) -> list[Message]:
    try:
        body = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RecordError(f"not JSON: {exc}") from None
    items = body if batch and isinstance(body, list) else [body]
    out: list[Message] = []
    expected = "event" if kind in RETAINED_KINDS else kind
    for item in items:
        if not isinstance(item, dict):
            raise RecordError("a message must be a JSON object")
        msg = record_from_dict(item)
        if expected != kind_of(msg):
            raise RecordError(f"a {kind!r} message that is not one")
        out.append(msg)
    return out


_HEAD = re.compile(
    rb'[ \t\r\n]*\[?[ \t\r\n]*\{"t": "([^"\\]{1,64})", "bed": ("(?:[^"\\]|\\.){1,256}")'
)
"""The start of an `obs` payload as `encode_observations` writes it: the first record's time
and bed (a JSON string: a bed name may be escaped)."""


def wire_batch(payload: bytes, decode: Callable[[bytes], list[Message]]) -> WireBatch | None:
    """An `obs` payload as a batch decoded when taken: its bed and first time read from its
    head, without decoding the rest (a gateway's batch is one bed's, in time order). None
    when the head is not as `encode_observations` writes it: then decode it at once."""
    m = _HEAD.match(payload)
    if m is None:
        return None
    try:
        t = parse_time(m.group(1).decode())
        bed = json.loads(m.group(2))
    except (RecordError, ValueError):
        return None
    if not isinstance(bed, str) or not bed:
        return None
    return WireBatch(bed, t, payload.count(b'{"t": ') or 1, payload, decode)


def segment(text: str) -> str:
    """`text` made safe as one topic level (no '/', '+', '#' or spaces)."""
    return _UNSAFE.sub("_", text) or "_"


def topic(prefix: str, bed: str, kind: str, *rest: str) -> str:
    return "/".join([prefix, segment(bed), kind, *(segment(r) for r in rest)])


def kind_of_topic(prefix: str, name: str) -> str | None:
    """The kind level of a topic under `prefix` (None when it is not one of ours)."""
    parts = name[len(prefix) + 1 :].split("/") if name.startswith(prefix + "/") else []
    return parts[1] if len(parts) >= 2 and parts[1] in KINDS else None
