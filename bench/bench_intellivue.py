"""Decode throughput of the IntelliVue codec: frames/s through framing + message decoding.

Run: .venv/bin/python bench/bench_intellivue.py
"""

from __future__ import annotations

import time

from drivers.intellivue import nomenclature as nom
from drivers.intellivue.framing import Frame, FrameDecoder, encode_frame
from drivers.intellivue.messages import (
    ContextPoll,
    ObservationPoll,
    PollResult,
    build_poll_result,
    decode_message,
)
from drivers.intellivue.values import encode_float, encode_nu_obs_value


def numerics_frame(n_objects: int) -> bytes:
    obs = tuple(
        ObservationPoll(
            0x100 + i,
            (
                (
                    nom.NOM_ATTR_NU_VAL_OBS,
                    encode_nu_obs_value(0x4182, 0, 0x0AA0, encode_float(60 + i)),
                ),
            ),
        )
        for i in range(n_objects)
    )
    result = PollResult(1, 1, nom.NOM_MOC_VMO_METRIC_NU, 0, (ContextPoll(0, obs),))
    return encode_frame(build_poll_result(result))


def bench(n_objects: int, seconds: float = 1.0) -> None:
    frame = numerics_frame(n_objects)
    stream = frame * 200
    decoder = FrameDecoder()
    frames = values = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for result in decoder.feed(stream):
            assert isinstance(result, Frame)
            msg = decode_message(result.user_data)
            assert isinstance(msg, PollResult)
            values += len(msg.numerics())
            frames += 1
    elapsed = time.perf_counter() - start
    print(
        f"{n_objects:3d} numerics/frame, {len(frame):4d} bytes: "
        f"{frames / elapsed:9.0f} frames/s, {values / elapsed:10.0f} values/s, "
        f"{len(stream) * (frames / 200) / elapsed / 1e6:6.2f} MB/s"
    )


if __name__ == "__main__":
    for n in (1, 10, 40):
        bench(n)
