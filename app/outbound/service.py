"""The outbound service: route every alert transition into the outbox, run one sender per
endpoint, and queue each bed's numerics for PCD-01 endpoints every `interval` seconds.

It starts before the pipeline (so no transition is committed without its messages) and
stops after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import timedelta

from app.alert_desk import technical_alert
from app.context import AppContext
from app.outbound.config import EndpointConfig, Kind
from app.outbound.health import EndpointHealth
from app.outbound.messages import alert_items, endpoint_rule, numerics_item
from app.outbound.sender import Alarm, EndpointSender
from app.outbound.transports import MllpTransport, Transport, WebhookTransport
from core.clock import Clock
from core.errors import UnitError
from core.model import Alert, AlertState, Observation, Phase, Priority, ValueStatus
from core.params import parameter
from core.units import to_canonical

log = logging.getLogger(__name__)

NAMESPACE = uuid.UUID("3f0b7a52-5d0e-4c8e-9a57-1f6f3c0a9e18")
"""uuid5 namespace of the technical alerts the outbound senders raise."""


def outbound_service(
    endpoints: tuple[EndpointConfig, ...],
) -> Callable[[AppContext], contextlib.AbstractAsyncContextManager[list[EndpointSender]]]:
    """The service for the ICU file's `outbound:` endpoints."""

    @contextlib.asynccontextmanager
    async def run(ctx: AppContext) -> AsyncIterator[list[EndpointSender]]:
        senders = [_sender(ep, ctx) for ep in endpoints]
        ctx.store.route_alerts_to_outbox(lambda a, patient: alert_items(a, patient, endpoints))

        async def wake(_alert: Alert) -> None:
            for s in senders:
                s.wake()

        ctx.alerts.on_published(wake)
        tasks = [asyncio.create_task(s.run(), name=f"outbound {s.ep.name}") for s in senders]
        tasks += [
            asyncio.create_task(_numerics(s, ctx), name=f"outbound {s.ep.name} numerics")
            for s in senders
            if s.ep.kind is Kind.PCD_01
        ]
        try:
            yield senders
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            ctx.store.route_alerts_to_outbox(None)

    return run


def _transport(ep: EndpointConfig, clock: Clock) -> Transport:
    if ep.kind is Kind.WEBHOOK:
        return WebhookTransport(ep, clock)
    return MllpTransport(ep, clock)


def _sender(ep: EndpointConfig, ctx: AppContext) -> EndpointSender:
    health = EndpointHealth(name=ep.name, kind=ep.kind.value, address=ep.address)
    ctx.outbound.add(health)
    return EndpointSender(
        ep,
        store=ctx.store,
        clock=ctx.clock,
        transport=_transport(ep, ctx.clock),
        health=health,
        alarm=_alarm(ep, ctx),
    )


def _alarm(ep: EndpointConfig, ctx: AppContext) -> Alarm:
    """Raise a technical alert at every bed (the endpoint serves them all); '' ends it."""
    open_alerts: dict[tuple[str, str], Alert] = {}

    async def alarm(rule: str, message: str, evidence: dict[str, object]) -> None:
        now = ctx.clock.now()
        for row in await ctx.store.list_beds():
            key = (rule, row.bed)
            if message:
                alert = technical_alert(
                    NAMESPACE,
                    bed=row.bed,
                    rule=endpoint_rule(rule, ep.name),
                    priority=Priority.HIGH,
                    onset=now,
                    t=now,
                    message=message,
                    evidence=dict(evidence),
                )
                open_alerts[key] = await ctx.alerts.commit(alert)
            elif key in open_alerts:
                started = open_alerts.pop(key)
                await ctx.alerts.commit(
                    replace(
                        started,
                        phase=Phase.END,
                        state=AlertState.RESOLVED,
                        t=max(now, started.onset),
                        ended_at=max(now, started.onset),
                        message=f"Outbound endpoint {ep.name} caught up",
                        evidence=dict(evidence),
                        seq=None,
                    )
                )

    return alarm


def _canonical(o: Observation, weight_kg: float) -> float | None:
    """`o`'s value in its parameter's canonical unit (what PCD-01 labels it with); None when
    it has no value, is not in the vocabulary, or its unit does not convert."""
    if o.value is None or parameter(o.code) is None:
        return None
    try:
        return to_canonical(o.code, o.value, o.unit, weight_kg=weight_kg)
    except UnitError:
        return None


async def _numerics(sender: EndpointSender, ctx: AppContext) -> None:
    """Every `interval` s, each bed's latest valid numerics (of that interval) as PCD-01;
    a bed with no patient enrolled has nobody to chart for and sends none."""
    ep = sender.ep
    while True:
        await ctx.clock.sleep(ep.interval)
        now = ctx.clock.now()
        fresh_from = now - timedelta(seconds=ep.interval)
        items = []
        for row in await ctx.store.list_beds():
            if row.patient is None:
                continue
            latest = await ctx.views.latest(row.bed)
            weight = row.patient.weight_kg
            values = {
                code: value
                for code, o in latest.items()
                if o.status is ValueStatus.VALID and o.t >= fresh_from
                if (value := _canonical(o, weight)) is not None
            }
            if values:
                items.append(numerics_item(ep, row.bed, row.patient.study_id, values, now))
        if await ctx.store.enqueue(items):
            sender.wake()
