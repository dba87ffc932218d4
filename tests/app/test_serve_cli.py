"""`iaewatch serve` refuses to start, with one clear line and exit 2, on what users get wrong."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SECRET = "x" * 48


def serve(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
        env={**os.environ, "IAEWATCH_SECRET_KEY": SECRET, **env},
    )


def test_unmigrated_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    res = serve(tmp_path, IAEWATCH_DATABASE_URL=url)
    assert res.returncode == 2
    assert "run `iaewatch db upgrade`" in res.stderr
    assert "Traceback" not in res.stderr


def test_invalid_config_names_file_line_field(tmp_path: Path) -> None:
    bad = tmp_path / "icu.yaml"
    bad.write_text(
        "beds:\n  - bed: ICU-1\n    devices:\n      - {id: m, kind: monitor, "
        "protocol: intellivue, address: 'ttyS0'}\n"
    )
    res = serve(tmp_path, "--config", str(bad))
    assert res.returncode == 2
    assert f"error: {bad}:4: beds[0].devices[0].address:" in res.stderr
    assert "Traceback" not in res.stderr


def test_missing_secret_in_production(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "IAEWATCH_SECRET_KEY"}
    res = subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert res.returncode == 2
    assert "IAEWATCH_SECRET_KEY is required" in res.stderr
    assert "Traceback" not in res.stderr
