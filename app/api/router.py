"""Every REST router in one, with `/health`, `/ready` and `/metrics`."""

from __future__ import annotations

from fastapi import APIRouter

from app.api import alerts, audit, auth, beds, devices, health, patients, trial, users


def api_router() -> APIRouter:
    router = APIRouter()
    for module in (auth, beds, patients, trial, alerts, devices, users, audit, health):
        router.include_router(module.router)
    return router
