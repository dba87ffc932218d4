"""How the bed's devices measure the patient: which codes each reports, noise, resolution,
the cuff's cadence and artifacts.

    physiology  +  bounded measurement noise  +  artifacts  →  what the device shows

Noise is a hash of (seed, code, second), not a random stream, so a reading at a given time
depends only on the seed and the physiology then — not on how often anyone looked.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from core.params import PARAMETERS

CODES_MONITOR = (
    "MDC_PULS_OXIM_SAT_O2",
    "MDC_PULS_OXIM_PULS_RATE",
    "MDC_ECG_HEART_RATE",
    "MDC_PRESS_BLD_ART_SYS",
    "MDC_PRESS_BLD_ART_DIA",
    "MDC_PRESS_BLD_ART_MEAN",
    "MDC_PRESS_BLD_NONINV_SYS",
    "MDC_PRESS_BLD_NONINV_DIA",
    "MDC_PRESS_BLD_NONINV_MEAN",
    "MDC_TEMP_BLD",
    "MDC_RESP_RATE",
    "MDC_AWAY_CO2_ET",
)
CODES_VENTILATOR = (
    "MDC_VENT_RESP_RATE",
    "MDC_VENT_CONC_AWAY_O2_INSP",
    "MDC_PRESS_AWAY_END_EXP_POS",
    "MDC_PRESS_AWAY_INSP_PEAK",
    "MDC_PRESS_RESP_PLAT",
    "MDC_PRESS_AWAY_MEAN",
    "MDC_VOL_AWAY_TIDAL_EXP",
    "MDC_VOL_MINUTE_AWAY_EXP",
)
NIBP_CODES = ("MDC_PRESS_BLD_NONINV_SYS", "MDC_PRESS_BLD_NONINV_DIA", "MDC_PRESS_BLD_NONINV_MEAN")
NIBP_INTERVAL_S = 900.0
"""Non-invasive pressure is a cuff cycle, every 15 min; between cycles it holds its value."""

# Measurement noise: (bound of a triangular error, display resolution).
_NOISE: dict[str, tuple[float, float]] = {
    "MDC_PULS_OXIM_SAT_O2": (1.0, 1.0),
    "MDC_PULS_OXIM_PULS_RATE": (2.0, 1.0),
    "MDC_ECG_HEART_RATE": (2.0, 1.0),
    "MDC_PRESS_BLD_ART_SYS": (3.0, 1.0),
    "MDC_PRESS_BLD_ART_DIA": (2.0, 1.0),
    "MDC_PRESS_BLD_NONINV_SYS": (4.0, 1.0),
    "MDC_PRESS_BLD_NONINV_DIA": (3.0, 1.0),
    "MDC_TEMP_BLD": (0.05, 0.01),
    "MDC_RESP_RATE": (1.0, 1.0),
    "MDC_VENT_RESP_RATE": (1.0, 1.0),
    "MDC_AWAY_CO2_ET": (1.0, 1.0),
    "MDC_VENT_CONC_AWAY_O2_INSP": (1.0, 1.0),
    "MDC_PRESS_AWAY_END_EXP_POS": (0.3, 0.1),
    "MDC_PRESS_AWAY_INSP_PEAK": (1.0, 1.0),
    "MDC_PRESS_RESP_PLAT": (1.0, 1.0),
    "MDC_PRESS_AWAY_MEAN": (0.5, 1.0),
    "MDC_VOL_AWAY_TIDAL_EXP": (10.0, 1.0),
    "MDC_VOL_MINUTE_AWAY_EXP": (0.2, 0.1),
}
NOISE_BOUND: Mapping[str, float] = {code: b for code, (b, _) in _NOISE.items()}
"""Largest measurement error per code before rounding to the display resolution."""

AF_IRREGULARITY = 12.0
"""The heart rate a monitor counts in AF wanders by up to this much (/min) second to second."""


@dataclass(frozen=True, slots=True)
class _Spike:
    code: str
    value: float
    t0: float
    t1: float


def _mix64(x: int) -> int:
    """splitmix64's finaliser: a well-spread 64-bit hash of an integer."""
    m = 0xFFFFFFFFFFFFFFFF
    x = (x + 0x9E3779B97F4A7C15) & m
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & m
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & m
    return x ^ (x >> 31)


