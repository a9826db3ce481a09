"""The gateway's store read from outside, read-only, while the gateway runs, dies and restarts.

SQLite in WAL mode lets a reader look at committed data without blocking the writer
(https://sqlite.org/wal.html). Every connection here is opened ``mode=ro`` and only used for
SELECTs; one per thread, as sqlite3 connections are not shared between threads.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

UNDELIVERED = ("held", "pending", "inflight")


class GatewayDb:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def query(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        """Rows of a SELECT; a store busy for a moment (a checkpoint, a restart) is asked again."""
        for attempt in range(20):
            try:
                return self._conn().execute(sql, args).fetchall()
            except sqlite3.OperationalError:
                if attempt == 19:
                    raise
                time.sleep(0.05)
        return []

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()

    # -- what the harness asks ----------------------------------------------------------------
    def max_seq(self) -> int:
        return self.query("SELECT coalesce(max(seq), 0) FROM events")[0][0]

    def event_after(self, device_id: str, id_hash: str, seq_floor: int) -> sqlite3.Row | None:
        """The first event of this worker at this device recorded after ``seq_floor``."""
        rows = self.query("SELECT seq, outcome, deny_reason FROM events WHERE device_id = ? AND id_hash = ? "
                          "AND seq > ? ORDER BY seq LIMIT 1", (device_id, id_hash, seq_floor))
        return rows[0] if rows else None

    def backlog(self) -> dict[str, int]:
        out = dict.fromkeys(("held", "pending", "inflight", "delivered", "dead"), 0)
        for r in self.query("SELECT state, count(*) AS n FROM deliveries GROUP BY state"):
            out[r["state"]] = r["n"]
        return out

    def undelivered(self) -> int:
        b = self.backlog()
        return sum(b[s] for s in UNDELIVERED)

    def open_batches(self) -> int:
        return self.query("SELECT count(*) FROM batches WHERE state NOT IN ('done', 'failed')")[0][0]

    def alarm_count(self, code: str) -> int:
        rows = self.query("SELECT count FROM alarms WHERE code = ?", (code,))
        return int(rows[0][0]) if rows else 0

    def kv(self, key: str) -> str | None:
        rows = self.query("SELECT value FROM kv WHERE key = ?", (key,))
        return rows[0][0] if rows else None
