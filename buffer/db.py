"""Opening the SQLite file: durability pragmas, migrations, and the start-up integrity check."""
from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path

from sitegate.buffer.migrations import MIGRATIONS

log = logging.getLogger(__name__)

DB_NAME = "sitegate.db"


def connect(path: str | os.PathLike, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection with the store's pragmas. WAL + synchronous=FULL: a commit has reached the disk
    (the WAL is fsynced) when COMMIT returns, and readers never block the writer."""
    conn = sqlite3.connect(
        f"file:{path}?mode=ro" if readonly else str(path),
        uri=readonly,
        timeout=30,
        isolation_level=None,          # we issue BEGIN/COMMIT ourselves
        check_same_thread=False,       # each connection is still used by one thread at a time
    )
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA foreign_keys = ON")
    if not readonly:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise sqlite3.OperationalError(f"cannot switch {path} to WAL (got {mode})")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply the migrations not yet recorded; returns the names applied."""
    conn.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_ts REAL NOT NULL)")
    done = {r[0] for r in conn.execute("SELECT name FROM migrations")}
    applied = []
    for name, sql in MIGRATIONS:
        if name in done:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute("INSERT INTO migrations(name, applied_ts) VALUES (?, ?)", (name, time.time()))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(name)
        log.info("store migration %s applied", name)
    return applied


def _statements(sql: str) -> list[str]:
    # executescript() would COMMIT on its own; split so the migration stays one transaction.
    out, buf = [], []
    for line in sql.splitlines():
        buf.append(line)
        if sqlite3.complete_statement("\n".join(buf)):
            stmt = "\n".join(buf).strip()
            if stmt.strip(";").strip():
                out.append(stmt)
            buf = []
    return out


def schema_version(conn: sqlite3.Connection) -> str:
    row = conn.execute("SELECT name FROM migrations ORDER BY name DESC LIMIT 1").fetchone()
    return row[0] if row else ""


def integrity_problem(path: Path, *, full: bool = False) -> str | None:
    """None when the database at ``path`` is sound; otherwise what is wrong."""
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(str(path), timeout=30)
        try:
            rows = conn.execute("PRAGMA integrity_check" if full else "PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    result = [r[0] for r in rows]
    return None if result == ["ok"] else "; ".join(result[:5])


def quarantine(path: Path) -> Path:
    """Move a corrupt database (and its WAL/SHM) aside, kept for forensics; returns the new name."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    for suffix in ("", "-wal", "-shm"):
        src = Path(str(path) + suffix)
        if src.exists():
            os.replace(src, Path(str(target) + suffix))
    return target