class Measurement:
    """The devices' view of one patient: readings from true values at model time `t` (s).

    Keeps the cuff's last reading (held between cycles) and the artifacts to come.
    """

    def __init__(self, seed: int) -> None:
        self._noise_key = _mix64(seed & 0xFFFFFFFFFFFFFFFF)
        self._spikes: list[_Spike] = []
        self._nibp_held: dict[str, float] = {}
        self._nibp_cycle = -1

    def readings(self, true: Mapping[str, float | None], t: float, rhythm: str) -> dict[str, float]:
        """What the devices show at `t`: noise, resolution, cuff cycle, AF, artifacts."""
        second = math.floor(t)
        out: dict[str, float] = {}
        for code, value in true.items():
            if value is None or code.startswith("_") or code in NIBP_CODES:
                continue
            out[code] = self._measure(code, value, second)
        self._nibp(true, t, out)
        if "MDC_PRESS_BLD_ART_SYS" in out:
            out["MDC_PRESS_BLD_ART_MEAN"] = float(
                round((out["MDC_PRESS_BLD_ART_SYS"] + 2 * out["MDC_PRESS_BLD_ART_DIA"]) / 3)
            )
        if rhythm == "AF" and "MDC_ECG_HEART_RATE" in out:
            irregular = AF_IRREGULARITY * (self._uniform("AF", second) * 2 - 1)
            out["MDC_ECG_HEART_RATE"] = float(round(out["MDC_ECG_HEART_RATE"] + irregular))
        for spike in self._spikes:
            if spike.t0 <= t < spike.t1 and spike.code in out:
                out[spike.code] = spike.value
        self._spikes = [s for s in self._spikes if s.t1 > t]
        return out

    def spike(self, code: str, value: float, t: float, seconds: float) -> None:
        """An artifact from `t`: `code` reads `value` for `seconds`."""
        self._spikes.append(_Spike(code, value, t, t + seconds))

    def _nibp(self, true: Mapping[str, float | None], t: float, out: dict[str, float]) -> None:
        """Hold the last cuff reading; a cycle that finds no pulse has no reading."""
        cycle = math.floor(t / NIBP_INTERVAL_S)
        if cycle != self._nibp_cycle:
            self._nibp_cycle = cycle
            self._nibp_held = {}
            sys_, dia = true["MDC_PRESS_BLD_NONINV_SYS"], true["MDC_PRESS_BLD_NONINV_DIA"]
            if sys_ is not None and dia is not None:
                k = cycle * 1000  # noise drawn once per cycle
                s = self._measure("MDC_PRESS_BLD_NONINV_SYS", sys_, k)
                d = self._measure("MDC_PRESS_BLD_NONINV_DIA", dia, k)
                self._nibp_held = {
                    "MDC_PRESS_BLD_NONINV_SYS": s,
                    "MDC_PRESS_BLD_NONINV_DIA": d,
                    "MDC_PRESS_BLD_NONINV_MEAN": float(round((s + 2 * d) / 3)),
                }
        out.update(self._nibp_held)

    def _uniform(self, name: str, k: int) -> float:
        key = _mix64(self._noise_key ^ zlib.crc32(name.encode()))
        return _mix64(key ^ (k & 0xFFFFFFFFFFFFFFFF)) / 2.0**64

    def _measure(self, code: str, value: float, k: int) -> float:
        bound, resolution = _NOISE.get(code, (0.0, 0.01))
        # Triangular error in [-bound, bound]: two uniforms, like a small sum of errors.
        err = bound * (self._uniform(code, 2 * k) + self._uniform(code, 2 * k + 1) - 1.0)
        shown = round((value + err) / resolution) * resolution
        param = PARAMETERS.get(code)
        if param is not None:
            shown = min(param.high, max(param.low, shown))
        return rounded(shown, _decimals(resolution))


def nibp_cycle_start(t: float) -> float:
    """Model time (s) of the start of the cuff cycle running at `t` (a new NIBP reading)."""
    return math.floor(t / NIBP_INTERVAL_S) * NIBP_INTERVAL_S


def rounded(x: float, ndigits: int) -> float:
    """`x` as a device or lab reports it, to `ndigits` decimals."""
    return float(round(x, ndigits))


def _decimals(resolution: float) -> int:
    return max(0, -math.floor(math.log10(resolution) + 1e-9))
