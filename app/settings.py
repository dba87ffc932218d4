"""The service's settings: one pydantic-settings class, read from `IAEWATCH_*` variables.

Nothing here is built at import: `Settings()` is created by whoever starts the service (the
CLI, a test) and handed to `app.main.create_app`. The signing secret has no usable default in
production; `demo` and `test` modes may generate a random one (and say so), since their tokens
need not survive a restart. A secret that is given must be long and not a placeholder in every
mode, and `test` mode is refused outside a pytest run, so no mode variable weakens the check.
"""

from __future__ import annotations

import logging
import os
import secrets
import ssl
import sys
from enum import StrEnum
from pathlib import Path

from pydantic import (
    Field,
    PositiveFloat,
    PositiveInt,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.store.errors import StoreUnavailable
from app.store.url import async_url, database_url

log = logging.getLogger(__name__)

MIN_SECRET_LENGTH = 32
_PLACEHOLDERS = frozenset(
    {"changethis", "changeme", "change-me", "secret", "password", "iaewatch", "test", "demo"}
)


class Mode(StrEnum):
    PRODUCTION = "production"
    DEMO = "demo"
    TEST = "test"


def _default_database_url() -> str:
    return database_url(None)


class Settings(BaseSettings):
    """Everything the service reads from its environment (prefix `IAEWATCH_`)."""

    model_config = SettingsConfigDict(env_prefix="IAEWATCH_", extra="ignore")

    mode: Mode = Mode.PRODUCTION
    database_url: str = Field(default_factory=_default_database_url)
    mqtt_url: str | None = None
    """None: the in-process bus."""
    mqtt_prefix: str = "iaewatch"
    mqtt_client_id: str | None = None
    """The station's persistent MQTT session; None: `iaewatch-station-<host name>`."""
    mqtt_spool_dir: Path | None = None
    """Where unconfirmed outgoing MQTT messages are spooled; None: in memory."""
    secret_key: SecretStr | None = None
    """HS256 signing key for access tokens; required (≥ 32 characters) in production."""
    token_ttl_s: PositiveInt = 12 * 3600
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    config_file: Path | None = None
    numerics_throttle_s: PositiveFloat = 1.0
    ws_queue_size: int = Field(default=512, ge=8)
    ws_heartbeat_s: PositiveFloat = 10.0
    ws_send_timeout_s: PositiveFloat = 10.0
    escalate_after_s: PositiveFloat = 120.0
    watchdog_stall_s: PositiveFloat = 30.0
    """A bed with a connected device whose messages the pipeline has not processed for this
    long gets a technical alert from `app.watchdog` (a stuck task, a dead loop)."""
    product_min_viability_pct: float = Field(default=70.0, ge=0, le=100)
    """The cell product's minimum viability for the checklist (`monitors.trial.product`)."""
    tls_certfile: Path | None = None
    """`serve` terminates TLS itself with this certificate (PEM) and `tls_keyfile`; None:
    plain HTTP, for a reverse proxy in front (docs/security.md)."""
    tls_keyfile: Path | None = None
    metrics_token: SecretStr | None = None
    """A bearer token Prometheus may scrape `/metrics` with (an engineer's or admin's access
    token works too); None: only signed-in engineers and admins."""
    _secret_generated: bool = PrivateAttr(default=False)

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, url: str) -> str:
        try:
            return async_url(url)
        except StoreUnavailable as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _check_secret(self) -> Settings:
        if self.mode is Mode.TEST and not _under_pytest():
            raise ValueError("IAEWATCH_MODE=test is only for the test suite (run by pytest)")
        key = self.secret_key.get_secret_value() if self.secret_key is not None else ""
        if not key:
            if self.mode is Mode.PRODUCTION:
                raise ValueError(
                    "IAEWATCH_SECRET_KEY is required: set it to a random string of at least "
                    f"{MIN_SECRET_LENGTH} characters (python -c 'import secrets; "
                    "print(secrets.token_urlsafe(48))')"
                )
            self.secret_key = SecretStr(secrets.token_urlsafe(48))
            self._secret_generated = True
            log.warning(
                "%s mode: generated a signing secret for this run; tokens will not survive a "
                "restart (set IAEWATCH_SECRET_KEY to keep them)",
                self.mode.value,
            )
            return self
        if key.strip().lower() in _PLACEHOLDERS:
            raise ValueError("IAEWATCH_SECRET_KEY is a placeholder; set a random secret")
        if len(key) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"IAEWATCH_SECRET_KEY is too short ({len(key)} characters); "
                f"use at least {MIN_SECRET_LENGTH}"
            )
        return self

    @model_validator(mode="after")
    def _check_tls(self) -> Settings:
        """The certificate and its key come together and load, or `serve` would die in
        uvicorn with a traceback."""
        cert, key = self.tls_certfile, self.tls_keyfile
        if cert is None and key is None:
            return self
        if cert is None or key is None:
            raise ValueError("IAEWATCH_TLS_CERTFILE and IAEWATCH_TLS_KEYFILE go together")
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(
                f"cannot load the TLS certificate {cert} with key {key}: {exc}"
            ) from None
        return self

    @property
    def secret_generated(self) -> bool:
        """True when the secret was generated for this run (demo/test only)."""
        return self._secret_generated

    @property
    def secret(self) -> str:
        """The signing key (always set once validated)."""
        assert self.secret_key is not None
        return self.secret_key.get_secret_value()


def _under_pytest() -> bool:
    """Whether this process is pytest, or was started by a test it runs."""
    return "pytest" in sys.modules or "PYTEST_CURRENT_TEST" in os.environ
