"""Infusion pump over Modbus TCP or RTU (pymodbus 3.16 async clients, kept behind this class).

One poll = one read of the profile's whole block (pymodbus exchanges ~3 200 requests/s on our
machine; one request per value would waste it). pymodbus exceptions are translated here;
a missing reply raises `NoReply`, never returns None. pymodbus's own reconnect is switched
off: `Driver.stream()` reconnects with our backoff on our clock.

pymodbus drops a frame it cannot parse (bad CRC, bad MBAP header, garbage) without telling its
caller, who only sees the request time out. A `_ReplyWatch` on pymodbus's packet trace tells
the two apart: a request that fails after reply bytes arrived got a bad frame (counted and
logged as one), one that fails in silence got no reply.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any, Literal

from pymodbus import FramerType, ModbusException
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient

from core.clock import Clock
from core.errors import ConnectionLost, DecodeError, DeviceUnreachable, NoReply
from core.model import DeviceEvent, EventSource, ValueStatus
from drivers.base import Backoff, Driver, DriverOutput
from drivers.modbus import codec
from drivers.modbus.profile import PumpProfile
from drivers.modbus.pump_events import Evt, PumpInterpreter, Role
from drivers.transport import SerialSettings, split_host_port

log = logging.getLogger(__name__)
# pymodbus logs every failed connect and every dropped frame at ERROR; our driver logs the first
# failure, the recovery and each bad frame (Driver.count_bad_frame) instead.
logging.getLogger("pymodbus.logging").setLevel(logging.CRITICAL)

Transport = Literal["tcp", "rtu"]


class _ReplyWatch:
    """pymodbus's `trace_packet` hook: how many bytes arrived for the request in flight."""

    def __init__(self) -> None:
        self.received = 0

    def trace(self, sending: bool, data: bytes) -> bytes:
        if sending:
            self.received = 0  # a new request: what arrives from now on is its reply
        else:
            self.received = max(self.received, len(data))  # pymodbus passes its whole buffer
        return data


