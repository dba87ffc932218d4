"""A blood gas entered at the bed (`POST /api/beds/{bed}/events`) states its unit: mmHg or
kPa, converted exactly by `core.units` (1 kPa = 1000 / 133.322387415 mmHg) before the rules
see it; a pressure without its unit, or in another unit, is a 422 with the reason."""

from __future__ import annotations

import httpx
import pytest

from core.bus import Subscription
from core.model import DeviceEvent
from core.units import convert

GAS = {"event": "blood_gas", "t": "2026-03-01T07:45:00Z"}


async def test_a_kpa_gas_reaches_the_rules_in_mmhg(
    client: httpx.AsyncClient, nurse: dict[str, str], events: Subscription
) -> None:
    body = GAS | {"unit": "kPa", "pao2": 12.0, "paco2": 6.1, "ph": 7.33}
    r = await client.post("/api/beds/ICU-2/events", json=body, headers=nurse)
    assert r.status_code == 201, r.text
    ev = await events.get()
    assert isinstance(ev, DeviceEvent) and ev.event == "blood_gas"
    assert ev.fields["pao2_mmhg"] == convert(12.0, "kPa", "mm[Hg]")  # the one converter
    assert ev.fields["pao2_mmhg"] == pytest.approx(12.0 * 1000 / 133.322387415, abs=1e-9)
    assert ev.fields["paco2_mmhg"] == pytest.approx(6.1 * 1000 / 133.322387415, abs=1e-9)
    assert (ev.fields["pao2_entered"], ev.fields["paco2_entered"]) == (12.0, 6.1)
    assert ev.fields["entered_unit"] == "kPa" and ev.fields["ph"] == 7.33
    assert r.json()["fields"]["pao2_mmhg"] == ev.fields["pao2_mmhg"]


async def test_an_mmhg_gas_is_kept_as_typed(
    client: httpx.AsyncClient, nurse: dict[str, str], events: Subscription
) -> None:
    body = GAS | {"unit": "mmHg", "pao2": 90.0}
    r = await client.post("/api/beds/ICU-2/events", json=body, headers=nurse)
    assert r.status_code == 201, r.text
    ev = await events.get()
    assert isinstance(ev, DeviceEvent) and ev.fields["pao2_mmhg"] == 90.0
    ph_only = await client.post("/api/beds/ICU-2/events", json=GAS | {"ph": 7.2}, headers=nurse)
    assert ph_only.status_code == 201  # no pressure, no unit needed
    assert (await events.get()).fields == {"ph": 7.2, "entered_by": "nina"}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"pao2": 90.0}, "need their unit: mmHg or kPa"),
        ({"paco2": 40.0}, "need their unit: mmHg or kPa"),
        ({"unit": "torr", "pao2": 90.0}, "'mmHg' or 'kPa'"),
        ({"unit": "mmhg", "pao2": 90.0}, "'mmHg' or 'kPa'"),
        ({"pao2_mmhg": 90.0}, "with their unit (mmHg or kPa), not *_mmhg"),
        ({"unit": "kPa", "pao2": 2.0}, "below 20 mmHg"),  # 15 mmHg: not arterial
        ({"unit": "kPa", "pao2": 120.0}, "pao2_mmhg"),  # 900 mmHg: past the vocabulary's 800
        ({"unit": "mmHg"}, "at least one of pao2, paco2, ph"),
    ],
)
async def test_a_gas_without_a_known_unit_is_refused(
    client: httpx.AsyncClient,
    nurse: dict[str, str],
    events: Subscription,
    body: dict[str, object],
    reason: str,
) -> None:
    r = await client.post("/api/beds/ICU-2/events", json=GAS | body, headers=nurse)
    assert r.status_code == 422, r.text
    assert reason in r.text
    assert events._queue.empty()
