"""A Modbus infusion-pump gateway simulator: one unit id per pump, served by pymodbus.

Each pump is a pymodbus `SimDevice` over the profile's block whose async `action` rebuilds the
registers on every read from the live `PumpState` with the driver's own codec and the same
profile, so the simulator never holds stale copies. The server is read-only, as a pump's
monitoring gateway is. As the Modbus Application Protocol v1.1b3 asks: a read of quantity 0 or
above 125 registers gets exception 03 (illegal data value), checked before the address; on TCP
a unit id with no pump gets the gateway exception 0x0B, while on RTU an absent unit stays
silent (a serial slave answers only its own address). Read Device Identification (0x2B/0x0E)
says what this is: an iaewatch simulator, not a pump.
Faults (`simulators.faults.Faults`) act on the link:
- drop: the server stops (connections closed, port refused) until the fault clears;
- stall: requests are read but never answered;
- slow_s: each answer waits that long on the simulator's clock;
- corrupt_checksum: answers go out with a broken RTU CRC (TCP: a broken MBAP length);
- garbage: random bytes are sent before each answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from functools import partial
from typing import Any, cast

from pymodbus import FramerType, ModbusDeviceIdentification
from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from core.clock import Clock
from core.vocabulary import STOPPING_PUMP_ALARMS
from drivers.modbus import codec
from drivers.modbus.profile import PumpProfile, load_profile
from simulators.faults import Faults
from simulators.pump_state import PumpState

log = logging.getLogger(__name__)

_FC_HOLDING, _FC_INPUT = 3, 4
MAX_READ_REGISTERS = 125  # Modbus Application Protocol v1.1b3, §6.3 / §6.4
_ILLEGAL_DATA_VALUE = 0x03

IDENTITY = {
    "VendorName": "iaewatch",
    "ProductCode": "IAEW-PUMP-SIM",
    "MajorMinorRevision": "1.0",
    "ProductName": "iaewatch simulated infusion-pump gateway (not a medical device)",
    "ModelName": "simulator",
}
"""Read Device Identification objects 0x00-0x04: what the simulator is."""


def _identity() -> ModbusDeviceIdentification:
    return ModbusDeviceIdentification(info_name=IDENTITY)  # type: ignore[no-untyped-call]


def crc16(data: bytes) -> bytes:
    """CRC-16/MODBUS, low byte first (Modbus over Serial Line v1.02, §6.2.2)."""
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc.to_bytes(2, "little")


def reading_of(state: PumpState, serial_number: str = "") -> codec.PumpReading:
    """The register view of a pump's state."""
    if state.alarms & STOPPING_PUMP_ALARMS:
        status = "alarm"
    elif "end_of_infusion" in state.alarms:
        status = "completed"
    elif state.running:
        status = "running"
    elif state.volume_infused_ml > 0:
        status = "paused"
    else:
        status = "stopped"
    return codec.PumpReading(
        rate_ml_h=state.rate_ml_h,
        vtbi_ml=state.vtbi_ml,
        volume_infused_ml=round(state.volume_infused_ml, 1),
        state=status,
        alarms=frozenset(state.alarms),
        drug=state.drug,
        concentration_ug_ml=state.concentration_ug_ml,
        battery_pct=87,
        serial_number=serial_number,
    )


async def _no_such_unit(
    func_code: int,
    start_address: int,
    address: int,
    count: int,
    registers: list[int],
    set_values: list[int] | list[bool] | None,
) -> ExcCodes:
    """The gateway's answer for a unit id with no pump behind it."""
    return ExcCodes.GATEWAY_NO_RESPONSE


