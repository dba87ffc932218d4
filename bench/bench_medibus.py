"""MEDIBUS codec throughput: frames decoded per second, framing alone and with payload parsing.

    .venv/bin/python bench/bench_medibus.py [--cycles N] [--chunk BYTES]

One cycle is what the driver exchanges per poll: the five replies (measured data CP1 and CP2,
alarms, settings, text) and a NOP reply, fed to the decoder in serial-read-sized chunks. At
19200 baud a ventilator delivers at most ~1 900 bytes/s, so anything far above that is
headroom.
"""

from __future__ import annotations

import argparse
import time

from drivers.medibus.codec import Cmd, FrameDecoder, Response
from drivers.medibus.layouts import (
    Alarm,
    TextMessage,
    encode_alarms,
    encode_measured,
    encode_settings,
    encode_text_messages,
    parse_alarms,
    parse_measured,
    parse_settings,
    parse_text_messages,
)
from drivers.medibus.vocab import readings


def _cycle() -> bytes:
    cp1 = [(0xF0, 60, 0), (0x78, 11.8, 1), (0x7D, 29.4, 1), (0x74, 24.5, 1), (0x73, 16.7, 1)]
    cp1 += [(0x88, 420, 0), (0xB9, 10.1, 1), (0xD6, 24, 0), (0xE6, 42, 0)]
    frames = [
        Response(Cmd.DATA_CP1, encode_measured(cp1)),
        Response(Cmd.DATA_CP2, encode_measured([(0x21, 420, 0)])),
        Response(Cmd.ALARMS_CP1, encode_alarms([Alarm(27, 0x10, "PAW HIGH")])),
        Response(Cmd.SETTINGS, encode_settings([(0x01, 60, 0), (0x0B, 12, 0), (0x0A, 24, 0)])),
        Response(Cmd.TEXT, encode_text_messages([TextMessage(0x01, "IPPV")])),
        Response(Cmd.NOP),
    ]
    return b"".join(f.encode() for f in frames)


def _parse(frame: Response) -> int:
    if frame.code == Cmd.DATA_CP1:
        return len(readings(1, parse_measured(frame.data)))
    if frame.code == Cmd.DATA_CP2:
        return len(readings(2, parse_measured(frame.data)))
    if frame.code == Cmd.ALARMS_CP1:
        return len(parse_alarms(frame.data))
    if frame.code == Cmd.SETTINGS:
        return len(parse_settings(frame.data))
    if frame.code == Cmd.TEXT:
        return len(parse_text_messages(frame.data))
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=5000)
    parser.add_argument("--chunk", type=int, default=64, help="bytes per read")
    args = parser.parse_args()
    cycle = _cycle()
    stream = cycle * args.cycles
    chunks = [stream[i : i + args.chunk] for i in range(0, len(stream), args.chunk)]

    dec = FrameDecoder()
    t0 = time.perf_counter()
    frames = sum(len(dec.feed(c)) for c in chunks)
    t_frame = time.perf_counter() - t0

    dec = FrameDecoder()
    t0 = time.perf_counter()
    items = 0
    for c in chunks:
        for event in dec.feed(c):
            if isinstance(event, Response):
                items += _parse(event)
    t_all = time.perf_counter() - t0

    print(f"stream: {args.cycles} poll cycles, {frames} frames, {len(stream)} bytes")
    print(f"  in {args.chunk}-byte reads; {len(cycle)} bytes per cycle")
    print(f"framing + checksum:         {frames / t_frame:10.0f} frames/s"
          f"  ({len(stream) / t_frame / 1e6:.2f} MB/s)")  # fmt: skip
    print(f"+ layouts + vocabulary:     {frames / t_all:10.0f} frames/s  ({items} items)")
    print(f"one ventilator at 19200 baud needs ≈ {1920 / (len(cycle) / 6):.0f} frames/s at most")


if __name__ == "__main__":
    main()
