"""One endpoint's sender against the alarm-manager simulator on a real socket, on virtual
time: an outage, AE, AR, a stalled receiver, the backlog alarm, ORA^R41 replies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta

import pytest
from factories import T0, make_alert
from realtime import drive, drive_until, free_port

from app.alert_desk import AlertDesk
from app.outbound.config import EndpointConfig, Kind
from app.outbound.health import EndpointHealth, EndpointState
from app.outbound.messages import alert_items
from app.outbound.sender import EndpointSender
from app.outbound.transports import MllpTransport
from app.store import Store
from app.store._outbox import OutboxRow
from core.clock import VirtualClock
from core.model import Alert
from simulators.alarm_manager import AlarmManager


@dataclass
class Rig:
    clock: VirtualClock
    store: Store
    desk: AlertDesk
    am: AlarmManager
    port: int
    sender: EndpointSender
    alarms: list[tuple[str, str]] = field(default_factory=list)
    committed: list[Alert] = field(default_factory=list)
    n: int = 0

    async def raise_alert(self) -> Alert:
        self.n += 1
        t = self.clock.now()
        a = await self.desk.commit(make_alert(self.n, onset=t, t=t))
        self.committed.append(a)
        return a

    async def until(self, what: Callable[[], bool], virtual_s: float = 120.0) -> None:
        await drive_until(self.clock, what, virtual_s)

    @property
    def expected_ids(self) -> list[str]:
        return [f"A{a.seq}" for a in self.committed]


def _endpoint(port: int, **kw: object) -> EndpointConfig:
    ep = EndpointConfig(
        name="am",
        kind=Kind.PCD_04,
        address=f"127.0.0.1:{port}",
        line=1,
        ack_timeout=5.0,
        retry_initial=1.0,
        retry_max=8.0,
    )
    return replace(ep, **kw)  # type: ignore[arg-type]


@pytest.fixture
def endpoint_options() -> dict[str, object]:
    """Endpoint settings a test overrides (by parametrizing this name)."""
    return {}


@pytest.fixture
async def rig(
    store: Store, clock: VirtualClock, endpoint_options: dict[str, object]
) -> AsyncIterator[Rig]:
    port = free_port()
    am = AlarmManager(clock)
    await am.serve("127.0.0.1", port)
    ep = _endpoint(port, **endpoint_options)
    store.route_alerts_to_outbox(lambda a, patient: alert_items(a, patient, (ep,)))
    desk = AlertDesk(store)
    alarms: list[tuple[str, str]] = []

    async def alarm(rule: str, message: str, evidence: dict[str, object]) -> None:
        alarms.append((rule, message))

    sender = EndpointSender(
        ep,
        store=store,
        clock=clock,
        transport=MllpTransport(ep, clock),
        health=EndpointHealth(name="am", kind="pcd-04", address=ep.address),
        alarm=alarm,
    )

    async def wake(_a: Alert) -> None:
        sender.wake()

    desk.on_published(wake)
    task = asyncio.create_task(sender.run())
    rig = Rig(clock, store, desk, am, port, sender, alarms)
    try:
        yield rig
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await am.close()


async def test_a_60_s_outage_with_20_alerts_delivers_all_in_order_once(rig: Rig) -> None:
    await rig.raise_alert()
    await rig.until(lambda: len(rig.am.accepted) == 1)
    await rig.am.close()  # the alarm manager goes away for 60 s
    outage_start = rig.clock.monotonic()
    for _ in range(20):
        await rig.raise_alert()
        await drive(rig.clock, 3.0)
    assert rig.clock.monotonic() - outage_start == pytest.approx(60.0)
    assert len(rig.am.accepted) == 1
    assert rig.sender.health.state is EndpointState.RETRYING
    assert (await rig.store.outbox_depths())["am"].depth == 20
    assert rig.sender.health.depth == 20 and rig.sender.health.last_error  # shown at once
    await rig.am.serve("127.0.0.1", rig.port)
    await rig.until(lambda: len(rig.am.accepted) == 21)
    assert rig.am.accepted == rig.expected_ids  # all 21, in commit order
    assert rig.am.duplicates == 0
    assert [m.control_id for m in rig.am.received] == rig.expected_ids  # sent once each
    await rig.until(lambda: rig.sender.health.depth == 0)
    assert await rig.store.outbox_depths() == {}
    assert rig.sender.health.state is EndpointState.CONNECTED and rig.sender.health.sent == 21


async def test_ae_is_retried_with_backoff_and_logged(rig: Rig) -> None:
    rig.am.script.extend(["AE", "AE"])
    await rig.raise_alert()
    await rig.raise_alert()
    t0 = rig.clock.monotonic()
    await rig.until(lambda: len(rig.am.accepted) == 2)
    assert rig.am.accepted == rig.expected_ids
    assert [m.control_id for m in rig.am.received] == [rig.expected_ids[0]] * 3 + [
        rig.expected_ids[1]
    ]
    assert rig.clock.monotonic() - t0 >= 3.0  # backed off 1 s, then 2 s
    assert rig.sender.health.errors == 2 and "AE" in (rig.sender.health.last_error or "")


async def test_ar_stops_the_endpoint_with_a_technical_alert_and_keeps_the_message(
    rig: Rig,
) -> None:
    rig.am.script.append("AR")
    await rig.raise_alert()
    await rig.raise_alert()
    await rig.until(lambda: rig.sender.health.state is EndpointState.STOPPED)
    await drive(rig.clock, 30.0)
    assert [m.control_id for m in rig.am.received] == rig.expected_ids[:1]  # nothing after
    assert rig.alarms and rig.alarms[0][0] == "rejected"
    assert rig.expected_ids[0] in rig.alarms[0][1]
    queued = await rig.store.outbox_head("am")
    assert [r.item.control_id for r in queued] == rig.expected_ids  # never dropped


async def test_a_stalled_receiver_times_out_and_the_message_goes_again_once(rig: Rig) -> None:
    rig.am.stall = True
    await rig.raise_alert()
    await rig.until(lambda: len(rig.am.received) == 1)
    await drive(rig.clock, 6.0)  # past the 5 s acknowledgement timeout
    assert "TimeoutError" in (rig.sender.health.last_error or "") or rig.sender.health.errors
    rig.am.stall = False
    await rig.until(lambda: len(rig.am.accepted) == 1)
    assert rig.am.accepted == rig.expected_ids and rig.am.duplicates == 0


async def test_a_dropping_receiver_is_retried_until_it_answers(rig: Rig) -> None:
    rig.am.drop = True
    await rig.raise_alert()
    await rig.until(lambda: len(rig.am.received) >= 2)
    rig.am.drop = False
    await rig.until(lambda: len(rig.am.accepted) == 1)
    assert rig.am.accepted == rig.expected_ids


async def test_ora_r41_replies_are_accepted(rig: Rig) -> None:
    rig.am.reply = "ora"
    for _ in range(3):
        await rig.raise_alert()
    await rig.until(lambda: len(rig.am.accepted) == 3)
    await rig.until(lambda: rig.sender.health.sent == 3)
    assert await rig.store.outbox_depths() == {}


@pytest.mark.parametrize("endpoint_options", [{"backlog_alert": 5}])
async def test_a_backlog_raises_a_technical_alert_ended_once_drained(rig: Rig) -> None:
    await rig.am.close()
    for _ in range(5):
        await rig.raise_alert()
        await drive(rig.clock, 1.0)
    await rig.until(lambda: bool(rig.alarms))
    assert rig.alarms[0][0] == "backlog" and "5 messages waiting" in rig.alarms[0][1]
    await rig.am.serve("127.0.0.1", rig.port)
    await rig.until(lambda: len(rig.alarms) == 2)
    assert rig.alarms[1] == ("backlog", "")  # ended once half drained
    await rig.until(lambda: len(rig.am.accepted) == 5)
    assert rig.am.accepted == rig.expected_ids
    assert rig.clock.now() > T0 + timedelta(seconds=5)


async def test_a_failing_database_is_waited_for_never_a_reason_to_stop(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the sender's first look at the empty outbox is over (it idles, waiting to be woken):
    # one still in flight on PostgreSQL could see the alert committed below and deliver it
    # without ever meeting the failure
    await rig.until(lambda: rig.clock.pending_sleepers > 0)
    real = rig.store.outbox_head
    failures = [OSError("database file unreachable")]

    async def flaky(endpoint: str, limit: int = 50) -> list[OutboxRow]:
        if failures:
            raise failures.pop()
        return await real(endpoint, limit)

    monkeypatch.setattr(rig.store, "outbox_head", flaky)
    await rig.raise_alert()
    await rig.until(lambda: len(rig.am.accepted) == 1)
    assert not failures and rig.am.accepted == rig.expected_ids
    assert "database" in (rig.sender.health.last_error or "")
