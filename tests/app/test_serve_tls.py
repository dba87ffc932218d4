"""`iaewatch serve` terminates TLS itself (docs/security.md): HTTPS with the given certificate,
no plain HTTP on that port; a missing or mismatched certificate is one line and exit 2."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from pki import make_certs
from realtime import free_port

from app.runner import SHUTDOWN_GRACE_S
from app.store.migrate import upgrade

SECRET = "x" * 48


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'tls.db'}"
    return {**os.environ, "IAEWATCH_SECRET_KEY": SECRET, "IAEWATCH_DATABASE_URL": url, **extra}


def _serve(tmp_path: Path, port: int, **extra: str) -> subprocess.Popen[bytes]:
    with (tmp_path / "serve.log").open("wb") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from app.cli import main; main()",
                "serve",
                "--port",
                f"{port}",
            ],
            stdout=log,
            stderr=log,
            cwd=tmp_path,
            env=_env(tmp_path, **extra),
        )


def test_serve_speaks_https_only(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    asyncio.run(upgrade(f"sqlite+aiosqlite:///{tmp_path / 'tls.db'}"))
    port = free_port()
    proc = _serve(
        tmp_path,
        port,
        IAEWATCH_TLS_CERTFILE=str(certs / "server.crt"),
        IAEWATCH_TLS_KEYFILE=str(certs / "server.key"),
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = requests.get(
                    f"https://127.0.0.1:{port}/health", verify=str(certs / "ca.crt"), timeout=2
                )
                break
            except requests.ConnectionError:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.2)
        assert r.status_code == 200 and r.json()["status"] == "ok"
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/health", timeout=2)
        # a stop (a restart's first half) is not held by a TLS peer gone without close_notify
        proc.terminate()
        started = time.monotonic()
        proc.wait(60)
        assert time.monotonic() - started < SHUTDOWN_GRACE_S + 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.mark.parametrize(
    ("cert", "key", "message"),
    [
        ("server.crt", None, "IAEWATCH_TLS_CERTFILE and IAEWATCH_TLS_KEYFILE go together"),
        ("missing.crt", "server.key", "cannot load the TLS certificate"),
        ("server.crt", "client.key", "cannot load the TLS certificate"),
    ],
)
def test_a_bad_certificate_is_one_line(
    tmp_path: Path, cert: str, key: str | None, message: str
) -> None:
    certs = make_certs(tmp_path)
    extra = {"IAEWATCH_TLS_CERTFILE": str(certs / cert)}
    if key is not None:
        extra["IAEWATCH_TLS_KEYFILE"] = str(certs / key)
    res = subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", "serve", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=_env(tmp_path, **extra),
        check=False,
    )
    assert res.returncode == 2
    assert message in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
