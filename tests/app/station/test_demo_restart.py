"""`iaewatch demo` restarted: the previous run's database is kept aside (new patients start
cleanly on an empty one) instead of replaying the scenarios onto the same patients."""

from __future__ import annotations

from pathlib import Path

from app.commands.demo import keep_previous_run


def test_a_previous_demo_database_is_kept_aside_with_its_side_files(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    assert keep_previous_run(db) is None  # first run: nothing to keep
    db.write_bytes(b"first run")
    (tmp_path / "demo.db-wal").write_bytes(b"wal")
    kept = keep_previous_run(db)
    assert kept is not None and kept.parent == tmp_path
    assert kept.name.startswith("demo-") and kept.suffix == ".db"
    assert not db.exists() and kept.read_bytes() == b"first run"
    assert (tmp_path / f"{kept.name}-wal").read_bytes() == b"wal"
    db.write_bytes(b"second run")  # same second: a distinct name, nothing overwritten
    again = keep_previous_run(db)
    assert again is not None and again != kept and again.read_bytes() == b"second run"
    assert kept.read_bytes() == b"first run"
