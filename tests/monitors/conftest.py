"""Stream builders for engine scenarios: small generators of observations and events, and a
runner that feeds them in time order while ticking every second (as `iaewatch replay` does)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.model import Alert, DeviceEvent, EventSource, Observation, ValueStatus
from monitors import Engine, RuleSet, default_ruleset

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)  # infusion start in most scenarios

CODES = {
    "spo2": ("MDC_PULS_OXIM_SAT_O2", "%"),
    "hr": ("MDC_ECG_HEART_RATE", "/min"),
    "pulse": ("MDC_PULS_OXIM_PULS_RATE", "/min"),
    "sbp": ("MDC_PRESS_BLD_ART_SYS", "mm[Hg]"),
    "map": ("MDC_PRESS_BLD_ART_MEAN", "mm[Hg]"),
    "dia": ("MDC_PRESS_BLD_ART_DIA", "mm[Hg]"),
    "nbp_sys": ("MDC_PRESS_BLD_NONINV_SYS", "mm[Hg]"),
    "nbp_mean": ("MDC_PRESS_BLD_NONINV_MEAN", "mm[Hg]"),
    "temp": ("MDC_TEMP_BLD", "Cel"),
    "fio2": ("MDC_VENT_CONC_AWAY_O2_INSP", "%"),
    "peep": ("MDC_PRESS_AWAY_END_EXP_POS", "cm[H2O]"),
    "ppeak": ("MDC_PRESS_AWAY_INSP_PEAK", "cm[H2O]"),
    "pplat": ("MDC_PRESS_RESP_PLAT", "cm[H2O]"),
    "etco2": ("MDC_AWAY_CO2_ET", "mm[Hg]"),
    "mv": ("MDC_VOL_MINUTE_AWAY_EXP", "L/min"),
    "vte": ("MDC_VOL_AWAY_TIDAL_EXP", "mL"),
    "pmean": ("MDC_PRESS_AWAY_MEAN", "cm[H2O]"),
    "rate": ("MDC_FLOW_FLUID_PUMP", "mL/h"),
    "vol": ("MDC_VOL_FLUID_DELIV", "mL"),
    "norepi": ("IAEW_DOSE_NOREPINEPHRINE", "ug/min"),
    "phenyl": ("IAEW_DOSE_PHENYLEPHRINE", "ug/min"),
    "dopa": ("IAEW_DOSE_DOPAMINE", "ug/kg/min"),
    "epi": ("IAEW_DOSE_EPINEPHRINE", "ug/kg/min"),
    "vaso": ("IAEW_DOSE_VASOPRESSIN", "U/min"),
}

STEADY: dict[str, float] = {
    "spo2": 94,
    "hr": 90,
    "sbp": 120,
    "map": 80,
    "temp": 37.0,
    "fio2": 50,
    "peep": 10,
    "ppeak": 28,
    "pplat": 24,
    "etco2": 38,
    "mv": 8,
    "pmean": 18,
    "vte": 420,
}

Value = float | Callable[[float], float | None]


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


class Scenario:
    """Messages for a few beds, fed in time order with a tick at every whole second."""

    def __init__(
        self, ruleset: RuleSet | None = None, *, escalate_after_s: float | None = None
    ) -> None:
        self.engine = Engine(ruleset or default_ruleset(), escalate_after_s=escalate_after_s)
        self.msgs: list[Observation | DeviceEvent] = []
        self.alerts: list[Alert] = []
        self._clock_s: float | None = None
        self.acks: list[tuple[float, str]] = []  # (time, rule): acknowledge that rule's alert

    # -- building ------------------------------------------------------------------------
    def obs(
        self,
        s: float,
        name: str,
        value: float | None,
        *,
        unit: str | None = None,
        bed: str = "ICU-1",
        status: ValueStatus | None = None,
        device: str | None = None,
    ) -> Scenario:
        code, canon = CODES.get(name, (name, unit or ""))
        st = status or (ValueStatus.VALID if value is not None else ValueStatus.UNAVAILABLE)
        self.msgs.append(
            Observation(
                t=at(s),
                bed=bed,
                code=code,
                value=value,
                unit=unit or canon,
                status=st,
                device=device,
            )
        )
        return self

    def event(
        self,
        s: float,
        name: str,
        *,
        bed: str = "ICU-1",
        device: str | None = None,
        source: EventSource = EventSource.DEVICE,
        **fields: Any,
    ) -> Scenario:
        self.msgs.append(
            DeviceEvent(t=at(s), bed=bed, event=name, fields=fields, device=device, source=source)
        )
        return self

    def series(
        self,
        start: float,
        end: float,
        every: float = 1.0,
        *,
        bed: str = "ICU-1",
        device: str | None = None,
        **values: Value,
    ) -> Scenario:
        """Samples every `every` s in [start, end) of each named parameter (constant or f(t))."""
        n = round((end - start) / every)
        for i in range(n):
            s = start + i * every
            for name, v in values.items():
                val = v(s) if callable(v) else v
                if val is not None:
                    self.obs(s, name, val, bed=bed, device=device)
        return self

    def steady(
        self, start: float, end: float, every: float = 5.0, *, bed: str = "ICU-1", **over: Value
    ) -> Scenario:
        """All the usual vitals and ventilator values, steady unless overridden."""
        values: dict[str, Value] = {**STEADY, **over}
        return self.series(start, end, every, bed=bed, **values)

    def infusion(
        self, s: float = 0.0, *, bed: str = "ICU-1", weight_kg: float | None = 70, **kw: Any
    ) -> Scenario:
        return self.event(
            s,
            "infusion_start",
            bed=bed,
            weight_kg=weight_kg,
            volume_ml=100,
            planned_min=45,
            **kw,
        )

    def ack(self, s: float, rule: str) -> Scenario:
        self.acks.append((s, rule))
        return self

    # -- running -------------------------------------------------------------------------
    def run(self, until: float | None = None) -> list[Alert]:
        """Feed everything (stable time order), ticking each second; then tick up to `until`."""
        msgs = sorted(self.msgs, key=lambda m: m.t)
        acks = sorted(self.acks)
        self.msgs, self.acks = [], []
        clock = self._clock_s
        for m in msgs:
            s = (m.t - T0).total_seconds()
            clock = self._advance(clock, s, acks)
            self.alerts += self.engine.feed(m)
        if until is not None:
            clock = self._advance(clock, until, acks)
            self.alerts += self.engine.tick(at(until))
        self._clock_s = clock
        return self.alerts

    def _advance(self, clock: float | None, s: float, acks: list[tuple[float, str]]) -> float:
        nxt = float(int(s) - 1) if clock is None else float(int(clock) + 1)
        while nxt <= s:
            while acks and acks[0][0] <= nxt:
                _, rule = acks.pop(0)
                for a in reversed(self.alerts):
                    if a.rule == rule:
                        self.engine.acknowledge(a.id, "nurse", at(nxt))
                        break
            self.alerts += self.engine.tick(at(nxt))
            nxt += 1.0
        return max(s, clock or s)

    # -- reading -------------------------------------------------------------------------
    def of(self, rule: str | None = None, *, category: str | None = None) -> list[Alert]:
        return [
            a
            for a in self.alerts
            if (rule is None or a.rule == rule) and (category is None or a.category == category)
        ]

    def phases(self, rule: str) -> list[str]:
        return [a.phase.value for a in self.of(rule)]


def baseline(sc: Scenario, *, start: float = -1800, end: float = 0, **over: Value) -> Scenario:
    """30 min of steady pre-infusion values every 10 s, then the infusion at `end`."""
    return sc.steady(start, end, 10.0, **over)


@pytest.fixture
def scenario() -> Callable[..., Scenario]:
    return Scenario


@pytest.fixture
def make_baseline() -> Callable[..., Scenario]:
    return baseline


def rules_of(alerts: Iterable[Alert]) -> set[str]:
    return {a.rule for a in alerts}
