"""The app factory and the settings it is built from."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from app.context import AppContext
from app.main import STATION_DIR, create_app
from app.settings import Mode, Settings
from app.store import StoreNotMigrated
from core.errors import ConfigError

SECRET = "k" * 40


async def test_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    settings = Settings(mode="test", database_url=f"sqlite+aiosqlite:///{tmp_path}/new.db")
    app = create_app(settings)
    with pytest.raises(StoreNotMigrated):
        async with app.router.lifespan_context(app):
            pass


async def test_services_run_in_order_and_stop_in_reverse(settings: Settings) -> None:
    log: list[str] = []

    def service(name: str):  # type: ignore[no-untyped-def]
        @contextlib.asynccontextmanager
        async def run(ctx: AppContext) -> AsyncIterator[None]:
            assert ctx.store is not None and ctx.hub is not None
            log.append(f"start {name}")
            yield
            log.append(f"stop {name}")

        return run

    app = create_app(settings, services=[service("pipeline"), service("drivers")])
    async with app.router.lifespan_context(app):
        assert log == ["start pipeline", "start drivers"]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            assert (await c.get("/ready")).status_code == 200
    assert log == ["start pipeline", "start drivers", "stop drivers", "stop pipeline"]


async def test_mqtt_url_needs_a_bus(settings: Settings) -> None:
    with pytest.raises(ConfigError):
        create_app(settings.model_copy(update={"mqtt_url": "mqtt://broker:1883"}))


async def test_station_page_is_served(client: httpx.AsyncClient) -> None:
    r = await client.get("/")
    if (STATION_DIR / "index.html").is_file():
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
    else:
        assert r.status_code == 404
    scripts = sorted(STATION_DIR.glob("*.js")) if STATION_DIR.is_dir() else []
    if scripts:
        r = await client.get(f"/station/{scripts[0].name}")
        assert r.status_code == 200
        assert r.text == scripts[0].read_text()


def test_production_requires_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IAEWATCH_SECRET_KEY", raising=False)
    with pytest.raises(ValidationError, match="IAEWATCH_SECRET_KEY is required"):
        Settings(database_url="sqlite+aiosqlite:///x.db")
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(database_url="sqlite+aiosqlite:///x.db", secret_key="changethis")
    with pytest.raises(ValidationError, match="too short"):
        Settings(database_url="sqlite+aiosqlite:///x.db", secret_key="abc123")
    ok = Settings(database_url="sqlite+aiosqlite:///x.db", secret_key=SECRET)
    assert ok.secret == SECRET and not ok.secret_generated


def test_demo_generates_a_secret_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    s = Settings(mode="demo", database_url="sqlite+aiosqlite:///x.db")
    assert s.secret_generated
    assert len(s.secret) >= 32
    assert "generated a signing secret" in caplog.text


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IAEWATCH_SECRET_KEY", SECRET)
    monkeypatch.setenv("IAEWATCH_DATABASE_URL", "sqlite:///elsewhere.db")
    monkeypatch.setenv("IAEWATCH_NUMERICS_THROTTLE_S", "0.5")
    monkeypatch.setenv("IAEWATCH_MODE", "production")
    s = Settings()
    assert s.mode is Mode.PRODUCTION
    assert s.database_url == "sqlite+aiosqlite:///elsewhere.db"
    assert s.numerics_throttle_s == 0.5
    assert s.mqtt_url is None
    monkeypatch.setenv("IAEWATCH_NUMERICS_THROTTLE_S", "-1")
    with pytest.raises(ValidationError):
        Settings()
    monkeypatch.setenv("IAEWATCH_NUMERICS_THROTTLE_S", "1")
    monkeypatch.setenv("IAEWATCH_DATABASE_URL", "mysql://db/x")
    with pytest.raises(ValidationError, match="unsupported database URL"):
        Settings()


def test_default_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IAEWATCH_DATABASE_URL", raising=False)
    s = Settings(secret_key=SECRET)
    assert s.database_url == "sqlite+aiosqlite:///./var/iaewatch.db"


def test_no_mode_weakens_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    for mode in ("demo", "test", "production"):
        with pytest.raises(ValidationError, match="too short"):
            Settings(mode=mode, database_url="sqlite+aiosqlite:///x.db", secret_key="abc")


def test_test_mode_is_refused_outside_pytest(monkeypatch: pytest.MonkeyPatch) -> None:
    import app.settings as settings_module

    monkeypatch.setattr(settings_module, "_under_pytest", lambda: False)
    with pytest.raises(ValidationError, match="only for the test suite"):
        Settings(mode="test", database_url="sqlite+aiosqlite:///x.db", secret_key=SECRET)
