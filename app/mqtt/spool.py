"""The gateway's ordered store of messages not yet confirmed by the broker (SQLite).

Rows are keyed by the message's sequence number, so the spool replays in publish order and
survives a gateway restart (a file), or lasts the process (`path` None: in memory). When it
holds more than `limit` messages, the oldest observations are deleted and counted; events
and retained state are never deleted.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    seq INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    retain INTEGER NOT NULL,
    droppable INTEGER NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class Entry:
    """One MQTT publication waiting to be confirmed."""

    seq: int
    topic: str
    payload: bytes
    retain: bool = False
    droppable: bool = False
    """True for observations: the drop policy may delete them."""


class Spool:
    def __init__(self, path: Path | None, *, limit: int) -> None:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.limit = limit
        self.dropped = 0
        self._db = sqlite3.connect(str(path) if path is not None else ":memory:")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(SCHEMA)
        self._db.commit()
        row = self._db.execute("SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM spool").fetchone()
        self.count: int = row[0]
        self.last_seq: int = row[1]
        """The highest sequence number held at opening (new messages number after it)."""

    def put(self, entries: list[Entry]) -> None:
        """Add `entries` (any order; they replay by seq), then apply the size cap."""
        if not entries:
            return
        with self._db:
            cur = self._db.executemany(
                "INSERT OR IGNORE INTO spool VALUES (?, ?, ?, ?, ?)",
                [(e.seq, e.topic, e.payload, e.retain, e.droppable) for e in entries],
            )
        self.count += cur.rowcount
        if self.count > self.limit:
            self._drop(self.count - self.limit)

    def head(self, n: int) -> list[Entry]:
        rows = self._db.execute(
            "SELECT seq, topic, payload, retain, droppable FROM spool ORDER BY seq LIMIT ?", (n,)
        ).fetchall()
        return [Entry(r[0], r[1], bytes(r[2]), bool(r[3]), bool(r[4])) for r in rows]

    def remove(self, entries: list[Entry]) -> None:
        with self._db:
            cur = self._db.executemany(
                "DELETE FROM spool WHERE seq = ?", [(e.seq,) for e in entries]
            )
        self.count -= cur.rowcount

    def close(self) -> None:
        self._db.close()

    def _drop(self, n: int) -> None:
        with self._db:
            cur = self._db.execute(
                "DELETE FROM spool WHERE seq IN "
                "(SELECT seq FROM spool WHERE droppable ORDER BY seq LIMIT ?)",
                (n,),
            )
        self.count -= cur.rowcount
        self.dropped += cur.rowcount
