"""Per-bed state that conditions read: latest samples, sliding extremes, baseline, infusion.

Times inside the engine are POSIX seconds (floats) for speed; datetimes are kept only where
they leave the engine (alert onsets and times).
"""

from __future__ import annotations

from collections import deque
from datetime import datetime
from typing import TYPE_CHECKING

from core.model import DeviceEvent

if TYPE_CHECKING:
    from monitors.engine.lifecycle import Episode

NEVER = float("-inf")  # conditions.base.NEVER too: importing it here would make a circle
CADENCE_GAPS = 8  # intervals a source's cadence is learned from


class Extreme:
    """Maximum (or minimum) of a series over a sliding time span, amortised O(1) per sample."""

    __slots__ = ("is_max", "q", "span")

    def __init__(self, span: float, is_max: bool) -> None:
        self.span = span
        self.is_max = is_max
        self.q: deque[tuple[float, float]] = deque()

    def push(self, t: float, v: float) -> None:
        q = self.q
        if self.is_max:
            while q and q[-1][1] <= v:
                q.pop()
        else:
            while q and q[-1][1] >= v:
                q.pop()
        q.append((t, v))
        lo = t - self.span
        while q[0][0] < lo:
            q.popleft()

    def value(self, now: float) -> float | None:
        q = self.q
        lo = now - self.span
        while q and q[0][0] < lo:
            q.popleft()
        return q[0][1] if q else None


class SlidingMean:
    """Mean of a series over the last `span` seconds (the window is (t - span, t])."""

    __slots__ = ("mean", "q", "span", "total")

    def __init__(self, span: float) -> None:
        self.span = span
        self.q: deque[tuple[float, float]] = deque()
        self.total = 0.0
        self.mean = 0.0

    def push(self, t: float, v: float) -> float:
        q = self.q
        q.append((t, v))
        self.total += v
        lo = t - self.span
        while q[0][0] <= lo:
            self.total -= q.popleft()[1]
        self.mean = self.total / len(q)
        return self.mean


class Series:
    """The latest sample of one parameter at one bed (value None when it was not usable).

    `smooth` holds sliding means (by span) and `extremes` sliding extremes keyed by
    (span, is_max, smoothing span) — of the smoothed values when that span is not 0.
    `gaps` are the last intervals between samples from the same source (its cadence), and
    `held` an outlier on a slow feed waiting for the next sample to confirm it; `device` the
    source read, `rival` another sending the same code (`Intake` reads one at a time).
    """

    __slots__ = (
        "device",
        "extremes",
        "gaps",
        "held",
        "hist",
        "rival",
        "rival_n",
        "rival_t",
        "smooth",
        "t",
        "value",
    )

    def __init__(self) -> None:
        self.t = NEVER
        self.value: float | None = None
        self.device: str | None = None
        self.hist: deque[tuple[float, float]] | None = None  # usable samples, for the baseline
        self.smooth: dict[float, SlidingMean] = {}
        self.extremes: dict[tuple[float, bool, float], Extreme] = {}
        self.gaps: deque[float] = deque(maxlen=CADENCE_GAPS)
        self.held: tuple[float, float, str | None, datetime] | None = None
        # another device sending this code: its samples since this source's last (`t` then)
        self.rival: str | None = None
        self.rival_t = NEVER
        self.rival_n = 0

    def cadence(self) -> float | None:
        """The source's usual interval between samples (median of the last gaps), if known."""
        gaps = self.gaps
        if not gaps:
            return None
        return sorted(gaps)[len(gaps) // 2]


class RuleRun:
    """One rule's progress at one bed: pending onset, clearing, the open episode."""

    __slots__ = (
        "clear_since",
        "episode",
        "last_trigger",
        "pending_dt",
        "pending_seen",
        "pending_since",
    )

    def __init__(self) -> None:
        self.pending_since: float | None = None
        self.pending_dt: datetime | None = None
        self.pending_seen: float | None = None  # last sample (or event) that agreed
        self.clear_since: float | None = None
        self.last_trigger: float = NEVER
        self.episode: Episode | None = None


class BedState:
    """Everything the engine knows about one bed."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.series: dict[str, Series] = {}
        self.last_t = NEVER
        self.last_dt: datetime | None = None
        # infusion
        self.infusion_start: float | None = None
        self.infusion_start_dt: datetime | None = None
        # how sure that start is: "pump" (its own time) or "seen_at_reconnect" (the true start
        # lies up to `infusion_start_uncertainty_s` earlier); None: seen live or entered
        self.infusion_start_source: str | None = None
        self.infusion_start_uncertainty_s = 0.0
        self.infusion_end: float | None = None
        self.infusion_end_dt: datetime | None = None
        self.monitoring_end: float | None = None
        self.window_ends: list[float] = []  # ends of the rule windows not yet processed
        self.weight_kg: float | None = None
        self.volume_ml: float | None = None
        self.planned_min: float | None = None
        self.study_pump: str | None = None
        self.collecting_baseline = True
        # baseline: code -> statistic; info: code -> (samples found, samples needed)
        self.baseline: dict[str, float] = {}
        self.baseline_info: dict[str, tuple[int, int]] = {}
        self.baseline_missing: tuple[str, ...] = ()
        # vasopressors: code -> dose in effect at infusion start; running agents
        self.pre_dose: dict[str, float | None] = {}
        self.pre_agents = 0
        self.pre_on: frozenset[str] = frozenset()  # agents running at infusion start
        # a nurse's confirmed pre-infusion doses (0: confirmed not running)
        self.confirmed_pre: dict[str, float] = {}
        self.confirmed_raw: dict[str, tuple[float, str]] = {}  # per-kg, waiting for weight
        self.first_after: dict[str, float] = {}  # agent -> its first dose seen after start
        # rhythm (lower case) -> last time a monitor reported it before infusion start
        self.rhythms_before: dict[str, float] = {}
        self.seen: dict[str, float] = {}  # event name -> last time seen
        # rules that cannot assess (monitors.engine.assess): rule id -> what it lacks
        self.cannot_assess: dict[str, list[str]] = {}
        self.assess_due = NEVER
        self.agent_on: dict[str, bool] = {}
        self.doses: dict[str, dict[str | None, float]] = {}  # agent -> each source's last dose
        # per-kg doses seen before the weight was known: code -> (t, value, unit, device)
        self.pending_raw: dict[str, tuple[float, float, str, str | None]] = {}
        # hold mechanics: derived code -> the PEEP its plateau was paired with
        self.paired: dict[str, float] = {}
        # composites with a time span: condition uid -> last time it was true
        self.latch: dict[int, float] = {}
        self.event: DeviceEvent | None = None  # the event being processed, for event leaves
        self.trigger: str | None = None  # the code being processed (None on ticks)
        self.disconnected: set[str] = set()
        self.runs: dict[str, RuleRun] = {}
        # rule ids with a pending onset, a clear timer or an episode; a dict, not a set, so
        # ticks visit them in a fixed order and same-instant alerts come out in the same order
        # in every run (a set's order follows the process's hash seed)
        self.timed: dict[str, None] = {}
        self.stale_due: dict[str, float] = {}

    def run(self, rule_id: str) -> RuleRun:
        rr = self.runs.get(rule_id)
        if rr is None:
            rr = self.runs[rule_id] = RuleRun()
        return rr

    def in_window(self, now: float, hours: float) -> bool:
        start = self.infusion_start
        return start is not None and start <= now < start + hours * 3600.0