class PumpSimulator:
    """Pumps behind one Modbus gateway (TCP, or RTU on a serial path)."""

    def __init__(
        self,
        pumps: Mapping[int, PumpState],
        clock: Clock,
        faults: Faults | None = None,
        profile: PumpProfile | None = None,
    ) -> None:
        self.pumps = dict(pumps)
        self.clock = clock
        self.faults = faults or Faults()
        self.profile = profile or load_profile()
        self._server: ModbusTcpServer | ModbusSerialServer | None = None
        self._address: tuple[str, int] | None = None
        self._serial_path = ""  # RTU: the serial port served
        self._watch: asyncio.Task[None] | None = None
        self._waiting: set[asyncio.Task[Any]] = set()
        self._closed = False
        self._serial_opts: dict[str, Any] = {}
        self._bad_quantity: dict[bytes, bytes] = {}  # request key → exception frame to send
        self.port = 0

    def _devices(self) -> list[SimDevice]:
        """One pymodbus SimDevice per pump over the profile's block, plus on TCP unit 0
        (pymodbus's catch-all), which answers any other unit id with a gateway exception."""
        devices = [
            SimDevice(id=unit, simdata=self._block(), action=partial(self._answer, unit))
            for unit in self.pumps
        ]
        if 0 not in self.pumps and self._address is not None:
            devices.append(SimDevice(id=0, simdata=self._block(), action=_no_such_unit))
        return devices

    def _block(self) -> SimData:
        p = self.profile
        return SimData(address=p.start, count=p.count, datatype=DataType.REGISTERS)

    async def _answer(
        self,
        unit: int,
        func_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """The SimDevice action of one pump: fill the block from the live state (pymodbus has
        already checked the address range) and answer from it, after any slow/stall fault."""
        p = self.profile
        wanted = _FC_HOLDING if p.table == "holding" else _FC_INPUT
        if set_values is not None or func_code != wanted:
            return ExcCodes.ILLEGAL_FUNCTION  # a monitoring gateway is read-only
        await self._before_answer()
        regs = codec.encode(p, reading_of(self.pumps[unit], serial_number=f"SIM{unit:05d}"))
        registers[: len(regs)] = regs  # pymodbus answers from this list, changed in place
        return None

    async def serve_tcp(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serve Modbus TCP; returns the bound port."""
        self._address = (host, port)
        await self._start()
        self._watch = asyncio.create_task(self._watch_drop(), name="pump-sim-drop-watch")
        return self.port

    async def serve_rtu(self, path: str, *, baudrate: int = 19200, parity: str = "E") -> None:
        """Serve Modbus RTU on serial `path` (a pty of `pty_null_modem`, or a real port)."""
        self._serial_path = path
        self._serial_opts = {"baudrate": baudrate, "parity": parity}
        await self._start()
        self._watch = asyncio.create_task(self._watch_drop(), name="pump-sim-drop-watch")

    async def _start(self) -> None:
        if self._address is not None:
            server: ModbusTcpServer | ModbusSerialServer = ModbusTcpServer(
                self._devices(),
                framer=FramerType.SOCKET,
                identity=_identity(),
                address=self._address,
                trace_packet=self._trace,
            )
        else:
            server = ModbusSerialServer(
                self._devices(),
                framer=FramerType.RTU,
                identity=_identity(),
                port=self._serial_path,
                trace_packet=self._trace,
                **self._serial_opts,
            )
        await server.serve_forever(background=True)
        self._server = server
        if self._address is not None:
            sockets = cast(Any, server.transport).sockets
            self.port = sockets[0].getsockname()[1]
            self._address = (self._address[0], self.port)  # rebind the same port after a drop

    async def _stop_server(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            await cast(Any, server).shutdown()

    async def _watch_drop(self) -> None:
        while True:
            await self.clock.sleep(0.05)
            if self.faults.drop and self._server is not None:
                log.info("pump simulator: link dropped (fault)")
                await self._stop_server()
            elif not self.faults.drop and self._server is None:
                await self._start()

    async def _before_answer(self) -> None:
        if self._closed:
            raise asyncio.CancelledError  # closing: answer nothing more
        if self.faults.slow_s <= 0 and not self.faults.stall:
            return
        task = asyncio.current_task()
        if task is not None:
            self._waiting.add(task)  # pymodbus's request task: close() must not leave it behind
        try:
            if self.faults.slow_s > 0:
                await self.clock.sleep(self.faults.slow_s)
            while self.faults.stall:
                await self.clock.sleep(0.05)
        finally:
            if task is not None:
                self._waiting.discard(task)

    def _check_quantity(self, data: bytes) -> bytes:
        """A register read of quantity 0 or over 125 is answered with exception 03 before
        any address check (the spec's order). pymodbus cannot even decode such a request, so
        the request goes on with quantity 1 and its answer is replaced (see `_trace`)."""
        tcp = self._address is not None
        head = 7 if tcp else 1
        if len(data) != head + 5 + (0 if tcp else 2):
            return data
        unit, fc = data[head - 1], data[head]
        count = int.from_bytes(data[head + 3 : head + 5], "big")
        if fc not in (_FC_HOLDING, _FC_INPUT) or 1 <= count <= MAX_READ_REGISTERS:
            return data
        if unit not in self.pumps and not tcp:
            return data  # not ours: silent anyway
        pdu = bytes((fc | 0x80, _ILLEGAL_DATA_VALUE))
        if tcp:
            key = data[:2]
            self._bad_quantity[key] = (
                data[:4] + (len(pdu) + 1).to_bytes(2, "big") + bytes([unit]) + pdu
            )
            fixed = data[: head + 3] + b"\x00\x01"
        else:
            key = b""
            self._bad_quantity[key] = bytes([unit]) + pdu + crc16(bytes([unit]) + pdu)
            fixed = data[: head + 3] + b"\x00\x01"
            fixed += crc16(fixed)
        return fixed

    def _trace(self, sending: bool, data: bytes) -> bytes:
        if not sending:
            return self._check_quantity(data)
        if self._address is None and data and data[0] not in self.pumps:
            return b""  # RTU: an address that is not one of our pumps gets no answer at all
        key = data[:2] if self._address is not None else b""
        if key in self._bad_quantity:
            data = self._bad_quantity.pop(key)
        if self.faults.corrupt_checksum and data:
            if self._address is None:
                data = data[:-1] + bytes([data[-1] ^ 0xFF])  # RTU: break the CRC
            else:
                data = data[:4] + b"\x00\x01" + data[6:]  # TCP: a wrong MBAP length
        if self.faults.garbage:
            data = self.faults.garbage_bytes() + data
        return data

    async def close(self) -> None:
        self._closed = True
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        await self._stop_server()
        # pymodbus answers each request in a task of its own; one held by a slow or stalled
        # fault, or started by bytes that arrived as the server closed, must not outlive us
        for _ in range(5):
            await asyncio.sleep(0)
            waiting = list(self._waiting)
            for task in waiting:
                task.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)
