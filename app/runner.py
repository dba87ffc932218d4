"""Build and run the whole service: settings + ICU config → app with pipeline and drivers."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from app.alert_follow import alert_follow_service
from app.config import IcuConfig
from app.context import AppContext
from app.devices import devices_service
from app.live.presence import presence_service
from app.main import Service, create_app
from app.mqtt import MqttBus, station_client_id
from app.outbound.service import outbound_service
from app.pipeline import pipeline_service
from app.product_check import product_guard_service
from app.retention import storage_service
from app.runtime_tuning import runtime_tuning_service
from app.sae_clock import sae_clock_service
from app.settings import Settings
from app.storage_config import StorageConfig
from app.watchdog import watched
from core.bus import Bus
from core.clock import Clock


def build_service(
    settings: Settings,
    config: IcuConfig | None,
    *,
    rules: str | Path | None = None,
    clock: Clock | None = None,
    bus: Bus | None = None,
    extra: Sequence[Service] = (),
    after_pipeline: Sequence[Service] = (),
) -> FastAPI:
    """The service app: the pipeline (with its watchdog) first, so no device message is
    missed, then drivers.

    `extra` services start before the pipeline, `after_pipeline` ones between it and the
    drivers (the demo's simulators, which feed history through the pipeline).
    """
    services: list[Service] = [alert_follow_service(), *extra]
    if config is not None and config.outbound:  # before the pipeline: no alert without its messages
        services.append(outbound_service(config.outbound))
    mqtt: MqttBus | None = None
    if bus is None and settings.mqtt_url:
        mqtt = MqttBus(
            settings.mqtt_url,
            prefix=settings.mqtt_prefix,
            client_id=settings.mqtt_client_id or station_client_id(),
            spool=settings.mqtt_spool_dir / "station.sqlite" if settings.mqtt_spool_dir else None,
        )
        bus = mqtt
    storage = config.storage if config is not None else StorageConfig()
    services += [
        watched(pipeline_service(rules)),
        storage_service(storage),
        sae_clock_service,
        product_guard_service,
        runtime_tuning_service,
        *after_pipeline,
    ]
    if mqtt is not None:  # after the pipeline: it stops taking messages in before the pipeline
        services.append(mqtt_service(mqtt))
    if config is not None:
        services += [devices_service(config), presence_service()]
    app = create_app(settings, clock=clock, bus=bus, services=services)
    if config is not None:
        app.state.site = config.site  # the station page and reports show the site's time zone
    return app


def mqtt_service(
    bus: MqttBus,
) -> Callable[[AppContext], contextlib.AbstractAsyncContextManager[MqttBus]]:
    """Connect the MQTT bus for the app's lifetime (messages wait while the broker is away)."""

    @contextlib.asynccontextmanager
    async def run(ctx: AppContext) -> AsyncIterator[MqttBus]:
        await bus.start()
        if not bus.connected:
            logging.getLogger(__name__).error(
                "MQTT broker %s:%d not reachable yet; retrying in the background",
                bus.host,
                bus.port,
            )
        try:
            yield bus
        finally:
            await bus.close()

    return run


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    logging.getLogger("pymodbus.logging").setLevel(logging.CRITICAL)


SHUTDOWN_GRACE_S = 3
"""How long a stop waits for open connections and requests before it cancels them."""


def uvicorn_server(app: FastAPI, host: str, port: int, **kw: Any) -> uvicorn.Server:
    return uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            ws_ping_interval=20,
            ws_ping_timeout=20,
            # compressing each station message once per client cost more CPU than any other
            # part of the fan-out (bench_station_scale, py-spy); station links are LANs
            ws_per_message_deflate=False,
            # a TLS peer gone without its close_notify held every stop (and so every restart,
            # with the station blind) for asyncio's 30 s SSL shutdown timeout
            timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
            lifespan="on",
            **kw,
        )
    )
