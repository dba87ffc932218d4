"""IntelliVue Data Export messages: the subset iaewatch needs (sans-IO).

Every message is one frame's user data. The first byte tells the kind (IVH): a session header
(association control, see `association`) or 0xE1, a data-export message::

    SPpdu      session_id u16 = 0xE100, p_context_id u16 (= 2)
    ROapdus    ro_type u16 (1 invoke, 2 result, 3 error, 5 linked result), length u16
    ROIVapdu   invoke_id u16, command_type u16, length u16             (ro_type 1)
    RORSapdu   invoke_id u16, command_type u16, length u16             (ro_type 2)
    ROLRSapdu  linked_id {state u8, count u8}, invoke_id, command_type, length (ro_type 5;
               state 1 first, 2 middle, 3 last — one RORSapdu follows the last)
    ROERapdu   invoke_id u16, error_value u16, length u16              (ro_type 3)

then, by command:
- confirmed event report invoke: EventReportArgument (managed_object 6 bytes, event_time u32,
  event_type u16, length u16); for MDS Create (0x0D06) an MdsCreateInfo (managed_object,
  AttributeList);
- its result: EventReportResult (managed_object, current_time u32, event_type, length 0);
- confirmed action invoke: ActionArgument (managed_object, scope u32 = 0, action_type u16,
  length u16) + PollMdibDataReq[Ext] (poll_number, polled_obj_type {partition, code},
  polled_attr_grp [, poll_ext_attr AttributeList]);
- action result: ActionResult (managed_object, action_type, length) + PollMdibDataReply[Ext]
  (poll_number [, sequence_no], rel_time_stamp u32, abs_time_stamp 8 BCD bytes,
  polled_obj_type, polled_attr_grp, PollInfoList: count, length, SingleContextPoll ×
  {context_id, count, length, ObservationPoll × {obj_handle, AttributeList}}).

Anything else decodes to `OtherMessage` (kept, ignored). Malformed bytes raise `DecodeError`.
Multi-part answers are put back together by `LinkedResults`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from core.errors import DecodeError
from drivers.intellivue import nomenclature as nom
from drivers.intellivue.association import AssociationMessage, decode_association
from drivers.intellivue.values import (
    AlarmEntry,
    NumericValue,
    read_alarm_list,
    read_nu_obs_compound,
    read_nu_obs_value,
)
from drivers.intellivue.wire import Reader, attribute_list, read_attribute_list, u16, u32

Attributes = tuple[tuple[int, bytes], ...]


@dataclass(frozen=True, slots=True)
class ManagedObject:
    """ManagedObjectId: object class and global handle (context id, handle) (IVH)."""

    obj_class: int = nom.NOM_MOC_VMS_MDS
    context: int = 0
    handle: int = 0

    def encode(self) -> bytes:
        return u16(self.obj_class) + u16(self.context) + u16(self.handle)

    @classmethod
    def read(cls, r: Reader) -> ManagedObject:
        return cls(r.u16("object class"), r.u16("context id"), r.u16("handle"))


MDS = ManagedObject()
"""The MDS object {NOM_MOC_VMS_MDS, 0, 0} that poll actions address (IVH, VSC)."""


@dataclass(frozen=True, slots=True)
class MdsCreateEvent:
    """The monitor's MDS Create event report; it must be answered with `MdsCreateResult`."""

    invoke_id: int
    managed_object: ManagedObject
    event_time: int
    mds_object: ManagedObject
    attributes: Attributes = ()

    def attribute(self, attr: int) -> bytes | None:
        return next((v for a, v in self.attributes if a == attr), None)

    @property
    def model(self) -> tuple[str, str] | None:
        """(manufacturer, model number) from NOM_ATTR_ID_MODEL, or None."""
        raw = self.attribute(nom.NOM_ATTR_ID_MODEL)
        if raw is None:
            return None
        try:
            r = Reader(raw)
            maker = r.take(r.u16("manufacturer length"), "manufacturer")
            model = r.take(r.u16("model length"), "model")
        except DecodeError:
            return None
        return _text(maker), _text(model)

    @property
    def system_id(self) -> str | None:
        """The system id (a MAC-like 6-byte label) as colon-separated hex, or None."""
        raw = self.attribute(nom.NOM_ATTR_SYS_ID)
        if raw is None or len(raw) < 2:
            return None
        label = raw[2 : 2 + int.from_bytes(raw[:2], "big")]
        return ":".join(f"{b:02x}" for b in label) or None


