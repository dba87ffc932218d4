"""The webhook sender against the webhook-sink simulator: signed JSON in order, retried on
5xx with backoff, stopped (never dropped) on a 4xx (virtual time, real sockets)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from factories import make_alert
from realtime import drive_until

from app.alert_desk import AlertDesk
from app.outbound.config import EndpointConfig, Kind
from app.outbound.health import EndpointHealth, EndpointState
from app.outbound.messages import alert_items
from app.outbound.sender import EndpointSender
from app.outbound.transports import WebhookTransport
from app.store import Store
from core.clock import VirtualClock
from core.model import Alert
from core.records import alert_record
from simulators.webhook_sink import WebhookSink


@pytest.fixture
async def sink(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[WebhookSink]:
    monkeypatch.setenv("IAEW_TEST_HOOK_KEY", "s3cret")
    s = WebhookSink(b"s3cret")
    await s.serve()
    yield s
    await s.close()


async def _run(
    store: Store, clock: VirtualClock, sink: WebhookSink, n: int, *, secret_env: str
) -> tuple[list[Alert], EndpointSender, list[str], asyncio.Task[None]]:
    assert sink._server is not None
    port = sink._server.sockets[0].getsockname()[1]
    ep = EndpointConfig(
        name="pager",
        kind=Kind.WEBHOOK,
        address=f"http://127.0.0.1:{port}/hook",
        line=1,
        secret_env=secret_env,
        retry_initial=1.0,
        retry_max=4.0,
    )
    store.route_alerts_to_outbox(lambda a, p: alert_items(a, p, (ep,)))
    rules: list[str] = []

    async def alarm(rule: str, message: str, evidence: dict[str, object]) -> None:
        rules.append(rule)

    sender = EndpointSender(
        ep,
        store=store,
        clock=clock,
        transport=WebhookTransport(ep, clock),
        health=EndpointHealth(name="pager", kind="webhook", address=ep.address),
        alarm=alarm,
    )
    desk = AlertDesk(store)
    committed = [await desk.commit(make_alert(i)) for i in range(1, n + 1)]
    return committed, sender, rules, asyncio.create_task(sender.run())


async def test_signed_alerts_arrive_in_order_and_a_503_is_retried(
    store: Store, clock: VirtualClock, sink: WebhookSink
) -> None:
    sink.status = 503
    committed, sender, _, task = await _run(store, clock, sink, 3, secret_env="IAEW_TEST_HOOK_KEY")
    try:
        await drive_until(clock, lambda: sender.health.errors >= 2, 60)
        assert sink.received == [] and "HTTP 503" in (sender.health.last_error or "")
        sink.status = 200
        await drive_until(clock, lambda: len(sink.received) == 3, 60)
        assert sink.received == [alert_record(a) for a in committed]
        assert sink.keys == [f"A{a.seq}" for a in committed] and sink.duplicates == 0
        assert sink.bad_signatures == 0
        await drive_until(clock, lambda: sender.health.depth == 0, 60)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_wrong_key_is_refused_and_stops_the_endpoint_keeping_the_queue(
    store: Store, clock: VirtualClock, sink: WebhookSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IAEW_TEST_WRONG_KEY", "not-it")
    _, sender, rules, task = await _run(store, clock, sink, 2, secret_env="IAEW_TEST_WRONG_KEY")
    try:
        await drive_until(clock, lambda: sender.health.state is EndpointState.STOPPED, 60)
        assert sink.bad_signatures == 1 and sink.received == []
        assert rules == ["rejected"]
        assert len(await store.outbox_head("pager")) == 2
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
