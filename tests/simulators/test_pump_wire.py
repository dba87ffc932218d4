"""The pump simulator on the wire, checked with hand-built frames from the Modbus
Application Protocol v1.1b3 (function 03, exception 02) and Modbus Messaging on TCP/IP v1.0b
(MBAP header) — no pymodbus on this side — and over RTU with the serial line spec's CRC-16."""

from __future__ import annotations

import asyncio
import os
import struct
import tty

from core.clock import RealClock
from simulators.pump import PumpSimulator
from simulators.pump_state import PumpState


def mbap(tid: int, unit: int, pdu: bytes) -> bytes:
    """MBAP: transaction id, protocol id 0, length = unit id + PDU, unit id."""
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


def crc16_modbus(data: bytes) -> bytes:
    """CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF), low byte first on the wire."""
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return struct.pack("<H", crc)


def test_crc_matches_the_serial_line_spec_example() -> None:
    # Modbus over Serial Line v1.02, §6.2.2 example: 02 07 → CRC 41 12
    assert crc16_modbus(bytes([0x02, 0x07])) == bytes([0x41, 0x12])


async def test_read_holding_registers_exact_bytes_over_tcp() -> None:
    state = PumpState(vtbi_ml=100.0)
    state.start(rate_ml_h=150.0)
    sim = PumpSimulator({1: state}, RealClock())
    port = await sim.serve_tcp()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        # read 8 holding registers from address 0 at unit 1
        writer.write(mbap(0x0102, 1, bytes([0x03, 0x00, 0x00, 0x00, 0x08])))
        await writer.drain()
        reply = await asyncio.wait_for(reader.readexactly(9 + 16), 3)
        regs = [0, 1500, 0, 1000, 0, 0, 1, 0]  # rate 150.0, VTBI 100.0, 0 infused, running
        assert reply == mbap(0x0102, 1, bytes([0x03, 16]) + struct.pack(">8H", *regs))
        # outside the block: exception 02 (illegal data address), function code | 0x80
        writer.write(mbap(0x0103, 1, bytes([0x03, 0x00, 0x40, 0x00, 0x02])))
        await writer.drain()
        reply = await asyncio.wait_for(reader.readexactly(9), 3)
        assert reply == mbap(0x0103, 1, bytes([0x83, 0x02]))
    finally:
        writer.close()
        await sim.close()


async def test_read_holding_registers_exact_bytes_over_rtu() -> None:
    state = PumpState(vtbi_ml=100.0)
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    sim = PumpSimulator({5: state}, RealClock())
    await sim.serve_rtu(path, parity="N")
    try:
        request = bytes([0x05, 0x03, 0x00, 0x02, 0x00, 0x02])  # unit 5, VTBI (2 registers)
        os.write(master, request + crc16_modbus(request))
        body = bytes([0x05, 0x03, 0x04]) + struct.pack(">2H", 0, 1000)
        expected = body + crc16_modbus(body)
        got = b""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(3):
            while len(got) < len(expected):
                got += await loop.run_in_executor(None, os.read, master, 64)
        assert got == expected
    finally:
        await sim.close()
        os.close(master)
        os.close(slave)
