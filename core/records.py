"""The record formats of DESIGN.md, both ways: the recorded-stream line (JSON Lines) of an
observation or event, and the alert record that the API, the station websocket, the MQTT bus
and `iaewatch replay` all carry. Times are written by `format_time` alone.

    {"t": "2026-03-01T08:00:00Z", "bed": "ICU-3", "code": "MDC_PULS_OXIM_SAT_O2",
     "value": 94, "unit": "%"}
    {"t": "2026-03-01T08:00:00Z", "bed": "ICU-3", "event": "infusion_start", "weight_kg": 70}

A line with `code` is an observation, a line with `event` an event; the rest of an event
line's keys are its fields, and the fields the vocabulary declares must have their type and
range (`core.vocabulary.EventField.problem`). NaN and Infinity are not JSON and are refused,
as are times outside `EARLIEST`-`LATEST`, nesting deeper than `MAX_DEPTH` and numbers too
long to be measurements, each as a `RecordError` naming the line. Values keep the unit they
were written in: conversion to the canonical unit needs per-patient context (weight) and is
done by the consumer.
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from core.errors import RecordError
from core.model import (
    Alert,
    AlertState,
    Category,
    DeviceEvent,
    EventSource,
    Observation,
    Phase,
    Priority,
    ValueStatus,
)
from core.vocabulary import event_fields_problem

_OBS_KEYS = {"t", "bed", "code", "value", "unit", "device", "status"}
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
"""Record times outside [EARLIEST, LATEST) are refused (a year-9999 line is a typo)."""
MAX_DEPTH = 32
_MAX_INT_DIGITS = 18  # longer integers are read as floats (then judged as numbers)
_MAX_INT = 10**_MAX_INT_DIGITS
_STATUSES = {s.value: s for s in ValueStatus}
_EVENT_RESERVED = {"t", "bed", "event", "device", "source"}


def parse_time(text: Any, *, line: int | None = None) -> datetime:
    """An ISO 8601 time that carries a zone."""
    if not isinstance(text, str):
        raise RecordError("'t' must be an ISO 8601 string", line=line)
    try:
        return _time_of(text)
    except RecordError as exc:
        raise RecordError(exc.message, line=line) from None


@functools.lru_cache(maxsize=1024)
def _time_of(text: str) -> datetime:
    """`parse_time` of a string, remembered: a recording repeats each second's time for every
    value of that second (errors are not remembered)."""
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise RecordError(f"'t' is not an ISO 8601 time: {text!r}") from None
    if t.tzinfo is None:
        raise RecordError(f"'t' has no time zone: {text!r}")
    if not EARLIEST <= t < LATEST:
        raise RecordError(f"'t' {text!r} is outside {EARLIEST.year}-{LATEST.year - 1}")
    return t


def format_time(t: datetime) -> str:
    """ISO 8601 in UTC with a 'Z' (the one time formatter of every record we write).

    A naive time is refused rather than guessed: every time in iaewatch carries its zone."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"format_time needs a timezone-aware time, got {t!r}")
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def format_time_or_none(t: datetime | None) -> str | None:
    """`format_time`, with None kept as None (optional times in records)."""
    return None if t is None else format_time(t)


def parse_record(text: str, *, line: int | None = None) -> Observation | DeviceEvent:
    """One JSON Lines record → an Observation (unit as written) or a DeviceEvent."""
    m = _PLAIN_OBSERVATION.fullmatch(text)
    if m is not None:
        obs = _plain_observation(*m.groups())
        if obs is not None:
            return obs
    # counting brackets is C-fast; the exact (Python) scan only for a line that could nest deep
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(text) > MAX_DEPTH:
        raise RecordError(f"nested deeper than {MAX_DEPTH} levels", line=line)
    try:
        obj = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise RecordError(f"not JSON: {exc.msg} at column {exc.colno}", line=line) from None
    except ValueError as exc:
        raise RecordError(f"not JSON: {exc}", line=line) from None
    if not isinstance(obj, dict):
        raise RecordError("a record must be a JSON object", line=line)
    return record_from_dict(obj, line=line)


