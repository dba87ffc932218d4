"""Every REST router in one, with `/health`, `/ready` and `/metrics`."""

from __future__ import annotations

from fastapi import APIRouter

from app.api import (
    adjudication,
    adverse_events,
    alerts,
    audit,
    auth,
    beds,
    devices,
    enrolment,
    health,
    outbound,
    patients,
    product,
    site,
    trial,
    users,
)


def api_router() -> APIRouter:
    router = APIRouter()
    for module in (
        auth,
        beds,
        patients,
        trial,
        enrolment,
        adjudication,
        adverse_events,
        product,
        alerts,
        devices,
        outbound,
        users,
        audit,
        health,
        site,
    ):
        router.include_router(module.router)
    return router
