"""The reference platform's SQLite store: the records it accepted, the batches it was sent.

A record's natural key is (idCardNumber, date, direction) — the platform has no event id
(reference/protocols.md §5) — so a record sent twice is stored once and its ``duplicates`` counter
goes up. A record once rejected for its content may be sent again after the cause was fixed (the
worker was added to the project): then it replaces the rejection.
"""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

ACCEPTED = "accepted"
REJECTED = "rejected"
DUPLICATE = "duplicate"

# Recorded migrations: index i brings a database from version i to i+1 (PRAGMA user_version).
# Each is a tuple of statements (no splitting of SQL text on ';').
_MIGRATIONS: tuple[tuple[str, ...], ...] = ((
    """CREATE TABLE batches (
        serial        TEXT PRIMARY KEY,
        project_code  TEXT NOT NULL,
        team_sys_no   INTEGER NOT NULL,
        created_at    REAL NOT NULL,          -- epoch seconds of the receiver's clock
        items         INTEGER NOT NULL
    )""",
    """CREATE TABLE records (
        id_card_number TEXT NOT NULL,
        date           TEXT NOT NULL,         -- yyyy-MM-dd HH:mm:ss, Beijing time, as sent
        direction      TEXT NOT NULL,
        attend_type    TEXT NOT NULL,
        channel        TEXT NOT NULL,
        id_card_type   TEXT NOT NULL,
        project_code   TEXT NOT NULL,
        team_sys_no    INTEGER NOT NULL,
        image_bytes    INTEGER NOT NULL,      -- decoded size, the photo itself is not kept
        lng            REAL,
        lat            REAL,
        serial         TEXT NOT NULL,         -- the batch that first brought it (or re-brought it)
        status         TEXT NOT NULL,         -- accepted | rejected
        message        TEXT NOT NULL DEFAULT '',
        duplicates     INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (id_card_number, date, direction)
    )""",
    """CREATE TABLE batch_items (
        serial         TEXT NOT NULL REFERENCES batches(serial),
        item_index     INTEGER NOT NULL,
        cipher         TEXT NOT NULL,         -- the idCardNumber as sent (AES), echoed in results
        outcome        TEXT NOT NULL,         -- accepted | duplicate | rejected
        message        TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (serial, item_index)
    )""",
),)


@dataclass(frozen=True)
class Item:
    """One validated ``dataList`` item, ID number decrypted."""

    index: int
    id_card_number: str
    cipher: str
    date: str
    direction: str
    attend_type: str
    channel: str
    id_card_type: str = "01"
    image_bytes: int = 0
    lng: float | None = None
    lat: float | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.id_card_number, self.date, self.direction)


@dataclass(frozen=True)
class Record:
    id_card_number: str
    date: str
    direction: str
    attend_type: str
    channel: str
    id_card_type: str
    project_code: str
    team_sys_no: int
    image_bytes: int
    lng: float | None
    lat: float | None
    serial: str
    status: str
    message: str
    duplicates: int

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.id_card_number, self.date, self.direction)


@dataclass(frozen=True)
class BatchItem:
    index: int
    cipher: str
    outcome: str
    message: str


@dataclass(frozen=True)
class Batch:
    serial: str
    project_code: str
    team_sys_no: int
    created_at: float
    items: tuple[BatchItem, ...]


