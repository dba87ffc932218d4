"""The pump simulator on the wire, checked with hand-built frames from the Modbus
Application Protocol v1.1b3 (function 03, exception 02) and Modbus Messaging on TCP/IP v1.0b
(MBAP header) — no pymodbus on this side — and over RTU with the serial line spec's CRC-16."""

from __future__ import annotations

import asyncio
import contextlib
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


async def _ask_tcp(port: int, frame: bytes, size: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(frame)
        await writer.drain()
        return await asyncio.wait_for(reader.readexactly(size), 3)
    finally:
        writer.close()


async def test_quantity_zero_or_over_125_is_exception_03_before_the_address() -> None:
    sim = PumpSimulator({1: PumpState()}, RealClock())
    port = await sim.serve_tcp()
    try:
        # MODBUS Application Protocol v1.1b3 §6.3: quantity 1..125, else exception code 03
        for tid, fc, count in ((0x10, 0x03, 0), (0x11, 0x03, 126), (0x12, 0x04, 2000)):
            request = mbap(tid, 1, bytes([fc, 0x00, 0x00]) + count.to_bytes(2, "big"))
            reply = await _ask_tcp(port, request, 9)
            assert reply == mbap(tid, 1, bytes([fc | 0x80, 0x03]))
        # 125 is a legal quantity: past the pump's block it is exception 02 (address)
        reply = await _ask_tcp(port, mbap(0x13, 1, bytes([0x03, 0, 0, 0, 125])), 9)
        assert reply == mbap(0x13, 1, bytes([0x83, 0x02]))
    finally:
        await sim.close()


async def test_device_identification_says_it_is_a_simulator() -> None:
    sim = PumpSimulator({1: PumpState()}, RealClock())
    port = await sim.serve_tcp()
    try:
        # Read Device Identification (0x2B / MEI 0x0E), basic objects (code 01) from object 0
        objects = [(0x00, b"iaewatch"), (0x01, b"IAEW-PUMP-SIM"), (0x02, b"1.0")]
        body = b"".join(bytes([i, len(v)]) + v for i, v in objects)
        # conformity 0x83 (basic, regular, extended; individual access), no more, 3 objects
        expected = mbap(0x20, 1, bytes([0x2B, 0x0E, 0x01, 0x83, 0x00, 0x00, 3]) + body)
        request = mbap(0x20, 1, bytes([0x2B, 0x0E, 0x01, 0x00]))
        assert await _ask_tcp(port, request, len(expected)) == expected
    finally:
        await sim.close()


async def test_absent_unit_on_rtu_stays_silent_and_a_bad_quantity_gets_03() -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    sim = PumpSimulator({5: PumpState()}, RealClock())
    await sim.serve_rtu(os.ttyname(slave), parity="N")
    loop = asyncio.get_running_loop()
    try:
        absent = bytes([0x09, 0x03, 0x00, 0x00, 0x00, 0x02])  # unit 9: nobody there
        os.write(master, absent + crc16_modbus(absent))
        os.set_blocking(master, False)
        await asyncio.sleep(0.5)  # an RTU master's response timeout: nothing may come
        with contextlib.suppress(BlockingIOError):  # nothing to read is the good outcome
            assert os.read(master, 64) == b""
        os.set_blocking(master, True)
        bad = bytes([0x05, 0x03, 0x00, 0x00, 0x00, 0x00])  # unit 5, quantity 0
        os.write(master, bad + crc16_modbus(bad))
        expected = bytes([0x05, 0x83, 0x03]) + crc16_modbus(bytes([0x05, 0x83, 0x03]))
        got = b""
        async with asyncio.timeout(3):
            while len(got) < len(expected):
                got += await loop.run_in_executor(None, os.read, master, 64)
        assert got == expected
    finally:
        await sim.close()
        os.close(master)
        os.close(slave)
