"""Every route that changes something names the roles that may call it: a `require(...)`
dependency (403 for the others), or, for an acknowledgement, the check by alert category."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

PUBLIC = {("POST", "/api/auth/login")}
ANY_SIGNED_IN = {("POST", "/api/auth/refresh")}  # a user renews their own session
CHECKED_IN_BODY = {("POST", "/api/alerts/{alert_id}/ack")}  # may_acknowledge(role, category)


def _calls(dependant: Any) -> Iterator[Any]:
    for dep in dependant.dependencies:
        yield dep.call
        yield from _calls(dep)


def _routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, also inside included routers (FastAPI keeps those as one entry)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes)
        elif isinstance(route, APIRoute):
            yield route


def test_every_write_route_is_role_checked(app: FastAPI) -> None:
    unchecked, checked = [], 0
    for route in _routes(app.routes):
        if not route.path.startswith("/api"):
            continue
        for method in route.methods - {"GET", "HEAD"}:
            key = (method, route.path)
            if key in PUBLIC | ANY_SIGNED_IN | CHECKED_IN_BODY:
                continue
            names = {getattr(c, "__qualname__", "") for c in _calls(route.dependant)}
            if "require.<locals>.check" not in names:
                unchecked.append(key)
            checked += 1
    assert unchecked == []
    assert checked >= 15  # adjudication, AEs, product, enrolment facts, gases, users, ...
