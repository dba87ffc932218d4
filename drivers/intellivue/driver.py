"""The IntelliVue driver: a thin async loop over the Data Export codecs.

Session (IVH, VSC): association request → association accepted (0x0E; refused or aborted
raises) → the monitor's MDS Create event → our event result → `device_connected` → every
`poll_interval` one extended poll for numerics and one for alerts. Polling once a second per
object type is also the keep-alive: the monitor aborts after 10 s without a client message
(min poll period < 3.3 s) and drops a second poll of one object type within a second.
A missing reply raises `NoReply`; no poll result for `stale_after` seconds yields
`device_stale` and raises `NoReply`; bad frames are counted, never fatal. On stop (task
cancelled) a release request is sent before the link closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import AsyncIterator

from core.clock import Clock
from core.errors import ConnectionLost, DecodeError, NoReply, ProtocolError
from core.model import DeviceEvent, EventSource
from drivers.base import Backoff, Driver, DriverOutput
from drivers.intellivue import nomenclature as nom
from drivers.intellivue.association import (
    TICKS_PER_SECOND,
    Abort,
    AssociationAccept,
    AssociationRefuse,
    ReleaseRequest,
    UserInfo,
    build_association_request,
    build_release_request,
    build_release_response,
)
from drivers.intellivue.framing import MAX_RS232_MESSAGE, BadFrame, FrameDecoder, encode_frame
from drivers.intellivue.messages import (
    LinkedResults,
    MdsCreateEvent,
    Message,
    PollRequest,
    PollResult,
    RemoteError,
    build_mds_create_result,
    build_poll_request,
    decode_message,
)
from drivers.intellivue.tracking import AlarmTracker
from drivers.intellivue.translate import readings
from drivers.transport import Link, Opener, SerialSettings, open_link

log = logging.getLogger(__name__)

SERIAL_SETTINGS = SerialSettings(baudrate=115200, parity="N")  # 115200 8N1 (VSC, OICE, IVH)
MAX_POLL_INTERVAL = 5.0  # keeps the client well inside the monitor's 10 s silence limit (IVH)


class _Receiver:
    """Reads the link, decodes frames and messages, counts good and bad frames."""

    def __init__(self, link: Link, driver: IntellivueDriver) -> None:
        self._link = link
        self._driver = driver
        self._decoder = FrameDecoder(max_user_data=4 * MAX_RS232_MESSAGE)
        self._pending: deque[Message] = deque()

    async def next(self, deadline: float) -> Message | None:
        """The next decoded message, or None when `deadline` (clock.monotonic) passes."""
        clock = self._driver.clock
        while not self._pending:
            remaining = deadline - clock.monotonic()
            if remaining <= 0:
                return None
            try:
                data = await clock.wait_for(self._link.read(), remaining)
            except TimeoutError:
                return None
            self._accept(data)
        return self._pending.popleft()

    def _accept(self, data: bytes) -> None:
        for result in self._decoder.feed(data):
            if isinstance(result, BadFrame):
                self._driver.count_bad_frame(result.reason)
                continue
            try:
                message = decode_message(result.user_data)
            except DecodeError as exc:
                self._driver.count_bad_frame(f"undecodable message: {exc}")
                continue
            self._driver.count_frame()
            self._pending.append(message)


class IntellivueDriver(Driver):
    """One IntelliVue monitor on a MIB/RS-232 link (or a TCP bridge to one).

    `open_link` opens `url` (default: `drivers.transport.open_link`; a test passes an
    in-memory link's opener)."""

    protocol = "intellivue"

    def __init__(
        self,
        *,
        bed: str,
        device_id: str,
        url: str,
        clock: Clock,
        serial_settings: SerialSettings = SERIAL_SETTINGS,
        poll_interval: float = 1.0,
        stale_after: float = 10.0,
        backoff: Backoff | None = None,
        reply_timeout: float = 5.0,
        open_link: Opener = open_link,
    ) -> None:
        super().__init__(
            bed=bed, device_id=device_id, clock=clock, backoff=backoff, stale_after=stale_after
        )
        if not 1.0 <= poll_interval <= MAX_POLL_INTERVAL:
            # Faster polls are dropped by the monitor; slower ones let the association time out.
            raise ValueError(f"poll_interval must be 1-{MAX_POLL_INTERVAL:g} s")
        self.url = url
        self.serial_settings = serial_settings
        self.poll_interval = poll_interval
        self.reply_timeout = reply_timeout
        self._open_link = open_link
        self.tracker = AlarmTracker()
        self._ids = itertools.count(1)

    def _next_id(self) -> int:
        return next(self._ids) & 0xFFFF

    async def _session(self) -> AsyncIterator[DriverOutput]:
        link = await self._open_link(self.url, self.serial_settings)
        rx = _Receiver(link, self)
        associated = False
        try:
            await link.write(encode_frame(build_association_request(self._user_info())))
            await self._await_accept(rx)
            associated = True
            create = await self._await_mds_create(rx)
            await link.write(encode_frame(build_mds_create_result(create)))
            maker_model = create.model
            yield self.connected_event(
                mds=create.system_id or "",
                model=" ".join(maker_model) if maker_model else "",
            )
            async for item in self._poll(link, rx):
                yield item
        except _Ended as ended:
            associated = ended.associated
            raise ended.error from None
        finally:
            if associated:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await self.clock.wait_for(link.write(encode_frame(build_release_request())), 1)
            await link.close()

    def _user_info(self) -> UserInfo:
        return UserInfo(min_poll_period=round(self.poll_interval * TICKS_PER_SECOND))

    async def _await_accept(self, rx: _Receiver) -> None:
        deadline = self.clock.monotonic() + self.reply_timeout
        while (msg := await rx.next(deadline)) is not None:
            if isinstance(msg, AssociationAccept):
                return
            if isinstance(msg, AssociationRefuse):
                raise _Ended(ProtocolError("monitor refused the association"), associated=False)
            if isinstance(msg, Abort):
                raise _Ended(ProtocolError("monitor aborted the association"), associated=False)
            log.debug("%s: ignoring %s while associating", self.device_id, type(msg).__name__)
        raise NoReply(f"no association response within {self.reply_timeout:g} s")

    async def _await_mds_create(self, rx: _Receiver) -> MdsCreateEvent:
        deadline = self.clock.monotonic() + self.reply_timeout
        while (msg := await rx.next(deadline)) is not None:
            if isinstance(msg, MdsCreateEvent):
                return msg
            if isinstance(msg, Abort):
                raise _Ended(ProtocolError("monitor aborted the association"), associated=False)
        raise NoReply(f"no MDS Create event within {self.reply_timeout:g} s")

    async def _poll(self, link: Link, rx: _Receiver) -> AsyncIterator[DriverOutput]:
        clock = self.clock
        linked = LinkedResults()
        kinds: dict[int, int] = {}  # invoke id → polled object code
        next_poll = clock.monotonic()
        last_data = clock.monotonic()
        while True:
            now = clock.monotonic()
            if now - last_data >= self.stale_after:
                yield self.event(
                    "device_stale",
                    EventSource.DRIVER,
                    device=self.device_id,
                    seconds=round(now - last_data, 1),
                )
                raise NoReply(f"no poll result for {now - last_data:.1f} s")
            if now >= next_poll:
                kinds.clear()
                for code, group in (
                    (nom.NOM_MOC_VMO_METRIC_NU, nom.NOM_ATTR_GRP_ALL),
                    (nom.NOM_MOC_VMO_AL_MON, nom.NOM_ATTR_GRP_AL_MON),
                ):
                    invoke = self._next_id()
                    kinds[invoke] = code
                    request = PollRequest(invoke, invoke, code, group)
                    await link.write(encode_frame(build_poll_request(request)))
                next_poll = now + self.poll_interval
            msg = await rx.next(min(next_poll, last_data + self.stale_after))
            if msg is None:
                continue
            if isinstance(msg, Abort):
                raise _Ended(ConnectionLost("monitor aborted the association"), associated=False)
            if isinstance(msg, ReleaseRequest):
                await link.write(encode_frame(build_release_response()))
                raise _Ended(ConnectionLost("monitor released the association"), associated=False)
            if isinstance(msg, MdsCreateEvent):
                await link.write(encode_frame(build_mds_create_result(msg)))
                continue
            if isinstance(msg, RemoteError):
                log.warning(
                    "%s: remote error %d for invoke %d",
                    self.device_id,
                    msg.error_value,
                    msg.invoke_id,
                )
                continue
            if not isinstance(msg, PollResult) or msg.invoke_id not in kinds:
                continue
            try:
                result = linked.add(msg)
            except DecodeError as exc:
                self.count_bad_frame(f"linked result: {exc}")
                continue
            if result is None:
                continue
            try:
                items = self._outputs(result)
            except DecodeError as exc:
                self.count_bad_frame(f"poll result: {exc}")
                continue
            last_data = clock.monotonic()
            for item in items:
                yield item

    def _outputs(self, result: PollResult) -> list[DriverOutput]:
        out: list[DriverOutput] = []
        if result.obj_code == nom.NOM_MOC_VMO_METRIC_NU:
            values = result.numerics()
            for r in readings(values):
                out.append(self.observation(r.code, r.value, r.unit, status=r.status))
            out.extend(self._events(self.tracker.update_numerics(values)))
        elif result.obj_code == nom.NOM_MOC_VMO_AL_MON:
            out.extend(self._events(self.tracker.update_alarms(result.alarms())))
        return out

    def _events(self, tracked: list[tuple[str, dict[str, object]]]) -> list[DeviceEvent]:
        return [self.event(name, **fields) for name, fields in tracked]


class _Ended(Exception):
    """Internal: end the session with `error`, saying whether a release is still due."""

    def __init__(self, error: Exception, *, associated: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.associated = associated
