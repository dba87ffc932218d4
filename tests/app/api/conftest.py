"""Fixtures for the REST API: the real app on its own migrated SQLite file, lifespan run.

The migrated database (with one user per role) is built once per session and copied for each
test, so every test has its own database without paying for migrations and argon2 each time.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import factories
import httpx
import pytest
from fastapi import FastAPI

from app.auth import issue_token
from app.context import AppContext
from app.live.registry import DeviceInfo, DeviceRegistry
from app.main import create_app
from app.security import hash_password
from app.settings import Settings
from app.store import Store
from app.store.migrate import upgrade
from app.store.rows import Role
from core.bus import InProcessBus, Subscription
from core.clock import VirtualClock
from core.model import Alert
from drivers.base import ConnectionState, DeviceStatus

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
USERS = {"nina": Role.NURSE, "eric": Role.ENGINEER, "ada": Role.ADMIN}


async def _build_template(url: str) -> None:
    await upgrade(url)
    store = await Store.open(url, require_migrated=True)
    try:
        for name, role in USERS.items():
            await store.add_user(name, role, hash_password(PASSWORD))
        for bed in ("ICU-1", "ICU-2", "ICU-3"):
            await store.upsert_bed(bed, label=f"Bed {bed[-1]}")
    finally:
        await store.close()


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "iaewatch.db"
    asyncio.run(_build_template(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture
def db_url(template_db: Path, tmp_path: Path) -> Iterator[str]:
    path = tmp_path / "iaewatch.db"
    shutil.copy(template_db, path)
    yield f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(
        mode="test",
        database_url=db_url,
        secret_key="s" * 48,
        token_ttl_s=3600,
        numerics_throttle_s=0.05,
        ws_heartbeat_s=30,
    )


@pytest.fixture
def registry() -> DeviceRegistry:
    devices = DeviceRegistry()
    status = DeviceStatus(state=ConnectionState.CONNECTED, since=T0, frames=120, bad_frames=2)
    status.identification["model"] = "Fusion 4000"
    devices.register("ICU-1", "pump", DeviceInfo("pump", "modbus", "socket://10.0.0.5:502", status))
    devices.register(
        "ICU-1", "vent", DeviceInfo("ventilator", "medibus", "/dev/ttyUSB0", DeviceStatus())
    )
    return devices


@pytest.fixture
def bus() -> InProcessBus:
    return InProcessBus()


@pytest.fixture
async def app(
    settings: Settings, vclock: VirtualClock, bus: InProcessBus, registry: DeviceRegistry
) -> AsyncIterator[FastAPI]:
    application = create_app(settings, clock=vclock, bus=bus, devices=registry)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def ctx(app: FastAPI) -> AppContext:
    context: AppContext = app.state.ctx
    return context


@pytest.fixture
def events(bus: InProcessBus) -> Subscription:
    return bus.subscribe()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://iaewatch.test") as c:
        yield c


def _headers(ctx: AppContext, username: str) -> dict[str, str]:
    token, _ = issue_token(ctx, username, USERS[username])
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def nurse(ctx: AppContext) -> dict[str, str]:
    return _headers(ctx, "nina")


@pytest.fixture
def engineer(ctx: AppContext) -> dict[str, str]:
    return _headers(ctx, "eric")


@pytest.fixture
def admin(ctx: AppContext) -> dict[str, str]:
    return _headers(ctx, "ada")


@pytest.fixture
def make_alert() -> Callable[..., Alert]:
    """An alert transition; keyword arguments override the defaults."""
    return factories.make_alert