_STR = r'"([^"\\\x00-\x1f]*)"'  # a JSON string without escapes (its text is itself)
_NUM = r"(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)"  # a JSON number
_WS = "[ \t\n\r]*"
_PLAIN_OBSERVATION = re.compile(
    f'{_WS}{{"t": {_STR}, "bed": {_STR}, "code": {_STR}, "value": {_NUM}, "unit": {_STR}'
    f'(?:, "status": {_STR})?(?:, "device": {_STR})?}}{_WS}'
)
"""An observation line as `dump_record` writes it (keys in its order, no escapes, a number):
read without the JSON decoder. Any other line, or one this finds fault with, takes the
general path, which gives the same record or names the fault."""


def _plain_observation(
    t_text: str,
    bed: str,
    code: str,
    num: str,
    unit: str,
    status_text: str | None,
    device: str | None,
) -> Observation | None:
    """The observation of a `_PLAIN_OBSERVATION` match; None to let the general path judge it."""
    status = _STATUSES.get(status_text or "valid")
    if not bed or not code or status is None:
        return None
    try:
        t = _time_of(t_text)
    except RecordError:
        return None
    # as the decoder reads it: an integer is an int (so "-0" is 0.0), a long one a float
    value = float(num) if "." in num or "e" in num or "E" in num else float(_int(num))
    if not math.isfinite(value):
        return None
    return _valued(t, bed, code, value, unit, device, status)


def _valued(
    t: datetime,
    bed: str,
    code: str,
    value: float,
    unit: str,
    device: str | None,
    status: ValueStatus,
) -> Observation:
    """An observation with a value, whose fields its caller has checked as
    `Observation.__post_init__` checks them (an aware time, a non-empty bed and code, a finite
    float): built slot by slot through the slots' own setters, for the dataclass `__init__`
    costs as much as the rest of a line's parse."""
    obs = _new_observation()
    _set_t(obs, t)
    _set_bed(obs, bed)
    _set_code(obs, code)
    _set_value(obs, value)
    _set_unit(obs, unit)
    _set_device(obs, device)
    _set_status(obs, status)
    return obs


_new_observation = functools.partial(object.__new__, Observation)
_SLOTS = ("t", "bed", "code", "value", "unit", "device", "status")
if tuple(f.name for f in fields(Observation)) != _SLOTS:
    raise ImportError("core.records._valued must set every field of Observation")
_set_t, _set_bed, _set_code, _set_value, _set_unit, _set_device, _set_status = (
    Observation.__dict__[name].__set__ for name in _SLOTS
)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _int(digits: str) -> int | float:
    return int(digits) if len(digits.lstrip("-")) <= _MAX_INT_DIGITS else float(digits)


_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_int=_int)
"""One decoder for every record (`json.loads` with these hooks builds one per call)."""


