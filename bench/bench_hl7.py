"""HL7 throughput: PCD-01 messages parsed per second (MLLP split + HL7 parse + PCD decode +
receiver translation), and MLLP framing alone.

    .venv/bin/python bench/bench_hl7.py [--messages N]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from drivers.hl7.message import parse_message
from drivers.hl7.mllp import MllpDecoder, frame
from drivers.hl7.pcd import decode_report
from drivers.hl7.pcd_write import build_oru_r01
from drivers.hl7.receiver import Hl7Receiver
from simulators.source import DEFAULT_ADULT_ARDS

T = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    n = parser.parse_args().messages

    payloads = [
        build_oru_r01(DEFAULT_ADULT_ARDS, now=T, control_id=f"M{i}", location="ICU^^3")
        for i in range(n)
    ]
    stream = b"".join(frame(p) for p in payloads)
    size = len(payloads[0])
    rows = sum(p.count(b"\rOBX|") for p in payloads[:1])

    t0 = time.perf_counter()
    dec = MllpDecoder()
    for i in range(0, len(stream), 1460):  # TCP-segment-sized reads
        dec.feed(stream[i : i + 1460])
        dec.frames_available()
    t_mllp = time.perf_counter() - t0

    t0 = time.perf_counter()
    for p in payloads:
        decode_report(parse_message(p))
    t_parse = time.perf_counter() - t0

    rc = Hl7Receiver(bed_map={"ICU^^3": "ICU-3"}, device_id="hl7")
    t0 = time.perf_counter()
    dec = MllpDecoder()
    outputs = 0
    for i in range(0, len(stream), 1460):
        dec.feed(stream[i : i + 1460])
        for payload in dec.frames_available():
            outputs += len(rc.receive(payload, T).outputs)
    t_all = time.perf_counter() - t0

    print(f"PCD-01 message: {size} bytes, {rows} OBX rows, {len(DEFAULT_ADULT_ARDS)} values")
    print(f"MLLP split only:              {n / t_mllp:10.0f} messages/s")
    print(f"HL7 parse + PCD decode:       {n / t_parse:10.0f} messages/s")
    print(
        f"full receive (MLLP..ACK):     {n / t_all:10.0f} messages/s, {outputs / t_all:.0f} obs/s"
    )


if __name__ == "__main__":
    main()
