"""Observations into a bed's series: unit conversion, plausibility, derived parameters.

A value is converted to its parameter's canonical unit (per-kg doses with the weight from
`infusion_start`; such a dose seen before the weight is kept for `infusion_start`). An
unconvertible unit, an implausible value or a questionable one is stored as "no usable
value": a rule never reads it. Each stored sample feeds the sliding means and extremes the
rules read, the baseline history until infusion start, the derived parameters it is an input
of, and then re-evaluates the state rules it can change.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from core.errors import UnitError
from core.model import Alert, Observation, ValueStatus
from core.params import VASOPRESSOR_CODES
from core.units import normalise_unit, to_canonical
from monitors.engine.plan import ART_LINE, Plan
from monitors.engine.state import BedState, Extreme, Series, SlidingMean
from monitors.engine.warnings import Warnings
from monitors.rules.derived import DERIVED, Derived
from monitors.rules.ruleset import Rule

Evaluate = Callable[[BedState, Rule, float, datetime, list[Alert]], None]

_DOSE_UNITS = frozenset({"ug/kg/min", "ug/min", "ug/kg/h", "ug/h", "mg/min", "mg/h"})
_STUDY_PUMP_CODES = frozenset({"MDC_FLOW_FLUID_PUMP", "MDC_VOL_FLUID_DELIV", "MDC_VOL_FLUID_TBI"})
_AGENT_SET = frozenset(VASOPRESSOR_CODES.values())
_ART_SET = frozenset(ART_LINE)
# doses and the study pump: neither screened for outliers (settings) nor arbitrated between
# sources (rules of their own: `_running_dose`, `BedState.study_pump`)
_SETTINGS = _AGENT_SET | _STUDY_PUMP_CODES
_SAME_INSTANT_S = 2.0  # a monitor's values of one instant arrive within this
_VALID = ValueStatus.VALID
# a source missing this many of its own intervals gives way to another sending the same code;
# the stale rule waits as many before it calls a feed stale
_SOURCE_HOLD_INTERVALS = 3
# a second source sending this many samples since the last of the one read is the faster
# feed (one at the same rate, interleaved, reaches it only when the one read has missed
# `_SOURCE_HOLD_INTERVALS` of its samples)
_RIVAL_SAMPLES = _SOURCE_HOLD_INTERVALS + 1


class Intake:
    """Stores observations in the beds' series and re-evaluates the rules they trigger."""

    def __init__(self, plan: Plan, warn: Warnings, evaluate: Evaluate) -> None:
        self._warn = warn
        self._evaluate = evaluate
        self._extremes = plan.extremes
        self._baseline_codes = plan.baseline_codes
        self._units = plan.units
        self._params = plan.params
        self._keep = plan.keep
        self._fresh = plan.fresh
        self._shadow = plan.shadow
        self._by_trigger = plan.by_trigger
        self._derived_by_trigger = plan.derived_by_trigger
        self._conv: dict[tuple[str, str], Callable[[float], float] | None] = {}
        self._feeds = plan.feeds
        # values of a feed that can be an outlier
        self._screened = frozenset(plan.watched) - _SETTINGS
        # the POSIX time of the last observation's datetime: a recording's values of one
        # second share one datetime (`core.records` reads each time once)
        self._dt: datetime | None = None
        self._ts = 0.0

    @contextmanager
    def quietly(self) -> Iterator[None]:
        """Observations stored meanwhile fill the series (values, sliding windows, baseline
        history) without evaluating any rule: a restored engine warming up on stored data."""
        by_trigger = self._by_trigger
        self._by_trigger = {}
        try:
            yield
        finally:
            self._by_trigger = by_trigger

    def series(self, bed: BedState, code: str) -> Series:
        """The bed's series of `code`, made with the sliding windows the rules read."""
        s = bed.series.get(code)
        if s is None:
            s = bed.series[code] = Series()
            for span, is_max, smooth in self._extremes.get(code, ()):
                s.extremes[(span, is_max, smooth)] = Extreme(span, is_max)
                if smooth and smooth not in s.smooth:
                    s.smooth[smooth] = SlidingMean(smooth)
            if bed.collecting_baseline and code in self._baseline_codes:
                s.hist = deque()
        return s

    def observe(self, bed: BedState, msg: Observation, out: list[Alert]) -> None:
        """One observation of a watched code at `bed`."""
        code = msg.code
        t = msg.t
        if t is self._dt:
            ts = self._ts
        else:
            ts = self._ts = t.timestamp()
            self._dt = t
        value = msg.value
        usable = value is not None and msg.status is _VALID
        if usable and msg.unit != self._units[code]:
            assert value is not None
            value = self._convert(bed, msg, ts, value)
            if value is None:
                return
        if (
            code in _STUDY_PUMP_CODES
            and bed.study_pump
            and msg.device
            not in (
                None,
                bed.study_pump,
            )
        ):
            return  # another pump's rate is not the study infusion's
        if bed.last_t < ts:
            bed.last_t = ts
            bed.last_dt = msg.t
        s = bed.series.get(code) or self.series(bed, code)
        if s.device != msg.device:
            if self._held_by_other(bed, s, code, ts, msg.device):
                return
            s.gaps.clear()  # the cadence is learned per code and source
        elif ts > s.t:
            s.gaps.append(ts - s.t)
        if usable:
            assert value is not None
            if code in _ART_SET and self._art_artefact(bed, code, ts, value, msg.device):
                usable = False
            elif code in self._screened:
                last = s.value
                # `_held_back` only when it can hold: a value held, or one far from the last
                if (
                    s.held is not None
                    or (last is not None and not _near(value, last, self._feeds.outlier_jump_pct))
                ) and self._held_back(bed, s, code, ts, value, msg, out):
                    return
        if usable and code in _AGENT_SET:
            assert value is not None
            value = _running_dose(bed, code, msg.device, value)
        self.store(bed, code, ts, value if usable else None, msg.device, msg.t, out)

    def _held_by_other(
        self, bed: BedState, s: Series, code: str, ts: float, device: str | None
    ) -> bool:
        """Two devices sending one code at a bed (a ventilator's EtCO2 and a monitor's, two
        SpO2 probes, a central station relaying what a direct link also reads): the series
        reads one source at a time, so that the other's offset, lag or noise neither resets
        a rule's hold nor reads as a change. The other takes over when the one read has
        missed `_SOURCE_HOLD_INTERVALS` of its own intervals (its freshness while its cadence
        is not known), sends no usable value or is known disconnected, or when the other has
        sent `_RIVAL_SAMPLES` samples newer than the last of the one read: the faster feed
        is read (a 1 Hz link rather than a central station's once a minute), whichever came
        first.
        A clinician's entry (no device), doses and the study pump's values are not arbitrated:
        they have rules of their own."""
        if (
            device is None
            or s.device is None
            or s.value is None
            or code in _SETTINGS
            or s.device in bed.disconnected
        ):
            return False
        cadence = s.cadence()
        hold = self._fresh[code]
        if cadence is not None:
            hold = min(hold, cadence * _SOURCE_HOLD_INTERVALS)
        if ts - s.t > hold:
            return False
        if ts > s.t:  # a sample older than the last read (a lagging relay) never takes over
            if s.rival != device or s.rival_t != s.t:
                s.rival, s.rival_t, s.rival_n = device, s.t, 1  # counted since the last read
            else:
                s.rival_n += 1
                if s.rival_n >= _RIVAL_SAMPLES:
                    return False
        self._warn(
            f"second_source:{code}",
            f"{bed.name}: {code} also from {device}; {s.device}'s values are read while it sends",
        )
        return True

    def _art_artefact(
        self, bed: BedState, code: str, ts: float, value: float, device: str | None
    ) -> bool:
        """A flush or zeroing of the arterial line: systolic near 0 (mean ≈ 25 while systolic
        and diastolic read 0) or no pulse pressure (a square wave). The line's other values
        of the same instant are made unusable too."""
        vals = {code: value}
        for other in ART_LINE:
            o = bed.series.get(other)
            if (
                other != code
                and o is not None
                and o.value is not None
                and abs(o.t - ts) <= _SAME_INSTANT_S
                and o.device == device
            ):
                vals[other] = o.value
        sys_, dia = vals.get(ART_LINE[0]), vals.get(ART_LINE[1])
        feeds = self._feeds
        if not (
            (sys_ is not None and sys_ <= feeds.art_zero_mmhg)
            or (sys_ is not None and dia is not None and sys_ - dia < feeds.art_flat_mmhg)
        ):
            return False
        for other in vals:
            if other != code:
                bed.series[other].value = None
        self._warn(f"artefact:{code}", f"{bed.name}: arterial line flushed or zeroed, not used")
        return True

    def _held_back(
        self,
        bed: BedState,
        s: Series,
        code: str,
        ts: float,
        value: float,
        msg: Observation,
        out: list[Alert],
    ) -> bool:
        """On a slow feed, an isolated value far from its neighbours is held until the next
        sample confirms it (then both are stored) or contradicts it (then it is dropped)."""
        held, s.held = s.held, None
        feeds = self._feeds
        if held is not None:
            if _near(value, held[1], feeds.outlier_jump_pct):
                self.store(bed, code, held[0], held[1], held[2], held[3], out)
                return False
            self._warn(
                f"outlier:{code}",
                f"{bed.name}: {code} = {held[1]:g} far from both neighbours, not used",
            )
        if s.value is None or _near(value, s.value, feeds.outlier_jump_pct):
            return False
        cadence = s.cadence()  # sorts the gaps: only for a value far from the last
        if cadence is not None and cadence >= feeds.slow_feed_s:
            s.held = (ts, value, msg.device, msg.t)
            return True
        return False

    def store(
        self,
        bed: BedState,
        code: str,
        ts: float,
        value: float | None,
        device: str | None,
        dt: datetime,
        out: list[Alert],
    ) -> None:
        """A sample in canonical units (None: not usable), then what it triggers."""
        s = bed.series.get(code)
        if s is None:
            s = self.series(bed, code)
        elif ts < s.t:
            self._warn(f"out_of_order:{code}", f"{bed.name}: {code} sample older than the last")
            return
        if value is not None:
            p = self._params[code]
            if value < p.low or value > p.high:
                self._warn(
                    f"implausible:{code}",
                    f"{bed.name}: {code} = {value:g} outside {p.low:g}..{p.high:g}, not used",
                )
                value = None
        s.t = ts
        s.value = value
        s.device = device
        if value is not None:
            if s.hist is not None:
                hist = s.hist
                hist.append((ts, value))
                lo = ts - self._keep[code]
                while hist[0][0] < lo:
                    hist.popleft()
            if s.smooth:
                for sm in s.smooth.values():
                    sm.push(ts, value)
            if s.extremes:
                smooth = s.smooth
                for key, ext in s.extremes.items():
                    ext.push(ts, smooth[key[2]].mean if key[2] else value)
            if code in _AGENT_SET:
                bed.agent_on[code] = value > 0.0
                if bed.infusion_start is not None and ts >= bed.infusion_start:
                    bed.first_after.setdefault(code, value)
        derived = self._derived_by_trigger.get(code)
        if derived:
            for d in derived:
                self._derive(bed, d, code, ts, dt, out)
        rules = self._by_trigger.get(code)
        if rules and code in self._shadow and self._shadowed(bed, code, ts):
            return
        if rules:
            bed.trigger = code
            evaluate = self._evaluate
            for rule in rules:
                evaluate(bed, rule, ts, dt, out)
            bed.trigger = None

    def _shadowed(self, bed: BedState, code: str, ts: float) -> bool:
        for pref in self._shadow[code]:
            ps = bed.series.get(pref)
            if ps is not None and ts - ps.t <= self._fresh[pref]:
                return True
        return False

    def _derive(
        self, bed: BedState, d: Derived, code: str, ts: float, dt: datetime, out: list[Alert]
    ) -> None:
        series, fresh = bed.series, self._fresh
        made = series.get(d.code)
        if made is not None and made.t > ts:
            # this input lags another already used (a central station's SpO2 a second behind
            # the ventilator's FiO2): the derived value as of the newer one, not a sample
            # "older than the last" dropped
            ts = made.t
            dt = datetime.fromtimestamp(ts, UTC)
        inputs: list[Series] = []
        values: list[float] = []
        usable = True
        for c in d.inputs:
            s = series.get(c)
            if s is None or ts - s.t > fresh[c]:
                return
            inputs.append(s)
            if s.value is None:
                usable = False
            else:
                values.append(s.value)
        if d.pair_s is not None and not self._paired(bed, d, code, inputs, ts, dt, out):
            return
        value = d.fn(*values) if usable else None
        self.store(bed, d.code, ts, value, None, dt, out)

    def _paired(
        self,
        bed: BedState,
        d: Derived,
        code: str,
        inputs: list[Series],
        ts: float,
        dt: datetime,
        out: list[Alert],
    ) -> bool:
        """Hold mechanics: compute on a plateau only with the PEEP of the same hold; a later
        PEEP change makes the plateau stale (stored unusable, as is what it gave)."""
        hold, peep = inputs[0], inputs[1]
        assert d.pair_s is not None
        if code != d.inputs[0]:
            used = bed.paired.get(d.code)
            if (
                used is not None
                and peep.value is not None
                and abs(peep.value - used) >= d.pair_change
            ):
                bed.paired.pop(d.code, None)
                self._warn(
                    f"plateau_stale:{bed.name}", f"{bed.name}: PEEP changed since the plateau"
                )
                self.store(bed, d.inputs[0], ts, None, None, dt, out)
            return False  # a PEEP sample alone makes no new hold
        if abs(hold.t - peep.t) > d.pair_s or peep.value is None:
            self.store(bed, d.code, ts, None, None, dt, out)
            return False
        bed.paired[d.code] = peep.value
        return True

    def _convert(self, bed: BedState, msg: Observation, ts: float, value: float) -> float | None:
        code, unit = msg.code, msg.unit
        key = (code, unit)
        if key in self._conv:
            cached = self._conv[key]
            if cached is not None:
                return cached(value)
        norm = normalise_unit(unit)
        try:
            if norm in _DOSE_UNITS:
                return to_canonical(code, value, unit, weight_kg=bed.weight_kg)
            if code in DERIVED:
                raise UnitError(f"derived {code} is not accepted from outside")
            to_canonical(code, 1.0, unit)  # raises when impossible
        except UnitError as exc:
            if norm in _DOSE_UNITS and bed.weight_kg is None:
                # per-kg dose before the weight is known: keep it for infusion_start
                bed.pending_raw[code] = (ts, value, unit, msg.device)
                self._warn(
                    f"needs_weight:{code}",
                    f"{bed.name}: {code} in {unit} waits for the weight from infusion_start",
                )
                return None
            self._conv[key] = None
            self._warn(f"unit:{code}:{unit}", f"{bed.name}: {code}: {exc}; sample ignored")
            return None

        def conv(v: float, _c: str = code, _u: str = unit) -> float:
            return to_canonical(_c, v, _u)

        self._conv[key] = conv
        return conv(value)


def _running_dose(bed: BedState, code: str, device: str | None, value: float) -> float:
    """The dose of one agent when several pumps report it: the highest of each pump's last.
    A syringe change runs the next syringe on a second pump while the first runs on for
    minutes ("double pumping") and then reports 0 while still connected: the last value
    alone would alternate between the two (a titration held 60 s would never hold), their
    sum would double the dose at every change. A clinician's entry (no device) stands until
    a pump reports: what the pumps run is the dose. A pump reported disconnected no longer
    counts (taken off the bed, or its dose unknown: its own technical alert says so) until
    it reports again."""
    doses = bed.doses.get(code)
    if doses is None:
        doses = bed.doses[code] = {}
    if device is not None:
        doses.pop(None, None)
    doses[device] = value
    if len(doses) == 1:
        return value
    gone = bed.disconnected
    return max(v for d, v in doses.items() if d == device or d not in gone)


def _near(value: float, ref: float, pct: float) -> bool:
    """`value` within `pct` % of `ref`."""
    return abs(value - ref) <= abs(ref) * pct / 100.0
