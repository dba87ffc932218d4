"""A simulated Philips IntelliVue monitor speaking Data Export over TCP, a pty or a memory link.

Built on the driver's codecs (`drivers.intellivue`). As the Data Export Interface Programming
Guide (IVH) describes the monitor:
- an association request is answered with an association response and an MDS Create event
  carrying the model, the system id, the serial number (production specification), the
  monitor's clock (NOM_ATTR_TIME_ABS) and its relative time (NOM_ATTR_TIME_REL); each
  simulated monitor has its own system id and serial number unless given;
- polls for numerics and alerts are answered from the `VitalsSource`; every numeric carries
  its label (NOM_ATTR_ID_LABEL) and label string ("ABP", "NBP", "HR", ...); a second poll of
  one object type within a second is dropped;
- an extended poll with a poll period (NOM_ATTR_TIME_PD_POLL) is answered every second for
  that period (linked results, then a closing result);
- a Set Priority List (a confirmed Set of NOM_ATTR_POLL_NU_PRIO_LIST / _RTSA_PRIO_LIST) is
  answered with the list as set;
- the association is aborted after `silence_timeout` (10 s) without a client message only
  when the client negotiated a minimum poll period under 3.3 s; a release request is answered.

`serve_connection` serves any stream connection (TCP, or a
`simulators.memlink.MemoryServer`'s). Faults (`simulators.faults.Faults`) are read before every
answer: `drop` closes the TCP connection and refuses new ones (on a pty, where no connection
exists, it acts like a pulled cable: nothing is answered and the association is lost),
`stall` answers nothing, `corrupt_checksum` sends frames with a wrong FCS, `garbage` sends
random bytes before each answer, `slow_s` waits before answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from core.clock import Clock
from core.errors import DecodeError
from drivers.intellivue import nomenclature as nom
from drivers.intellivue.association import (
    SYST_CLIENT,
    SYST_SERVER,
    Abort,
    AssociationRequest,
    ReleaseRequest,
    UserInfo,
    build_abort,
    build_association_accept,
    build_association_refuse,
    build_release_response,
)
from drivers.intellivue.framing import (
    MSG_TYPE,
    PROTOCOL_ID,
    Frame,
    FrameDecoder,
    encode_frame,
    fcs16,
)
from drivers.intellivue.messages import (
    MDS,
    ContextPoll,
    ManagedObject,
    MdsCreateEvent,
    Message,
    ObservationPoll,
    PollRequest,
    PollResult,
    SetRequest,
    SetResult,
    build_mds_create_event,
    build_poll_result,
    build_set_result,
    decode_message,
)
from drivers.intellivue.values import (
    AlarmEntry,
    encode_alarm_list,
    encode_float,
    encode_nu_obs_compound,
    encode_nu_obs_value,
)
from drivers.intellivue.wire import intellivue_string, u16, u32, variable_label
from simulators.faults import Faults
from simulators.intellivue_pty import PtyPort
from simulators.source import VitalsSource

log = logging.getLogger(__name__)

MIN_POLL_GAP = 0.9  # s; "one poll per object type per second" with a little timing slack
_TICKS = 8000  # RelativeTime ticks per second (IVH)

# vocabulary code → (physio id, unit code, decimals) for single numerics
_SINGLES: dict[str, tuple[int, int, int]] = {
    "MDC_ECG_HEART_RATE": (nom.NOM_ECG_CARD_BEAT_RATE, nom.NOM_DIM_BEAT_PER_MIN, 0),
    "MDC_PULS_OXIM_PULS_RATE": (nom.NOM_PLETH_PULS_RATE, nom.NOM_DIM_BEAT_PER_MIN, 0),
    "MDC_PULS_OXIM_SAT_O2": (nom.NOM_PULS_OXIM_SAT_O2, nom.NOM_DIM_PERCENT, 0),
    "MDC_RESP_RATE": (nom.NOM_RESP_RATE, nom.NOM_DIM_RESP_PER_MIN, 0),
    "MDC_AWAY_CO2_ET": (nom.NOM_AWAY_CO2_ET, nom.NOM_DIM_MMHG, 0),
    "MDC_TEMP": (nom.NOM_TEMP, nom.NOM_DIM_DEGC, 1),
    "MDC_TEMP_BLD": (nom.NOM_TEMP_BLD, nom.NOM_DIM_DEGC, 1),
}
# compound pressures: vocabulary prefix → physio ids of sys, dia, mean
_COMPOUNDS: dict[str, tuple[int, int, int]] = {
    "MDC_PRESS_BLD_ART": (
        nom.NOM_PRESS_BLD_ART_ABP_SYS,
        nom.NOM_PRESS_BLD_ART_ABP_DIA,
        nom.NOM_PRESS_BLD_ART_ABP_MEAN,
    ),
    "MDC_PRESS_BLD_NONINV": (
        nom.NOM_PRESS_BLD_NONINV_SYS,
        nom.NOM_PRESS_BLD_NONINV_DIA,
        nom.NOM_PRESS_BLD_NONINV_MEAN,
    ),
}
_RHYTHM_CODES: dict[str, tuple[int, int, str]] = {
    "asystole": (nom.NOM_EVT_ECG_ASYSTOLE, nom.HI_PRI_P_AL, "***Asystole"),
    "VT": (nom.NOM_EVT_ECG_V_TACHY, nom.HI_PRI_P_AL, "***VTach"),
    "VF": (nom.NOM_EVT_ECG_V_FIB_TACHY, nom.HI_PRI_P_AL, "***VFib/VTach"),
    "brady": (nom.NOM_EVT_ECG_BRADY_EXTREME, nom.HI_PRI_P_AL, "***Brady"),
    "AF": (nom.NOM_EVT_ECG_ATR_FIB, nom.MED_PRI_P_AL, "**AFIB"),
    "SVT": (nom.NOM_EVT_ECG_SV_TACHY, nom.MED_PRI_P_AL, "**SVT"),
}
_KPA_PER_MMHG = 0.133322387415
# label strings as the monitor shows them (IntelliVue screen labels); compound label ids are the
# physio id before sys/dia/mean (IVH NOM_PRESS_BLD_ART_ABP 0x4A14, NOM_PRESS_BLD_NONINV 0x4A04)
_LABELS: dict[int, str] = {
    nom.NOM_ECG_CARD_BEAT_RATE: "HR",
    nom.NOM_PLETH_PULS_RATE: "Pulse",
    nom.NOM_PULS_OXIM_SAT_O2: "SpO\u2082",
    nom.NOM_RESP_RATE: "RR",
    nom.NOM_AWAY_CO2_ET: "etCO\u2082",
    nom.NOM_TEMP: "Temp",
    nom.NOM_TEMP_BLD: "Tblood",
    nom.NOM_PRESS_BLD_ART_ABP_SYS - 1: "ABP",
    nom.NOM_PRESS_BLD_NONINV_SYS - 1: "NBP",
}
_PARTITION_SCADA = 2
_SERIALS = itertools.count(1)


def label_attributes(physio: int) -> tuple[tuple[int, bytes], ...]:
    """NOM_ATTR_ID_LABEL (TextId: partition SCADA << 16 | id) and NOM_ATTR_ID_LABEL_STRING."""
    text_id = u32(_PARTITION_SCADA << 16 | physio)
    return (
        (nom.NOM_ATTR_ID_LABEL, text_id),
        (nom.NOM_ATTR_ID_LABEL_STRING, intellivue_string(_LABELS.get(physio, ""))),
    )


@dataclass
class SimulatorStats:
    connections: int = 0
    associations: int = 0
    polls_answered: int = 0
    polls_dropped: int = 0
    aborts_sent: int = 0
    releases: int = 0
    frames_sent: int = 0


@dataclass(eq=False)
class _Channel:
    read: Callable[[], Awaitable[bytes]]
    write: Callable[[bytes], Awaitable[None]]
    close: Callable[[], None]
    is_pty: bool = False
    associated: bool = False
    last_answer: dict[int, float] = field(default_factory=dict)
    silence_applies: bool = True  # the client's minimum poll period is under 3.3 s
    periodic: list[asyncio.Task[None]] = field(default_factory=list)


def _bcd(n: int) -> int:
    return ((n // 10) % 10) << 4 | (n % 10)


def absolute_time(t: datetime) -> bytes:
    """AbsoluteTime: century, year, month, day, hour, minute, second, fraction in BCD (IVH)."""
    parts = (t.year // 100, t.year % 100, t.month, t.day, t.hour, t.minute, t.second, 0)
    return bytes(_bcd(p) for p in parts)


class IntellivueSimulator:
    """One simulated IntelliVue monitor; serve it on TCP (`serve_tcp`) or a pty (`serve_pty`)."""

    def __init__(
        self,
        vitals: VitalsSource,
        clock: Clock,
        faults: Faults | None = None,
        *,
        model: str = "MP70",
        system_id: bytes | None = None,
        serial: str | None = None,
        etco2_kpa: bool = False,
        max_observations_per_message: int | None = None,
        refuse: bool = False,
        silence_timeout: float = 10.0,
    ) -> None:
        self.vitals = vitals
        self.clock = clock
        self.faults = faults or Faults()
        self.model = model
        self.serial = serial or f"DE{next(_SERIALS) + 62_000_000:08d}"  # Philips-like, ours
        # a locally administered MAC-like id (0x02 bit) derived from the serial: never a real one
        self.system_id = (
            system_id
            or bytes.fromhex("02a15a") + zlib.crc32(self.serial.encode()).to_bytes(4, "big")[1:]
        )
        self.etco2_kpa = etco2_kpa
        self.max_observations_per_message = max_observations_per_message
        self.refuse = refuse
        self.silence_timeout = silence_timeout
        self.patient_alarms: list[AlarmEntry] = []  # extra alarms besides the rhythm ones
        self.technical_alarms: list[AlarmEntry] = []
        self.numeric_states: dict[str, int] = {}  # vocabulary code → measurement state bits
        self.priority_lists: dict[int, bytes] = {}  # what clients set with Set Priority List
        self.stats = SimulatorStats()
        self.port: int | None = None
        self.pty_path: str | None = None
        self._server: asyncio.Server | None = None
        self._pty: PtyPort | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._channels: set[_Channel] = set()
        self._sequence = 0

    # -- serving ----------------------------------------------------------------------------
    async def serve_tcp(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on `host:port` (0 picks a free port); returns the bound port (`self.port`)."""
        self._server = await asyncio.start_server(self.serve_connection, host, port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def serve_pty(self) -> str:
        """Serve on a new pseudo-terminal; returns the slave path the driver opens."""
        pty = await PtyPort.open()
        self._pty = pty
        self.pty_path = pty.path
        channel = _Channel(pty.read, pty.write, pty.close, is_pty=True)
        self._spawn(self._run(channel))
        return pty.path

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for channel in list(self._channels):
            channel.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None
        if self._pty is not None:
            self._pty.close()
            self._pty = None

    async def __aenter__(self) -> IntellivueSimulator:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def drop_connections(self) -> None:
        """Close every open TCP connection now (the `drop` fault also does this on traffic)."""
        for channel in list(self._channels):
            if not channel.is_pty:
                channel.close()

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Serve one stream connection (TCP, or `simulators.memlink.MemoryServer`'s)."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if self.faults.drop:
            writer.close()
            return

        async def write(data: bytes) -> None:
            writer.write(data)
            with contextlib.suppress(ConnectionError):
                await writer.drain()

        channel = _Channel(lambda: _read_tcp(reader), write, writer.close)
        await self._run(channel)

    # -- one link ---------------------------------------------------------------------------
    async def _run(self, ch: _Channel) -> None:
        self.stats.connections += 1
        self._channels.add(ch)
        decoder = FrameDecoder()
        try:
            while True:
                try:
                    if ch.associated and ch.silence_applies:
                        data = await self.clock.wait_for(ch.read(), self.silence_timeout)
                    else:
                        data = await ch.read()
                except TimeoutError:
                    log.info("intellivue sim: client silent, aborting the association")
                    ch.associated = False
                    self.stats.aborts_sent += 1
                    await self._send(ch, build_abort())
                    continue
                if not data:
                    return
                if self.faults.drop:
                    ch.associated = False
                    if not ch.is_pty:
                        return
                    continue
                if self.faults.stall:
                    continue
                for result in decoder.feed(data):
                    if isinstance(result, Frame):
                        try:
                            message = decode_message(result.user_data)
                        except DecodeError as exc:
                            log.debug("intellivue sim: undecodable message: %s", exc)
                            continue
                        await self._handle(ch, message)
        finally:
            self._channels.discard(ch)
            for task in ch.periodic:
                task.cancel()
            if not ch.is_pty:
                ch.close()

    async def _handle(self, ch: _Channel, msg: Message) -> None:
        if isinstance(msg, AssociationRequest):
            await self._associate(ch, msg)
        elif isinstance(msg, PollRequest) and ch.associated:
            await self._answer_poll(ch, msg)
        elif isinstance(msg, SetRequest) and ch.associated:
            await self._answer_set(ch, msg)
        elif isinstance(msg, ReleaseRequest):
            ch.associated = False
            self.stats.releases += 1
            await self._send(ch, build_release_response())
        elif isinstance(msg, Abort):
            ch.associated = False

    async def _associate(self, ch: _Channel, req: AssociationRequest) -> None:
        if self.refuse or not req.user_info.system_type & SYST_CLIENT:
            await self._send(ch, build_association_refuse())
            return
        info = req.user_info
        accept = UserInfo(
            system_type=SYST_SERVER,
            min_poll_period=info.min_poll_period,
            max_mtu_rx=min(info.max_mtu_rx, 1000),
            max_mtu_tx=min(info.max_mtu_tx, 1000),
            ext_options=info.ext_options & 0xF8000000,
        )
        if not await self._send(ch, build_association_accept(accept)):
            return
        ch.associated = True
        ch.silence_applies = info.min_poll_period < nom.SHORT_POLL_PERIOD_TICKS
        ch.last_answer.clear()
        self.stats.associations += 1
        await self._send(ch, build_mds_create_event(self.mds_create()))

    def mds_create(self) -> MdsCreateEvent:
        """The MDS Create event as sent after an association (see the module docstring)."""
        model = variable_label(b"Philips") + variable_label(self.model.encode("ascii"))
        serial = self.serial.encode("ascii")
        # ProductionSpec: count, length, {spec_type, component_id, prod_spec} (IVH)
        entry = u16(nom.PROD_SPEC_SERIAL_NUMBER) + u16(0) + variable_label(serial)
        rel_time = self._rel_time()
        return MdsCreateEvent(
            invoke_id=1,
            managed_object=MDS,
            event_time=rel_time,
            mds_object=ManagedObject(nom.NOM_MOC_VMS_MDS, 0, 0),
            attributes=(
                (nom.NOM_ATTR_ID_MODEL, model),
                (nom.NOM_ATTR_SYS_ID, variable_label(self.system_id)),
                (nom.NOM_ATTR_ID_PROD_SPECN, u16(1) + u16(len(entry)) + entry),
                (nom.NOM_ATTR_TIME_ABS, absolute_time(self.clock.now())),
                (nom.NOM_ATTR_TIME_REL, u32(rel_time)),
            ),
        )

    async def _answer_set(self, ch: _Channel, req: SetRequest) -> None:
        """Set Priority List: the lists are taken as given and returned in the result."""
        lists = (nom.NOM_ATTR_POLL_NU_PRIO_LIST, nom.NOM_ATTR_POLL_RTSA_PRIO_LIST)
        taken = tuple((attr, value) for _, attr, value in req.modifications if attr in lists)
        self.priority_lists.update(taken)
        if req.confirmed:
            result = SetResult(req.invoke_id, req.managed_object, taken)
            await self._send(ch, build_set_result(result))

    async def _answer_poll(self, ch: _Channel, req: PollRequest) -> None:
        now = self.clock.monotonic()
        last = ch.last_answer.get(req.obj_code)
        if last is not None and now - last < MIN_POLL_GAP:
            self.stats.polls_dropped += 1
            return
        ch.last_answer[req.obj_code] = now
        self.stats.polls_answered += 1
        period = _poll_period(req)
        if period:
            task = asyncio.ensure_future(self._periodic(ch, req, period))
            ch.periodic = [t for t in ch.periodic if not t.done()] + [task]
            return
        for part in self._parts(req, self._observations(req.obj_code)):
            await self._send(ch, build_poll_result(part))

    def _observations(self, obj_code: int) -> list[ObservationPoll]:
        if obj_code == nom.NOM_MOC_VMO_METRIC_NU:
            return self._numerics()
        if obj_code == nom.NOM_MOC_VMO_AL_MON:
            return self._alerts()
        return []

    async def _periodic(self, ch: _Channel, req: PollRequest, period: float) -> None:
        """A timed extended poll: a result every second for `period` seconds, as linked
        results (first, then middle parts), closed by a result (IVH)."""
        end = self.clock.monotonic() + period
        count = 0
        while ch.associated:
            count += 1
            last = self.clock.monotonic() + 1.0 >= end - 1e-9
            state = nom.RORLS_FIRST if count == 1 else nom.RORLS_NOT_FIRST_NOT_LAST
            part = self._result(
                req, self._observations(req.obj_code), None if last else (state, count)
            )
            if not await self._send(ch, build_poll_result(part)) or last:
                return
            await self.clock.sleep(1.0)

    def _parts(self, req: PollRequest, observations: list[ObservationPoll]) -> list[PollResult]:
        size = self.max_observations_per_message or max(1, len(observations))
        chunks = [observations[i : i + size] for i in range(0, len(observations), size)] or [[]]
        parts = []
        for i, chunk in enumerate(chunks):
            linked: tuple[int, int] | None = None
            if i < len(chunks) - 1:  # every part but the closing RORS is a linked result
                state = nom.RORLS_FIRST if i == 0 else nom.RORLS_NOT_FIRST_NOT_LAST
                if i == len(chunks) - 2 and i > 0:
                    state = nom.RORLS_LAST
                linked = (state, i + 1)
            parts.append(self._result(req, chunk, linked, advance=i == 0))
        return parts

    def _result(
        self,
        req: PollRequest,
        observations: list[ObservationPoll],
        linked: tuple[int, int] | None,
        *,
        advance: bool = True,
    ) -> PollResult:
        if advance:
            self._sequence = (self._sequence + 1) & 0xFFFF
        return PollResult(
            invoke_id=req.invoke_id,
            poll_number=req.poll_number,
            obj_code=req.obj_code,
            attr_group=req.attr_group,
            contexts=(ContextPoll(0, tuple(observations)),),
            extended=req.extended,
            sequence_no=self._sequence,
            rel_time=self._rel_time(),
            abs_time=absolute_time(self.clock.now()),
            linked=linked,
        )

    def _numerics(self) -> list[ObservationPoll]:
        values = self.vitals.vitals()
        out: list[ObservationPoll] = []
        handle = 0x0100
        for code, (physio, unit, decimals) in _SINGLES.items():
            handle += 1
            if code not in values:
                continue
            value = values[code]
            if code == "MDC_AWAY_CO2_ET" and self.etco2_kpa:
                unit, value, decimals = nom.NOM_DIM_KILO_PASCAL, value * _KPA_PER_MMHG, 1
            raw = encode_float(value, decimals)
            state = self.numeric_states.get(code, 0)
            attr = encode_nu_obs_value(physio, state, unit, raw)
            attrs = (*label_attributes(physio), (nom.NOM_ATTR_NU_VAL_OBS, attr))
            out.append(ObservationPoll(handle, attrs))
        for prefix, physios in _COMPOUNDS.items():
            handle += 1
            codes = [f"{prefix}_{part}" for part in ("SYS", "DIA", "MEAN")]
            if not any(c in values for c in codes):
                continue
            parts = []
            for code, physio in zip(codes, physios, strict=True):
                state = self.numeric_states.get(code, 0)
                if code not in values:
                    state |= nom.MS_UNAVAILABLE
                raw = encode_float(values.get(code), 0)
                parts.append((physio, state, nom.NOM_DIM_MMHG, raw))
            attr = encode_nu_obs_compound(parts)
            attrs = (*label_attributes(physios[0] - 1), (nom.NOM_ATTR_NU_CMPD_VAL_OBS, attr))
            out.append(ObservationPoll(handle, attrs))
        return out

    def _alerts(self) -> list[ObservationPoll]:
        patient = list(self.patient_alarms)
        for rhythm in self.vitals.rhythm_alarms():
            known = _RHYTHM_CODES.get(rhythm)
            if known is None:
                continue
            code, al_type, text = known
            patient.append(
                AlarmEntry(
                    patient=True,
                    source=nom.NOM_ECG_CARD_BEAT_RATE,
                    code=code,
                    type=al_type,
                    state=0,
                    object_class=nom.NOM_MOC_VMO_METRIC_NU,
                    object_handle=0x0101,
                    text=text,
                )
            )
        attributes = (
            (nom.NOM_ATTR_AL_MON_P_AL_LIST, encode_alarm_list(patient)),
            (nom.NOM_ATTR_AL_MON_T_AL_LIST, encode_alarm_list(list(self.technical_alarms))),
        )
        return [ObservationPoll(0x0001, attributes)]

    def _rel_time(self) -> int:
        return int(self.clock.monotonic() * _TICKS) & 0xFFFFFFFF

    async def _send(self, ch: _Channel, user_data: bytes) -> bool:
        """Send one message, applying faults; False when nothing could be sent."""
        faults = self.faults
        if faults.slow_s > 0:
            await self.clock.sleep(faults.slow_s)
        if faults.drop:
            if not ch.is_pty:
                ch.close()
            return False
        if faults.stall:
            return False
        frame = encode_frame(user_data)
        if faults.corrupt_checksum:
            header = bytes((PROTOCOL_ID, MSG_TYPE)) + u16(len(user_data))
            frame = encode_frame(user_data, fcs=fcs16(header + user_data) ^ 0x5A5A)
        if faults.garbage:
            frame = faults.garbage_bytes() + frame
        try:
            await ch.write(frame)
        except (ConnectionError, OSError):
            return False
        self.stats.frames_sent += 1
        return True


def _poll_period(req: PollRequest) -> float:
    """The poll period of a timed extended poll in seconds (NOM_ATTR_TIME_PD_POLL, a
    RelativeTime in 1/8000 s); 0 for a one-off poll."""
    raw = next((v for a, v in req.ext_attributes if a == nom.NOM_ATTR_TIME_PD_POLL), b"")
    return int.from_bytes(raw[:4], "big") / _TICKS if len(raw) >= 4 else 0.0


async def _read_tcp(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.read(4096)
    except (ConnectionError, OSError):
        return b""