class ReceiverStore:
    """One connection shared by the server's threads, serialised by a lock (the load is small)."""

    def __init__(self, path: str = ":memory:"):
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._migrate()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _atomic(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _migrate(self) -> None:
        with self._atomic() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            for step in range(version, len(_MIGRATIONS)):
                for statement in _MIGRATIONS[step]:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version={step + 1}")

    def add_batch(self, serial: str, project_code: str, team_sys_no: int, created_at: float,
                  items: Sequence[Item], rejections: dict[int, str]) -> list[str]:
        """Store a batch in one transaction; ``rejections`` maps item index -> content reason.
        Returns each item's outcome (accepted / duplicate / rejected)."""
        outcomes = []
        with self._atomic() as db:
            db.execute("INSERT INTO batches VALUES (?,?,?,?,?)",
                       (serial, project_code, team_sys_no, created_at, len(items)))
            for item in items:
                reason = rejections.get(item.index, "")
                status = REJECTED if reason else ACCEPTED
                old = db.execute(
                    "SELECT status FROM records WHERE id_card_number=? AND date=? AND direction=?",
                    item.key).fetchone()
                if old is None or (old["status"] == REJECTED and status == ACCEPTED):
                    db.execute(
                        "INSERT OR REPLACE INTO records VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
                        " COALESCE((SELECT duplicates FROM records WHERE id_card_number=? AND date=?"
                        " AND direction=?), 0))",
                        (*item.key, item.attend_type, item.channel, item.id_card_type, project_code,
                         team_sys_no, item.image_bytes, item.lng, item.lat, serial, status, reason,
                         *item.key))
                    outcome = status
                else:
                    db.execute("UPDATE records SET duplicates = duplicates + 1 WHERE id_card_number=?"
                               " AND date=? AND direction=?", item.key)
                    # A resend of an accepted record is fine (idempotent); of a rejected one, still rejected.
                    outcome = DUPLICATE if old["status"] == ACCEPTED else REJECTED
                    if outcome == REJECTED and not reason:
                        reason = db.execute(
                            "SELECT message FROM records WHERE id_card_number=? AND date=? AND direction=?",
                            item.key).fetchone()["message"]
                db.execute("INSERT INTO batch_items VALUES (?,?,?,?,?)",
                           (serial, item.index, item.cipher, outcome, reason if outcome == REJECTED else ""))
                outcomes.append(outcome)
        return outcomes

    def batch(self, serial: str) -> Batch | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM batches WHERE serial=?", (serial,)).fetchone()
            if row is None:
                return None
            items = self._db.execute(
                "SELECT item_index, cipher, outcome, message FROM batch_items WHERE serial=?"
                " ORDER BY item_index", (serial,)).fetchall()
        return Batch(row["serial"], row["project_code"], row["team_sys_no"], row["created_at"],
                     tuple(BatchItem(*tuple(i)) for i in items))

    def batches(self) -> list[tuple[str, float, int]]:
        """(serial, created_at, rejected items) of every batch."""
        with self._lock:
            rows = self._db.execute(
                "SELECT b.serial, b.created_at, COUNT(i.outcome) FROM batches b LEFT JOIN batch_items i"
                " ON i.serial = b.serial AND i.outcome = 'rejected' GROUP BY b.serial").fetchall()
        return [tuple(r) for r in rows]

    def records(self, status: str | None = None) -> list[Record]:
        sql = "SELECT * FROM records"
        args: tuple = ()
        if status:
            sql, args = sql + " WHERE status=?", (status,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY date, id_card_number, direction", args).fetchall()
        return [Record(**dict(r)) for r in rows]

    def attendance(self, project_code: str, start: str, end: str, *, team_sys_no: int | None = None,
                   id_card_number: str | None = None) -> list[Record]:
        """Accepted records of a project with ``start <= date <= end`` (``yyyy-MM-dd HH:mm:ss``
        strings compare like the times they are), oldest first: what WorkerAttendance.Query lists."""
        sql = "SELECT * FROM records WHERE status = ? AND project_code = ? AND date >= ? AND date <= ?"
        args: list = [ACCEPTED, project_code, start, end]
        if team_sys_no is not None:
            sql += " AND team_sys_no = ?"
            args.append(team_sys_no)
        if id_card_number is not None:
            sql += " AND id_card_number = ?"
            args.append(id_card_number)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY date, id_card_number, direction", args).fetchall()
        return [Record(**dict(r)) for r in rows]

    def duplicates(self) -> dict[tuple[str, str, str], int]:
        """Natural key -> how many times it came again after the first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id_card_number, date, direction, duplicates FROM records WHERE duplicates > 0").fetchall()
        return {(r[0], r[1], r[2]): r[3] for r in rows}

    def counts(self) -> dict[str, int]:
        with self._lock:
            by_status = dict(self._db.execute("SELECT status, COUNT(*) FROM records GROUP BY status").fetchall())
            dups = self._db.execute("SELECT COALESCE(SUM(duplicates), 0) FROM records").fetchone()[0]
        return {"records": sum(by_status.values()), ACCEPTED: by_status.get(ACCEPTED, 0),
                REJECTED: by_status.get(REJECTED, 0), "duplicates": dups}
