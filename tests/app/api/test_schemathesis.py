"""Schemathesis (its command line, as CI runs it) against the service's own OpenAPI document,
bounded: every operation gets `EXAMPLES` generated requests as an admin, on a real uvicorn
server with its own SQLite file. Verdicts: no 5xx, every status a response has is documented
for its operation (`app.openapi_errors`), and every response matches its documented schema
and content type. Run more with IAEWATCH_SCHEMATHESIS_EXAMPLES=200."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import uvicorn
from realtime import free_port

from app.main import create_app
from app.security import hash_password
from app.settings import Settings
from app.store import Store
from app.store.migrate import upgrade
from app.store.rows import Role

EXAMPLES = int(os.environ.get("IAEWATCH_SCHEMATHESIS_EXAMPLES", "15"))
PASSWORD = "correct horse battery staple"


async def _database(url: str) -> None:
    await upgrade(url)
    store = await Store.open(url, require_migrated=True)
    try:
        await store.add_user("ada", Role.ADMIN, hash_password(PASSWORD))
        for bed in ("ICU-1", "ICU-2"):
            await store.upsert_bed(bed, label=bed)
    finally:
        await store.close()


@pytest.fixture
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    db = Path(tmp_path_factory.mktemp("schemathesis")) / "api.db"
    url = f"sqlite+aiosqlite:///{db}"
    asyncio.run(_database(url))
    app = create_app(Settings(mode="test", database_url=url, secret_key="s" * 48))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the service did not start"
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    token = requests.post(
        f"{base}/api/auth/login", json={"username": "ada", "password": PASSWORD}, timeout=10
    ).json()["access_token"]
    try:
        yield base, {"Authorization": f"Bearer {token}"}
    finally:
        server.should_exit = True
        thread.join(10)


CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "response_schema_conformance",
        "content_type_conformance",
    )
)


@pytest.mark.timeout(1800)
def test_api_never_fails_and_matches_its_schema(
    live: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    base, auth = live
    st = Path(sys.executable).with_name("st")
    run = subprocess.run(
        [
            str(st),
            "run",
            f"{base}/openapi.json",
            "--checks",
            CHECKS,
            "--header",
            f"Authorization:{auth['Authorization']}",
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            "20",
            "--generation-deterministic",
            # wrong passwords by the hundred would lock the account the run signs in with
            "--exclude-path",
            "/api/auth/login",
            "--request-timeout",
            "30",
        ],
        capture_output=True,
        text=True,
        timeout=1800,
        cwd=tmp_path,  # its .schemathesis cache stays out of the checkout
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
