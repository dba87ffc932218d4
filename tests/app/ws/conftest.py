"""Fixtures for the hub and the station websocket: a migrated SQLite file per test (copied
from a template built once), the real app served by uvicorn on 127.0.0.1, port 0."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import factories
import pytest
import uvicorn
from fastapi import FastAPI

from app.auth import issue_token
from app.context import AppContext
from app.main import create_app
from app.security import hash_password
from app.settings import Settings
from app.store import Store
from app.store.migrate import upgrade
from app.store.rows import Role
from core.model import Alert

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
BEDS = ("ICU-1", "ICU-2")


async def _build_template(url: str) -> None:
    await upgrade(url)
    store = await Store.open(url, require_migrated=True)
    try:
        await store.add_user("nina", Role.NURSE, hash_password("correct horse battery staple"))
        for bed in BEDS:
            await store.upsert_bed(bed)
    finally:
        await store.close()


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "iaewatch.db"
    asyncio.run(_build_template(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture
def db_url(template_db: Path, tmp_path: Path) -> str:
    path = tmp_path / "iaewatch.db"
    shutil.copy(template_db, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    s = await Store.open(db_url, require_migrated=True)
    yield s
    await s.close()


@pytest.fixture
def make_alert() -> Callable[..., Alert]:
    """An alert transition; keyword arguments override the defaults."""
    return factories.make_alert


@dataclass
class Server:
    app: FastAPI
    port: int

    @property
    def ctx(self) -> AppContext:
        ctx: AppContext = self.app.state.ctx
        return ctx

    def url(self, token: str | None = None, last_seq: int | str | None = None) -> str:
        query = []
        if token is not None:
            query.append(f"token={token}")
        if last_seq is not None:
            query.append(f"last_seq={last_seq}")
        return f"ws://127.0.0.1:{self.port}/ws/station" + ("?" + "&".join(query) if query else "")

    def token(self, username: str = "nina") -> str:
        token, _ = issue_token(self.ctx, username, Role.NURSE)
        return token


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(
        mode="test",
        database_url=db_url,
        secret_key="s" * 48,
        numerics_throttle_s=0.02,
        ws_heartbeat_s=30,
        ws_queue_size=64,  # small, for the slow-client test
        ws_send_timeout_s=2,
    )


@contextlib.asynccontextmanager
async def running_server(settings: Settings) -> AsyncIterator[Server]:
    """The real app for `settings`, served by uvicorn on 127.0.0.1 (port 0)."""
    app = create_app(settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    srv = uvicorn.Server(config)
    task = asyncio.create_task(srv.serve())
    while not srv.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = srv.servers[0].sockets[0].getsockname()[1]
    try:
        yield Server(app, port)
    finally:
        srv.should_exit = True
        await asyncio.wait_for(task, 10)


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[Server]:
    async with running_server(settings) as srv:
        yield srv


@pytest.fixture
def serve_with() -> Callable[[Settings], contextlib.AbstractAsyncContextManager[Server]]:
    """Serve the app with other settings than the `server` fixture's."""
    return running_server
