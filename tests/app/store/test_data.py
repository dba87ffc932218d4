"""Observations and events: batches in, latest values, trends and event lists out."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.store import Store
from core.model import DeviceEvent, EventSource, Observation, ValueStatus

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
SPO2 = "MDC_PULS_OXIM_SAT_O2"
HR = "MDC_ECG_HEART_RATE"


def obs(
    sec: float, code: str, value: float | None, bed: str = "ICU-1", **kw: object
) -> Observation:
    status = ValueStatus.UNAVAILABLE if value is None else ValueStatus.VALID
    return Observation(
        t=T0 + timedelta(seconds=sec),
        bed=bed,
        code=code,
        value=value,
        unit="%" if code == SPO2 else "/min",
        **({"status": status} | kw),  # type: ignore[arg-type]
    )


async def test_latest_values_is_the_newest_row_per_code(store: Store) -> None:
    await store.add_observations(
        [obs(s, SPO2, 90 + s) for s in range(5)]
        + [obs(s, HR, 80 + s) for s in range(3)]
        + [obs(10, SPO2, 50, bed="ICU-2")]
    )
    await store.add_observations([obs(3, HR, None)])  # a later "no value" is the latest
    latest = await store.latest_values("ICU-1")
    assert set(latest) == {SPO2, HR}
    assert latest[SPO2] == obs(4, SPO2, 94)
    assert latest[HR].value is None and latest[HR].status is ValueStatus.UNAVAILABLE
    assert latest[HR].t == T0 + timedelta(seconds=3)
    assert (await store.latest_values("ICU-2"))[SPO2].value == 50
    assert await store.latest_values("ICU-9") == {}


async def test_observation_round_trip_keeps_every_field(store: Store) -> None:
    cet = timezone(timedelta(hours=1))
    o = Observation(
        t=datetime(2026, 3, 1, 9, 0, 0, 123456, tzinfo=cet),
        bed="ICU-1",
        code=SPO2,
        value=93.25,
        unit="%",
        device="mon-1",
        status=ValueStatus.QUESTIONABLE,
    )
    await store.add_observations([o])
    [back] = await store.observations("ICU-1")
    assert back == o  # same instant...
    assert back.t.tzinfo == UTC  # ...handed back in UTC
    assert back.t == datetime(2026, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)


async def test_a_stream_written_by_another_instance_is_read_and_reused(
    store: Store, migrated_url: str
) -> None:
    other = await Store.open(migrated_url)
    try:
        first = [obs(0, SPO2, 90, device="mon"), obs(0, HR, 70, device="mon")]
        await other.add_observations(first)
        second = [obs(1, SPO2, 91, device="mon"), obs(1, HR, 71, device="mon")]
        await store.add_observations(second)  # finds the other's stream, adds none
        assert await store.observations("ICU-1") == first + second
        assert await other.observations("ICU-1") == first + second
        assert len(store._stream_ids()) == 1
    finally:
        await other.close()


async def test_empty_batches_are_fine(store: Store) -> None:
    await store.add_observations([])
    await store.add_events([])
    assert await store.observations("ICU-1") == []


async def test_trends_average_buckets_in_sql(store: Store) -> None:
    # 1 Hz for 10 minutes: SpO2 = minute index, so each 1-minute bucket averages to it
    rows = [obs(s, SPO2, float(s // 60)) for s in range(600)]
    rows += [obs(s, HR, 100.0) for s in range(0, 600, 2)]
    rows.append(obs(30, SPO2, None))  # unavailable values are not averaged
    rows.append(obs(31, SPO2, 1000.0, status=ValueStatus.QUESTIONABLE))  # nor questionable
    rows.append(obs(700, SPO2, 55.0))  # outside the window
    await store.add_observations(rows)
    out = await store.trends("ICU-1", [SPO2, HR, "MDC_TEMP"], T0, T0 + timedelta(minutes=10), 10)
    assert set(out) == {SPO2, HR, "MDC_TEMP"}
    assert out["MDC_TEMP"] == []
    assert [v for _, v in out[SPO2]] == pytest.approx([float(m) for m in range(10)])
    # each point sits in the middle of the samples it averages
    assert [t for t, _ in out[SPO2]] == [T0 + timedelta(seconds=60 * m + 29.5) for m in range(10)]
    assert len(out[HR]) == 10 and all(v == 100.0 for _, v in out[HR])


async def test_trends_with_fewer_samples_than_points_keep_the_samples(store: Store) -> None:
    await store.add_observations([obs(0, HR, 70), obs(100, HR, 80), obs(600, HR, 90)])
    out = await store.trends("ICU-1", [HR], T0, T0 + timedelta(minutes=10), points=300)
    # the sample exactly at `until` falls in the last bucket, not one of its own
    assert out[HR] == [
        (T0, 70.0),
        (T0 + timedelta(seconds=100), 80.0),
        (T0 + timedelta(seconds=600), 90.0),
    ]


async def test_trends_refuse_an_empty_window(store: Store) -> None:
    with pytest.raises(ValueError, match="until"):
        await store.trends("ICU-1", [HR], T0, T0)


async def test_events_round_trip_and_filters(store: Store) -> None:
    evts = [
        DeviceEvent(
            t=T0,
            bed="ICU-1",
            event="infusion_start",
            fields={"weight_kg": 70, "volume_ml": 100, "planned_min": 45},
        ),
        DeviceEvent(
            t=T0 + timedelta(minutes=2),
            bed="ICU-1",
            event="arrhythmia",
            fields={"rhythm": "VT"},
            device="mon-1",
        ),
        DeviceEvent(
            t=T0 + timedelta(minutes=5),
            bed="ICU-1",
            event="blood_gas",
            fields={"pao2_mmhg": 62.5, "paco2_mmhg": 48, "ph": 7.31},
            source=EventSource.CLINICIAN,
        ),
        DeviceEvent(
            t=T0 + timedelta(minutes=1), bed="ICU-2", event="arrhythmia", fields={"rhythm": "AF"}
        ),
    ]
    await store.add_events(evts)
    got = await store.events("ICU-1")
    assert got == evts[:3]
    assert got[2].source is EventSource.CLINICIAN
    assert await store.events("ICU-1", names=["arrhythmia"]) == [evts[1]]
    window = await store.events(
        "ICU-1", since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=4)
    )
    assert window == [evts[1]]


async def test_event_fields_that_json_lacks_are_made_storable(store: Store) -> None:
    e = DeviceEvent(
        t=T0,
        bed="ICU-1",
        event="pump_program",
        fields={"at": T0, "rate": math.nan, "codes": ("a", "b"), "status": ValueStatus.VALID},
    )
    await store.add_events([e])
    [back] = await store.events("ICU-1")
    assert back.fields == {
        "at": "2026-03-01T08:00:00+00:00",
        "rate": None,
        "codes": ["a", "b"],
        "status": "valid",
    }


async def test_add_messages_writes_both_in_one_transaction(store: Store) -> None:
    e = DeviceEvent(t=T0, bed="ICU-1", event="death")
    await store.add_messages([obs(0, HR, 70)], [e])
    assert len(await store.observations("ICU-1")) == 1
    assert await store.events("ICU-1") == [e]


async def test_a_batch_of_more_frames_than_one_insert_holds_is_written_whole(store: Store) -> None:
    from app.store._data import ROWS_PER_INSERT

    n = ROWS_PER_INSERT * 2 + 7  # each second of each bed is a frame of its own
    batch = [obs(i, HR, 60 + i % 40, bed=f"ICU-{i % 3}") for i in range(n)]
    await store.add_messages(batch, [])
    got = [o for bed in ("ICU-0", "ICU-1", "ICU-2") for o in await store.observations(bed)]
    assert sorted(got, key=lambda o: o.t) == batch


async def test_a_failed_batch_leaves_nothing_behind(store: Store) -> None:
    bad = DeviceEvent(t=T0, bed="ICU-1", event="death")
    object.__setattr__(bad, "bed", None)  # the events table refuses it, after the frames went in
    with pytest.raises(Exception):  # noqa: B017 - each database names it its own way
        await store.add_messages([obs(0, HR, 70)], [bad])
    assert await store.observations("ICU-1") == []
    await store.add_messages([obs(1, HR, 71)], [])  # the store writes on afterwards
    assert [o.value for o in await store.observations("ICU-1")] == [71]
