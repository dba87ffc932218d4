"""Playing a scenario: `ScenarioRunner` applies one bed's timeline to its `PatientModel` as
the clock passes each step (live with `run()`, or offline with `apply_until()`); what each
step does is its action's `apply` in `simulators.actions.ACTIONS`."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from datetime import datetime, timedelta

from core.clock import Clock, VirtualClock
from simulators.actions import ACTIONS, Target
from simulators.faults import Faults
from simulators.patient import PatientModel
from simulators.scenario_types import MIN_BASELINE_S, BedScenario, Scenario, Step

StepListener = Callable[[Step, datetime], None]


class ScenarioRunner:
    """Applies one bed's timeline to its `PatientModel` as the clock passes each step.

    Scenario time 0 (infusion start) is `origin`; by default the runner is created at the
    scenario's start, so `origin = now + |start|`. Device unplug/replug flips
    `faults[device].drop`. `run()` sleeps on the clock between steps (a `ScaledClock` sets
    the speed); `apply_until(t)` applies due steps synchronously, moving a `VirtualClock`
    to each step's own time first so every change lands exactly when the timeline says.

    Started part-way (`origin` in the past, `iaewatch simulate --from`), the steps before the
    model's own start are replayed at once; the pumps then also run that history (each
    pump's programme for the time between those steps), so their volume counters read what
    the pumps would have infused, not what was infused since the simulator started.
    """

    def __init__(
        self,
        scenario: Scenario | BedScenario,
        model: PatientModel,
        clock: Clock,
        faults_by_device: MutableMapping[str, Faults] | None = None,
        *,
        bed: str | None = None,
        origin: datetime | None = None,
        on_step: StepListener | None = None,
    ) -> None:
        if isinstance(scenario, Scenario):
            self.bed = scenario.bed(bed)
            start = scenario.start
        else:
            self.bed = scenario
            start = min(-MIN_BASELINE_S, min((s.at for s in scenario.timeline), default=0.0))
        self.model = model
        self.clock = clock
        self.faults: MutableMapping[str, Faults] = (
            faults_by_device if faults_by_device is not None else {}
        )
        self.target = Target(model, {p.name: p for p in self.bed.pumps}, self.faults)
        self.origin = origin or clock.now() + timedelta(seconds=-start)
        self.on_step = on_step
        self.applied: list[tuple[Step, datetime]] = []
        self._next = 0
        self._history: datetime | None = None  # how far the pumps have run the replayed past

    def time_of(self, step: Step) -> datetime:
        return self.origin + timedelta(seconds=step.at)

    @property
    def scenario_time(self) -> float:
        """Seconds since infusion start (negative before it)."""
        return (self.clock.now() - self.origin).total_seconds()

    @property
    def done(self) -> bool:
        return self._next >= len(self.bed.timeline)

    def next_due(self) -> datetime | None:
        """When the next step is due (None when the timeline is finished)."""
        return None if self.done else self.time_of(self.bed.timeline[self._next])

    def apply_until(self, t: datetime) -> list[Step]:
        """Apply every step due at or before `t`, each at its own time; return them."""
        done = []
        while not self.done:
            step = self.bed.timeline[self._next]
            when = self.time_of(step)
            if when > t:
                break
            if isinstance(self.clock, VirtualClock) and self.clock.now() < when:
                self.clock.set(when)
            self._run_history(when)
            self._apply_next()
            done.append(step)
        self._run_history(self.model.at(0))
        return done

    def _run_history(self, until: datetime) -> None:
        """Run the pumps through the replayed past up to `until`, never past the model's own
        start: from there on the model advances them."""
        if self._history is None:  # the past begins at the first step
            first = self.bed.timeline[0].at if self.bed.timeline else 0.0
            self._history = self.origin + timedelta(seconds=first)
        until = min(until, self.model.at(0))
        if until > self._history:
            for pump in self.model.pumps.values():
                pump.advance((until - self._history).total_seconds())
            self._history = until

    async def run(self) -> None:
        """Apply the remaining steps in real (clock) time; returns after the last one."""
        while not self.done:
            due = self.time_of(self.bed.timeline[self._next])
            wait = (due - self.clock.now()).total_seconds()
            if wait > 0:
                await self.clock.sleep(wait)
            self.apply_until(self.clock.now())

    def _apply_next(self) -> None:
        step = self.bed.timeline[self._next]
        self._next += 1
        self.apply(step)
        now = self.clock.now()
        self.applied.append((step, now))
        if self.on_step is not None:
            self.on_step(step, now)

    def apply(self, step: Step) -> None:
        """Make one step happen now."""
        ACTIONS[step.action].apply(self.target, step.args)