def _depth(text: str) -> int:
    """How deeply the JSON text nests (brackets outside strings), without parsing it."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def record_from_dict(obj: dict[str, Any], *, line: int | None = None) -> Observation | DeviceEvent:
    if "t" not in obj:
        raise RecordError("missing 't'", line=line)
    t = parse_time(obj["t"], line=line)
    bed = obj.get("bed")
    if not isinstance(bed, str) or not bed:
        raise RecordError("'bed' must be a non-empty string", line=line)
    device = obj.get("device")
    if device is not None and not isinstance(device, str):
        raise RecordError("'device' must be a string", line=line)
    if "code" in obj and "event" in obj:
        raise RecordError("a record has either 'code' or 'event', not both", line=line)
    if "code" in obj:
        return _observation(obj, t, bed, device, line)
    if "event" in obj:
        event = obj["event"]
        if not isinstance(event, str) or not event:
            raise RecordError("'event' must be a non-empty string", line=line)
        try:
            source = EventSource(obj.get("source", "device"))
        except ValueError:
            raise RecordError(f"unknown 'source': {obj.get('source')!r}", line=line) from None
        fields = {k: v for k, v in obj.items() if k not in _EVENT_RESERVED}
        problem = event_fields_problem(event, fields)
        if problem is not None:
            raise RecordError(problem, line=line)
        return DeviceEvent(t=t, bed=bed, event=event, fields=fields, device=device, source=source)
    raise RecordError("a record needs 'code' (observation) or 'event'", line=line)


def _observation(
    obj: dict[str, Any],
    t: datetime,
    bed: str,
    device: str | None,
    line: int | None,
) -> Observation:
    code, unit, value = obj["code"], obj.get("unit"), obj.get("value")
    if not isinstance(code, str) or not code:
        raise RecordError("'code' must be a non-empty string", line=line)
    if not isinstance(unit, str):
        raise RecordError(f"'unit' must be a string for {code}", line=line)
    status_text = obj.get("status")
    if value is None:
        status = ValueStatus(status_text or "unavailable") if status_text != "valid" else None
        if status is None:
            raise RecordError("a 'valid' value cannot be null", line=line)
        return Observation(
            t=t, bed=bed, code=code, value=None, unit=unit, device=device, status=status
        )
    kind = type(value)
    if kind is not float and (kind is bool or not isinstance(value, int | float)):
        raise RecordError(f"'value' must be a number for {code}", line=line)
    if kind is int and abs(value) > _MAX_INT:
        raise RecordError(f"'value' is out of range for {code}", line=line)
    if not math.isfinite(value):
        raise RecordError(f"'value' is not finite for {code}", line=line)
    status = (
        _STATUSES.get(status_text or "valid") if type(status_text) in (str, type(None)) else None
    )
    if status is None:
        raise RecordError(f"unknown 'status': {status_text!r}", line=line)
    return _valued(t, bed, code, float(value), unit, device, status)


def to_record(msg: Observation | DeviceEvent) -> dict[str, Any]:
    """The JSON-ready record of an observation or event."""
    if isinstance(msg, Observation):
        rec: dict[str, Any] = {
            "t": format_time(msg.t),
            "bed": msg.bed,
            "code": msg.code,
            "value": msg.value,
            "unit": msg.unit,
        }
        if msg.status is not ValueStatus.VALID:
            rec["status"] = msg.status.value
    else:
        rec = {"t": format_time(msg.t), "bed": msg.bed, "event": msg.event, **msg.fields}
        if msg.source is not EventSource.DEVICE:
            rec["source"] = msg.source.value
    if msg.device:
        rec["device"] = msg.device
    return rec


def dump_record(msg: Observation | DeviceEvent) -> str:
    """One JSON line (no newline)."""
    return json.dumps(to_record(msg), separators=(", ", ": "), default=str)


def alert_record(a: Alert) -> dict[str, Any]:
    """The JSON-ready record of one alert transition: the one shape of an alert on every
    wire (REST, station websocket, MQTT, replay output)."""
    return {
        "id": a.id,
        "seq": a.seq,
        "bed": a.bed,
        "category": a.category.value,
        "iae": bool(a.iae),
        "rule": a.rule,
        "priority": a.priority.value,
        "phase": a.phase.value,
        "state": a.state.value,
        "onset": format_time(a.onset),
        "t": format_time(a.t),
        "message": a.message,
        "evidence": a.evidence,
        "acked_by": a.acked_by,
        "acked_at": format_time_or_none(a.acked_at),
        "ended_at": format_time_or_none(a.ended_at),
    }


def alert_from_record(obj: dict[str, Any]) -> Alert:
    """The alert of an `alert_record`; RecordError when it is not one."""
    try:
        return Alert(
            id=str(obj["id"]),
            bed=str(obj["bed"]),
            category=Category(obj["category"]),
            rule=str(obj["rule"]),
            priority=Priority(obj["priority"]),
            phase=Phase(obj["phase"]),
            state=AlertState(obj["state"]),
            onset=parse_time(obj["onset"]),
            t=parse_time(obj["t"]),
            message=str(obj.get("message") or ""),
            evidence=obj.get("evidence") or {},
            iae=obj.get("iae"),
            seq=obj.get("seq"),
            acked_by=obj.get("acked_by"),
            acked_at=_optional_time(obj.get("acked_at")),
            ended_at=_optional_time(obj.get("ended_at")),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise RecordError(f"not an alert: {exc}") from None


def _optional_time(v: Any) -> datetime | None:
    return parse_time(v) if v else None
