"""Ventilator-, ICU- and vasopressor-free days from timed events (app.dataset.freedays)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.dataset.freedays import EventOrderError, Switch, days_on, free_days, intervals

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def day(d: float) -> datetime:
    return T0 + timedelta(days=d)


def vfd(events: list[Switch], death: datetime | None = None) -> float:
    return free_days(T0, intervals(T0, on_at_t0=True, switches=events), death_at=death)


def test_extubated_on_day_5_alive_has_23_free_days() -> None:
    assert vfd([Switch(day(5), on=False)]) == 23.0


def test_reintubation_counts_both_periods() -> None:
    # ventilated days 0–5 and 7–10: 8 days on the ventilator, 20 free
    events = [Switch(day(5), False), Switch(day(7), True), Switch(day(10), False)]
    assert vfd(events) == 20.0


def test_reintubated_and_still_ventilated_at_day_28() -> None:
    # off the ventilator only between day 3 and day 4
    assert vfd([Switch(day(3), False), Switch(day(4), True)]) == 1.0
    assert vfd([]) == 0.0


def test_death_before_day_28_gives_zero_even_after_extubation() -> None:
    assert vfd([Switch(day(5), False)], death=day(20)) == 0.0


def test_death_on_day_28_itself_gives_zero_and_after_it_counts_as_alive() -> None:
    assert vfd([Switch(day(4), False)], death=day(28)) == 0.0
    assert vfd([Switch(day(4), False)], death=day(30)) == 24.0


def test_hours_count_as_fractions_of_a_day() -> None:
    assert vfd([Switch(day(4.5), False)]) == 23.5
    assert vfd([Switch(T0 + timedelta(hours=30), False)]) == 26.75


def test_never_ventilated_support_and_time_after_day_28_do_not_count() -> None:
    spans = intervals(T0, on_at_t0=False, switches=[Switch(day(27), True), Switch(day(40), False)])
    assert days_on(T0, spans) == 1.0
    assert free_days(T0, spans, death_at=None) == 27.0


@pytest.mark.parametrize(
    "events",
    [
        [Switch(day(2), True)],  # intubated while on the ventilator
        [Switch(day(2), False), Switch(day(3), False)],  # extubated twice
        [Switch(T0 - timedelta(hours=1), False)],  # before day 0
    ],
)
def test_events_that_cannot_happen_are_refused(events: list[Switch]) -> None:
    with pytest.raises(EventOrderError):
        intervals(T0, on_at_t0=True, switches=events)


@given(
    st.lists(st.integers(min_value=1, max_value=40 * 24), min_size=0, max_size=8, unique=True),
    st.one_of(st.none(), st.integers(min_value=0, max_value=40 * 24)),
)
def test_free_days_stay_within_0_and_28_and_death_by_day_28_gives_0(
    hours: list[int], death_h: int | None
) -> None:
    # alternate extubation / re-intubation at the given hours
    events = [Switch(T0 + timedelta(hours=h), i % 2 == 1) for i, h in enumerate(sorted(hours))]
    spans = intervals(T0, on_at_t0=True, switches=events)
    death = None if death_h is None else T0 + timedelta(hours=death_h)
    v = free_days(T0, spans, death_at=death)
    assert 0.0 <= v <= 28.0
    if death_h is not None and death_h <= 28 * 24:
        assert v == 0.0
    else:
        assert v == round(28 - days_on(T0, spans), 2)