def _text(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("ascii", errors="replace").strip()


@dataclass(frozen=True, slots=True)
class MdsCreateResult:
    invoke_id: int
    managed_object: ManagedObject
    event_time: int


@dataclass(frozen=True, slots=True)
class PollRequest:
    """A single (0x0C16) or extended (0xF13B) poll action invoke."""

    invoke_id: int
    poll_number: int
    obj_code: int
    attr_group: int
    extended: bool = True
    partition: int = nom.NOM_PART_OBJ
    ext_attributes: Attributes = ()


@dataclass(frozen=True, slots=True)
class ObservationPoll:
    handle: int
    attributes: Attributes


@dataclass(frozen=True, slots=True)
class ContextPoll:
    context_id: int
    observations: tuple[ObservationPoll, ...]


@dataclass(frozen=True, slots=True)
class PollResult:
    """A poll action's (partial, if `linked` is set) result."""

    invoke_id: int
    poll_number: int
    obj_code: int
    attr_group: int
    contexts: tuple[ContextPoll, ...]
    extended: bool = True
    sequence_no: int = 0
    rel_time: int = 0
    abs_time: bytes = b"\xff" * 8
    partition: int = nom.NOM_PART_OBJ
    linked: tuple[int, int] | None = None  # (state, count) of a ROLRS part

    def numerics(self) -> list[NumericValue]:
        """Every NuObsValue in the result, single (0x0950) and compound (0x094B)."""
        out: list[NumericValue] = []
        for obs in self._observations():
            for attr, value in obs.attributes:
                if attr == nom.NOM_ATTR_NU_VAL_OBS:
                    out.append(read_nu_obs_value(Reader(value), obs.handle))
                elif attr == nom.NOM_ATTR_NU_CMPD_VAL_OBS:
                    out.extend(read_nu_obs_compound(Reader(value), obs.handle))
        return out

    def alarms(self) -> list[AlarmEntry]:
        """Patient (0x0902) and technical (0x0904) alarm entries in the result."""
        out: list[AlarmEntry] = []
        for obs in self._observations():
            for attr, value in obs.attributes:
                if attr == nom.NOM_ATTR_AL_MON_P_AL_LIST:
                    out.extend(read_alarm_list(Reader(value), patient=True))
                elif attr == nom.NOM_ATTR_AL_MON_T_AL_LIST:
                    out.extend(read_alarm_list(Reader(value), patient=False))
        return out

    def _observations(self) -> list[ObservationPoll]:
        return [obs for ctx in self.contexts for obs in ctx.observations]


@dataclass(frozen=True, slots=True)
class RemoteError:
    invoke_id: int
    error_value: int
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class OtherMessage:
    """A data-export message outside our subset (kept for logging, otherwise ignored)."""

    ro_type: int
    invoke_id: int
    command_type: int
    body: bytes = field(repr=False, default=b"")


@dataclass(frozen=True, slots=True)
class SetRequest:
    """A (confirmed) Set invoke, e.g. a client's Set Priority List (IVH): the attributes to
    replace on `managed_object`, as (modify operator, attribute id, value)."""

    invoke_id: int
    managed_object: ManagedObject
    modifications: tuple[tuple[int, int, bytes], ...]
    confirmed: bool = True


@dataclass(frozen=True, slots=True)
class SetResult:
    """The answer to a confirmed Set: the object's attributes as they now are."""

    invoke_id: int
    managed_object: ManagedObject
    attributes: Attributes = ()


DataExportMessage = (
    MdsCreateEvent
    | MdsCreateResult
    | PollRequest
    | PollResult
    | RemoteError
    | SetRequest
    | SetResult
)
Message = AssociationMessage | DataExportMessage | OtherMessage


# -- encoding --------------------------------------------------------------------------------
def _data_export(ro_type: int, apdu: bytes) -> bytes:
    return u16(nom.SESSION_ID) + u16(nom.P_CONTEXT_ID) + u16(ro_type) + u16(len(apdu)) + apdu


def _op(invoke_id: int, command: int, body: bytes) -> bytes:
    return u16(invoke_id) + u16(command) + u16(len(body)) + body


def build_mds_create_result(event: MdsCreateEvent | MdsCreateResult) -> bytes:
    """The client's answer to an MDS Create event (echoing its invoke id, object and time)."""
    body = (
        event.managed_object.encode() + u32(event.event_time) + u16(nom.NOM_NOTI_MDS_CREAT) + u16(0)
    )
    return _data_export(nom.RORS_APDU, _op(event.invoke_id, nom.CMD_CONFIRMED_EVENT_REPORT, body))


def build_mds_create_event(event: MdsCreateEvent) -> bytes:
    """A monitor's MDS Create event report (for the simulator)."""
    info = event.mds_object.encode() + attribute_list(list(event.attributes))
    body = (
        event.managed_object.encode()
        + u32(event.event_time)
        + u16(nom.NOM_NOTI_MDS_CREAT)
        + u16(len(info))
        + info
    )
    return _data_export(nom.ROIV_APDU, _op(event.invoke_id, nom.CMD_CONFIRMED_EVENT_REPORT, body))


def build_poll_request(req: PollRequest) -> bytes:
    """A poll action invoke addressed to the MDS (single or extended)."""
    data = u16(req.poll_number) + u16(req.partition) + u16(req.obj_code) + u16(req.attr_group)
    if req.extended:
        data += attribute_list(list(req.ext_attributes))
    action = nom.NOM_ACT_POLL_MDIB_DATA_EXT if req.extended else nom.NOM_ACT_POLL_MDIB_DATA
    body = MDS.encode() + u32(0) + u16(action) + u16(len(data)) + data
    return _data_export(nom.ROIV_APDU, _op(req.invoke_id, nom.CMD_CONFIRMED_ACTION, body))


def build_poll_result(res: PollResult) -> bytes:
    """A poll result (RORS, or ROLRS when `res.linked` is set), as a monitor sends it."""
    contexts = b""
    for ctx in res.contexts:
        obs = b"".join(u16(o.handle) + attribute_list(list(o.attributes)) for o in ctx.observations)
        contexts += u16(ctx.context_id) + u16(len(ctx.observations)) + u16(len(obs)) + obs
    reply = u16(res.poll_number)
    if res.extended:
        reply += u16(res.sequence_no)
    reply += u32(res.rel_time) + res.abs_time[:8].ljust(8, b"\xff")
    reply += u16(res.partition) + u16(res.obj_code) + u16(res.attr_group)
    reply += u16(len(res.contexts)) + u16(len(contexts)) + contexts
    action = nom.NOM_ACT_POLL_MDIB_DATA_EXT if res.extended else nom.NOM_ACT_POLL_MDIB_DATA
    body = MDS.encode() + u16(action) + u16(len(reply)) + reply
    op = _op(res.invoke_id, nom.CMD_CONFIRMED_ACTION, body)
    if res.linked is None:
        return _data_export(nom.RORS_APDU, op)
    state, count = res.linked
    return _data_export(nom.ROLRS_APDU, bytes((state & 0xFF, count & 0xFF)) + op)


def build_set_request(req: SetRequest) -> bytes:
    """A Set invoke: object, scope 0, ModificationList {operator, AVAType} (IVH)."""
    body = b"".join(u16(op) + u16(attr) + u16(len(v)) + v for op, attr, v in req.modifications)
    data = req.managed_object.encode() + u32(0) + u16(len(req.modifications)) + u16(len(body))
    command = nom.CMD_CONFIRMED_SET if req.confirmed else nom.CMD_SET
    return _data_export(nom.ROIV_APDU, _op(req.invoke_id, command, data + body))


def build_set_result(res: SetResult) -> bytes:
    """A confirmed Set's result: object and AttributeList (IVH)."""
    body = res.managed_object.encode() + attribute_list(list(res.attributes))
    return _data_export(nom.RORS_APDU, _op(res.invoke_id, nom.CMD_CONFIRMED_SET, body))


def text_id_list(ids: list[int]) -> bytes:
    """TextIdList: count, length, then u32 TextIds (a priority list's value, IVH)."""
    return u16(len(ids)) + u16(4 * len(ids)) + b"".join(u32(i) for i in ids)


def read_text_id_list(raw: bytes) -> list[int]:
    r = Reader(raw)
    count, body = r.u16("text id count"), r.sub(r.u16("text id list length"), "text ids")
    return [body.u32("text id") for _ in range(count)]


def build_remote_error(invoke_id: int, error_value: int) -> bytes:
    return _data_export(nom.ROER_APDU, u16(invoke_id) + u16(error_value) + u16(0))


# -- decoding --------------------------------------------------------------------------------
def decode_message(data: bytes) -> Message:
    """Decode one frame's user data; DecodeError when it is malformed."""
    if not data:
        raise DecodeError("empty message")
    if data[0] != nom.DATA_EXPORT_SI:
        return decode_association(data)
    r = Reader(data)
    if r.u16("session id") != nom.SESSION_ID:
        raise DecodeError("data-export message without session id 0xE100")
    r.u16("presentation context id")
    ro_type = r.u16("ro_type")
    apdu = r.sub(r.u16("ROapdus length"), "remote operation")
    if ro_type == nom.ROER_APDU:
        invoke_id, error = apdu.u16("invoke id"), apdu.u16("error value")
        return RemoteError(invoke_id, error, apdu.take(apdu.u16("error length"), "error data"))
    linked: tuple[int, int] | None = None
    if ro_type == nom.ROLRS_APDU:
        linked = (apdu.u8("linked state"), apdu.u8("linked count"))
    elif ro_type not in (nom.ROIV_APDU, nom.RORS_APDU):
        raise DecodeError(f"unknown remote operation type {ro_type}")
    invoke_id, command = apdu.u16("invoke id"), apdu.u16("command type")
    body = apdu.sub(apdu.u16("command length"), "command")
    if ro_type == nom.ROIV_APDU:
        return _decode_invoke(invoke_id, command, body)
    return _decode_result(ro_type, invoke_id, command, body, linked)


def _decode_invoke(invoke_id: int, command: int, r: Reader) -> Message:
    if command in (nom.CMD_EVENT_REPORT, nom.CMD_CONFIRMED_EVENT_REPORT):
        obj, time = ManagedObject.read(r), r.u32("event time")
        event_type = r.u16("event type")
        data = r.sub(r.u16("event length"), "event data")
        if event_type == nom.NOM_NOTI_MDS_CREAT:
            mds = ManagedObject.read(data)
            return MdsCreateEvent(invoke_id, obj, time, mds, read_attribute_list(data))
        return OtherMessage(nom.ROIV_APDU, invoke_id, command, data.rest())
    if command == nom.CMD_CONFIRMED_ACTION:
        ManagedObject.read(r)
        r.u32("scope")
        action = r.u16("action type")
        data = r.sub(r.u16("action length"), "action data")
        if action in (nom.NOM_ACT_POLL_MDIB_DATA, nom.NOM_ACT_POLL_MDIB_DATA_EXT):
            extended = action == nom.NOM_ACT_POLL_MDIB_DATA_EXT
            number, partition = data.u16("poll number"), data.u16("partition")
            code, group = data.u16("object code"), data.u16("attribute group")
            ext = read_attribute_list(data) if extended and data.remaining else ()
            return PollRequest(invoke_id, number, code, group, extended, partition, ext)
        return OtherMessage(nom.ROIV_APDU, invoke_id, command, data.rest())
    if command in (nom.CMD_SET, nom.CMD_CONFIRMED_SET):
        obj = ManagedObject.read(r)
        r.u32("scope")
        count, mods = r.u16("modification count"), r.sub(r.u16("modification length"), "mods")
        entries = []
        for _ in range(count):
            op, attr = mods.u16("modify operator"), mods.u16("attribute id")
            entries.append((op, attr, mods.take(mods.u16("attribute length"), "value")))
        return SetRequest(invoke_id, obj, tuple(entries), command == nom.CMD_CONFIRMED_SET)
    return OtherMessage(nom.ROIV_APDU, invoke_id, command, r.rest())


def _decode_result(
    ro_type: int, invoke_id: int, command: int, r: Reader, linked: tuple[int, int] | None
) -> Message:
    if command == nom.CMD_CONFIRMED_EVENT_REPORT:
        obj, time = ManagedObject.read(r), r.u32("current time")
        if r.u16("event type") == nom.NOM_NOTI_MDS_CREAT:
            return MdsCreateResult(invoke_id, obj, time)
        return OtherMessage(ro_type, invoke_id, command, r.rest())
    if command == nom.CMD_CONFIRMED_SET:
        return SetResult(invoke_id, ManagedObject.read(r), read_attribute_list(r))
    if command != nom.CMD_CONFIRMED_ACTION:
        return OtherMessage(ro_type, invoke_id, command, r.rest())
    ManagedObject.read(r)
    action = r.u16("action type")
    data = r.sub(r.u16("action result length"), "action result")
    if action not in (nom.NOM_ACT_POLL_MDIB_DATA, nom.NOM_ACT_POLL_MDIB_DATA_EXT):
        return OtherMessage(ro_type, invoke_id, command, data.rest())
    extended = action == nom.NOM_ACT_POLL_MDIB_DATA_EXT
    number = data.u16("poll number")
    sequence = data.u16("sequence number") if extended else 0
    rel_time, abs_time = data.u32("relative time"), data.take(8, "absolute time")
    partition, code, group = data.u16("partition"), data.u16("object code"), data.u16("group")
    n_ctx = data.u16("poll info count")
    ctx_reader = data.sub(data.u16("poll info length"), "poll info list")
    contexts = []
    for _ in range(n_ctx):
        ctx_id = ctx_reader.u16("context id")
        n_obs = ctx_reader.u16("observation count")
        obs_reader = ctx_reader.sub(ctx_reader.u16("observation list length"), "observations")
        obs = tuple(
            ObservationPoll(obs_reader.u16("object handle"), read_attribute_list(obs_reader))
            for _ in range(n_obs)
        )
        if obs_reader.remaining:
            raise DecodeError("observation list longer than its entries")
        contexts.append(ContextPoll(ctx_id, obs))
    if ctx_reader.remaining:
        raise DecodeError("poll info list longer than its contexts")
    return PollResult(
        invoke_id=invoke_id,
        poll_number=number,
        obj_code=code,
        attr_group=group,
        contexts=tuple(contexts),
        extended=extended,
        sequence_no=sequence,
        rel_time=rel_time,
        abs_time=abs_time,
        partition=partition,
        linked=linked,
    )


class LinkedResults:
    """Reassembles multi-part poll results by invoke id (first = 1, middle = 2, last = 3).

    Linked parts (ROLRS) are held until the closing RORS with the same invoke id arrives; that
    call returns one `PollResult` holding every part's contexts in order. A result without
    parts passes straight through. A part out of order drops what was held for its invoke id
    and raises `DecodeError`, so the caller counts it and waits for the next poll.
    """

    def __init__(self, max_pending: int = 16) -> None:
        self._parts: dict[int, list[PollResult]] = {}
        self.max_pending = max_pending

    def add(self, part: PollResult) -> PollResult | None:
        if part.linked is None:
            done = self._parts.pop(part.invoke_id, [])
            if not done:
                return part
            contexts = tuple(c for p in [*done, part] for c in p.contexts)
            return replace(part, contexts=contexts)
        state, count = part.linked
        held = self._parts.get(part.invoke_id)
        if state == nom.RORLS_FIRST:
            if held:
                self._parts.pop(part.invoke_id)
                self._parts[part.invoke_id] = [part]
                raise DecodeError(f"invoke {part.invoke_id}: new first part, earlier dropped")
            if len(self._parts) >= self.max_pending:
                self._parts.pop(next(iter(self._parts)))
            self._parts[part.invoke_id] = [part]
            return None
        if state in (nom.RORLS_NOT_FIRST_NOT_LAST, nom.RORLS_LAST):
            if not held:
                raise DecodeError(f"invoke {part.invoke_id}: linked part {count} without a first")
            expected = (held[-1].linked or (0, 0))[1] + 1
            if count != expected:
                self._parts.pop(part.invoke_id)
                raise DecodeError(
                    f"invoke {part.invoke_id}: linked part {count}, expected {expected}"
                )
            held.append(part)
            return None
        self._parts.pop(part.invoke_id, None)
        raise DecodeError(f"invoke {part.invoke_id}: unknown linked state {state}")

    def discard(self, invoke_id: int | None = None) -> None:
        """Forget held parts (of one invoke id, or all)."""
        if invoke_id is None:
            self._parts.clear()
        else:
            self._parts.pop(invoke_id, None)