class ModbusPumpDriver(Driver):
    """One infusion pump (one Modbus unit id) behind a gateway or serial bridge."""

    def __init__(
        self,
        *,
        bed: str,
        device_id: str,
        clock: Clock,
        profile: PumpProfile,
        transport: Transport,
        address: str,
        unit: int = 1,
        role: Role = "study",
        drug: str | None = None,
        concentration_ug_ml: float | None = None,
        weight_kg: Callable[[], float | None] = lambda: None,
        serial_settings: SerialSettings | None = None,
        poll_interval: float = 1.0,
        reply_timeout: float = 2.0,
        stale_after: float = 10.0,
        backoff: Backoff | None = None,
    ) -> None:
        super().__init__(
            bed=bed, device_id=device_id, clock=clock, backoff=backoff, stale_after=stale_after
        )
        self.protocol = f"modbus-{transport}"
        self.profile = profile
        self.transport = transport
        self.address = address
        self.unit = unit
        self.role = role
        self.serial_settings = serial_settings or SerialSettings(baudrate=19200, parity="E")
        self.poll_interval = poll_interval
        self.reply_timeout = reply_timeout
        self._interp = PumpInterpreter(
            role=role, drug=drug, concentration_ug_ml=concentration_ug_ml, weight_kg=weight_kg
        )
        self._last_good: float | None = None  # when the last valid reading came (monotonic)

    def _client(self, watch: _ReplyWatch) -> Any:
        common: dict[str, Any] = {
            "timeout": self.reply_timeout,
            "retries": 0,
            "reconnect_delay": 0,
            "reconnect_delay_max": 0,
            "trace_packet": watch.trace,
        }
        if self.transport == "tcp":
            host, port = split_host_port(self.address)
            return AsyncModbusTcpClient(host, port=port, **common)
        s = self.serial_settings
        return AsyncModbusSerialClient(
            self.address,
            framer=FramerType.RTU,
            baudrate=s.baudrate,
            bytesize=s.bytesize,
            parity=s.parity,
            stopbits=int(s.stopbits),
            **common,
        )

    async def _session(self) -> AsyncIterator[DriverOutput]:
        watch = _ReplyWatch()
        client = self._client(watch)
        try:
            try:
                ok = await self.clock.wait_for(client.connect(), self.reply_timeout + 1.0)
            except (TimeoutError, OSError, ModbusException) as exc:
                raise DeviceUnreachable(f"{self.address}: {exc}") from exc
            if not ok:
                raise DeviceUnreachable(f"{self.address}: connection refused or no port")
            reading = await self._read(client, watch)
            yield self.connected_event(
                model=self.profile.model,
                unit=str(self.unit),
                address=self.address,
                serial_number=reading.serial_number or "",
                drug=reading.drug or "",
            )
            last_good = self.clock.monotonic()
            gap = None if self._last_good is None else last_good - self._last_good
            self._last_good = last_good
            for item in self._outputs(reading, gap_s=gap):
                yield item
            next_poll = self.clock.monotonic()
            while True:
                # a fixed schedule: the poll rate does not drift with the time a read takes
                next_poll += self.poll_interval
                await self.clock.sleep(max(0.0, next_poll - self.clock.monotonic()))
                next_poll = max(next_poll, self.clock.monotonic() - self.poll_interval)
                try:
                    reading = await self._read(client, watch)
                except (NoReply, DecodeError) as exc:
                    if self.clock.monotonic() - last_good >= self.stale_after:
                        yield self.event(
                            "device_stale",
                            EventSource.DRIVER,
                            device=self.device_id,
                            reason=str(exc),
                        )
                        raise NoReply(f"no valid data for {self.stale_after:g} s") from exc
                    continue
                last_good = self._last_good = self.clock.monotonic()
                for item in self._outputs(reading):
                    yield item
        finally:
            client.close()

    async def _read(self, client: Any, watch: _ReplyWatch) -> codec.PumpReading:
        p = self.profile
        read = (
            client.read_holding_registers if p.table == "holding" else client.read_input_registers
        )
        try:
            rr = await self.clock.wait_for(
                read(p.start, count=p.count, device_id=self.unit),
                self.reply_timeout,
            )
        except (TimeoutError, ModbusException) as exc:
            why = str(exc) if isinstance(exc, ModbusException) else ""
            if not client.connected:
                raise ConnectionLost(f"{self.address}: {why or 'link closed'}") from exc
            if watch.received:
                reason = f"{watch.received} bytes received but no valid reply frame"
                self.count_bad_frame(reason)
                raise DecodeError(f"{self.address}: {reason}") from exc
            raise NoReply(
                f"{self.address}: {why or f'no reply in {self.reply_timeout:g} s'}"
            ) from exc
        if rr is None:
            raise NoReply(f"{self.address}: empty reply")
        if rr.isError():
            self.count_bad_frame(f"exception response {rr}")
            raise DecodeError(f"exception response {rr}")
        try:
            reading = codec.decode(p, list(rr.registers))
        except DecodeError as exc:
            self.count_bad_frame(str(exc))
            raise
        self.count_frame()
        return reading

    def _outputs(
        self, reading: codec.PumpReading, *, gap_s: float | None = None
    ) -> list[DriverOutput]:
        """`reading`'s observations and events; `gap_s`: the link outage just before it."""
        out: list[DriverOutput] = []
        for item in self._interp.interpret(reading, gap_s=gap_s):
            if isinstance(item, Evt):
                out.append(self._timed(self.event(item.name, **item.fields), item))
            else:
                obs = (
                    self.observation(item.code, item.value, item.unit)
                    if item.value is not None
                    else self.observation(
                        item.code, None, item.unit, status=ValueStatus.UNAVAILABLE
                    )
                )
                out.append(obs if item.at is None else replace(obs, t=min(item.at, obs.t)))
        return out

    def _timed(self, event: DeviceEvent, item: Evt) -> DeviceEvent:
        """The event at the pump's own time when it gave one (never later than now)."""
        if item.at is not None:
            return replace(event, t=min(item.at, event.t))
        if item.ago_s is not None:
            return replace(event, t=event.t - timedelta(seconds=max(0.0, item.ago_s)))
        return event
