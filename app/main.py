"""The app factory: `create_app(settings)` builds one FastAPI service, nothing at import.

The lifespan opens the store (refusing a database that is not migrated to head), builds the
hub and the `AppContext` (`app.state.ctx`), then enters each service (the pipeline, the
device drivers: async context managers taking the context) in order, and leaves them in
reverse on shutdown.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles

from app.alert_desk import AlertDesk
from app.api.dataset import router as dataset_router
from app.api.router import api_router
from app.api_docs import mount_docs
from app.context import AppContext
from app.headers import SecurityHeaders
from app.live.registry import DeviceRegistry
from app.live.views import Views
from app.login_guard import LoginGuard
from app.metrics import AppMetrics, IngestCounters
from app.openapi_errors import document_error_details
from app.settings import Settings
from app.store import Store, StoreNotMigrated
from app.store.url import safe_url
from app.validation import validation_error
from app.ws.endpoint import router as ws_router
from app.ws.hub import Hub
from core.bus import Bus, InProcessBus
from core.clock import Clock, RealClock
from core.errors import ConfigError

log = logging.getLogger(__name__)

STATION_DIR = Path(__file__).parent / "station"

Service = Callable[[AppContext], contextlib.AbstractAsyncContextManager[Any]]
"""A part of the service that runs for the app's lifetime (pipeline, drivers)."""


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    bus: Bus | None = None,
    services: Sequence[Service] = (),
    devices: DeviceRegistry | None = None,
) -> FastAPI:
    """A FastAPI app for `settings`; `bus` is required when `settings.mqtt_url` is set."""
    if bus is None and settings.mqtt_url:
        raise ConfigError(
            "IAEWATCH_MQTT_URL is set but no MQTT bus was given to create_app", field="mqtt_url"
        )
    clock = clock or RealClock()
    registry = devices if devices is not None else DeviceRegistry()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            store = await Store.open(settings.database_url, require_migrated=True, clock=clock)
        except StoreNotMigrated as exc:
            log.error(
                "refusing to start: %s (%s); run `iaewatch db upgrade` first",
                exc,
                safe_url(settings.database_url),
            )
            raise
        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_callback(store.close)
            own_bus = bus is None
            the_bus: Bus = InProcessBus() if bus is None else bus
            if own_bus:
                stack.push_async_callback(the_bus.close)
            views = Views(store, registry, clock)
            desk = AlertDesk(store)
            hub = Hub(
                store=store,
                views=views,
                clock=clock,
                cut_lock=desk.lock,
                queue_size=settings.ws_queue_size,
                heartbeat_s=settings.ws_heartbeat_s,
                numerics_throttle_s=settings.numerics_throttle_s,
                send_timeout_s=settings.ws_send_timeout_s,
            )
            ctx = AppContext(
                settings=settings,
                clock=clock,
                bus=the_bus,
                store=store,
                alerts=desk,
                hub=hub,
                views=views,
                devices=registry,
                metrics=IngestCounters(),
            )
            app.state.ctx = ctx
            app.state.metrics = AppMetrics(hub, registry, ctx.metrics, ctx.outbound, bus=the_bus)
            desk.on_published(hub.publish_alert)
            await desk.start()
            await hub.start()
            stack.push_async_callback(hub.stop)
            for service in services:
                await stack.enter_async_context(service(ctx))
            log.info("iaewatch ready (database %s)", safe_url(settings.database_url))
            yield

    app = FastAPI(
        title="iaewatch",
        summary="Bedside infusion-associated-event monitoring",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # app.api_docs serves /docs and /redoc from local assets
        redoc_url=None,
    )
    app.state.login_guard = LoginGuard(clock)
    app.add_exception_handler(RequestValidationError, validation_error)
    document_error_details(app)
    app.add_middleware(SecurityHeaders)
    app.include_router(api_router())
    app.include_router(dataset_router)
    app.include_router(ws_router)
    _mount_station(app)
    mount_docs(app)
    return app


def _mount_station(app: FastAPI) -> None:
    """The station page: `/` is its index.html, `/station/...` its files."""

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        page = STATION_DIR / "index.html"
        if not page.is_file():
            return PlainTextResponse("the station page is not installed", status_code=404)
        return FileResponse(page)

    if STATION_DIR.is_dir():
        app.mount("/station", StaticFiles(directory=STATION_DIR, html=True), name="station")
