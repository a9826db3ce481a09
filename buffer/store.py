"""The durable store: one SQLite file in ``data_dir``, one writer thread, readers per thread.

    store = Store.open(data_dir, uplinks=["national"])
    store.append(event, photo=jpeg_bytes)   # returns once the event is on disk
    store.close()

Everything that writes goes through ``store.write(job)``: one writer, group commit, no lock
juggling. Personal fields are encrypted with the key in ``data_dir/keys``.
"""
from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from sitegate.buffer import db
from sitegate.buffer.crypto import FieldCipher, load_or_create_key
from sitegate.buffer.rows import event_to_row, insert_events, row_to_event
from sitegate.buffer.writer import GroupWriter
from sitegate.errors import StoreError, StoreFull
from sitegate.model import AttendanceEvent

log = logging.getLogger(__name__)

JPEG_MAGIC = b"\xff\xd8\xff"
MB = 1024 * 1024
SPARE_READERS = 4       # read connections of ended threads kept for the next new threads


class Store:
    def __init__(self, data_dir: Path, conn: sqlite3.Connection, cipher: FieldCipher, *,
                 uplinks: Iterable[str], photo_max_bytes: int, quota_bytes: int, min_free_bytes: int):
        self.data_dir = data_dir
        self.path = data_dir / db.DB_NAME
        self.cipher = cipher
        self.uplinks = tuple(uplinks)
        self.photo_max_bytes = photo_max_bytes
        self.quota_bytes = quota_bytes
        self.min_free_bytes = min_free_bytes
        self.counters: dict[str, int] = {"photos_refused": 0, "events_refused": 0}
        self._writer = GroupWriter(conn)
        self._local = threading.local()
        self._readers: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._readers_lock = threading.Lock()
        self._space_checked = 0.0
        self._space = (0, 1 << 62)  # (db bytes, free bytes)

    # -- opening and closing -----------------------------------------------------------------
    @classmethod
    def open(cls, data_dir: str | os.PathLike, *, uplinks: Iterable[str] = ("national",),
             photo_max_kb: int = 200, quota_mb: int = 4096, min_free_mb: int = 100) -> "Store":
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        cipher = FieldCipher(load_or_create_key(data_dir))
        path = data_dir / db.DB_NAME
        corrupt_note = None
        problem = db.integrity_problem(path)
        if problem:
            moved = db.quarantine(path)
            corrupt_note = f"database failed its integrity check ({problem}); moved to {moved.name} and started fresh"
            log.critical("%s", corrupt_note)
        try:
            conn = db.connect(path)
            db.migrate(conn)
        except sqlite3.DatabaseError as exc:
            # not even openable (e.g. not a database at all): same treatment as a failed check
            moved = db.quarantine(path)
            corrupt_note = f"database could not be opened ({exc}); moved to {moved.name} and started fresh"
            log.critical("%s", corrupt_note)
            conn = db.connect(path)
            db.migrate(conn)
        store = cls(data_dir, conn, cipher, uplinks=uplinks, photo_max_bytes=photo_max_kb * 1024,
                    quota_bytes=quota_mb * MB, min_free_bytes=min_free_mb * MB)
        if corrupt_note:
            store.raise_alarm("store_corrupt", corrupt_note, severity="critical")
        return store

    @classmethod
    def from_config(cls, cfg) -> "Store":
        st = cfg["storage"]
        up = cfg["uplink"]
        uplinks = [up["profile"]] if up.get("enabled", True) else []
        return cls.open(cfg["site"]["data_dir"], uplinks=uplinks, photo_max_kb=st["photo_max_kb"],
                        quota_mb=st["quota_mb"], min_free_mb=st["min_free_mb"])

    def close(self) -> None:
        self._writer.close()
        with self._readers_lock:
            for _thread, conn in self._readers:
                conn.close()
            self._readers.clear()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the two primitives: one writer, many readers ----------------------------------------
    def write(self, job: Callable[[sqlite3.Connection], Any], timeout: float | None = 60.0) -> Any:
        """Run ``job(conn)`` in the writer's transaction; returns after COMMIT (durable)."""
        return self._writer.run(job, timeout)

    def submit(self, job: Callable[[sqlite3.Connection], Any]):
        """Like ``write`` but returns the future at once."""
        return self._writer.submit(job)

    def reader(self) -> sqlite3.Connection:
        """This thread's read connection (WAL: readers never block the writer)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            with self._readers_lock:
                # HTTP servers run each request in a thread of its own. The connection of a thread
                # that ended is used by no one: the next new thread takes it over (opening one per
                # request costs CPU), and past a few spare ones it is closed (kept, each holds its
                # page cache: the daemon grew ~50 MB in 10 minutes, `sitegate bench daemon`).
                alive, spare = [], []
                for thread, old in self._readers:
                    (alive if thread.is_alive() else spare).append((thread, old))
                conn = spare.pop()[1] if spare else None
                for _thread, old in spare[SPARE_READERS:]:
                    old.close()
                self._readers = alive + spare[:SPARE_READERS]
            if conn is None:
                conn = db.connect(self.path)
                conn.execute("PRAGMA query_only = ON")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append((threading.current_thread(), conn))
        return conn

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        return self.reader().execute(sql, params).fetchall()

    @property
    def writer_stats(self) -> tuple[int, int]:
        """(commits, jobs): jobs per commit is the group-commit factor."""
        return self._writer.commits, self._writer.jobs

    # -- events ------------------------------------------------------------------------------
    def append(self, event: AttendanceEvent, photo: bytes | None = None,
               timeout: float | None = 60.0) -> str:
        """Store ``event`` (and its photo) durably; returns its id once it is on disk.

        Raises StoreFull when the disk is too full to take events (the caller must not acknowledge).
        A photo that is not a JPEG, is too large, or arrives over the photo quota is not kept: the
        event is stored without it and the refusal is counted (and alarmed for the quota).
        """
        return self.submit_append(event, photo).result(timeout)

    def submit_append(self, event: AttendanceEvent, photo: bytes | None = None):
        self._check_space_for_event()
        photo = self._accept_photo(event, photo)
        if photo is not None and event.photo_id is None:
            event = event.with_(photo_id=event.event_id)
        elif photo is None and event.photo_id is not None and event.photo_id == event.event_id:
            event = event.with_(photo_id=None)
        row = event_to_row(event, self.cipher, self.uplinks)
        enc_photo = self.cipher.encrypt(photo, event.event_id.encode()) if photo is not None else None
        photo_row = (event.photo_id, event.event_id, enc_photo, len(photo), time.time()) if enc_photo is not None else None
        job = _AppendJob(row, photo_row, event.event_id)
        return self._writer.submit(job)

    def _count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def get_event(self, event_id: str, *, decrypt: bool = True) -> AttendanceEvent | None:
        rows = self.query("SELECT * FROM events WHERE event_id = ?", (event_id,))
        return row_to_event(rows[0], self.cipher if decrypt else None) if rows else None

    def events(self, *, since_ts: float | None = None, until_ts: float | None = None,
               id_card_number: str | None = None, limit: int = 1000, decrypt: bool = True,
               newest_first: bool = False) -> list[AttendanceEvent]:
        sql, args = "SELECT * FROM events WHERE 1=1", []
        if since_ts is not None:
            sql += " AND wall_ts >= ?"
            args.append(since_ts)
        if until_ts is not None:
            sql += " AND wall_ts < ?"
            args.append(until_ts)
        if id_card_number:
            sql += " AND id_hash = ?"
            args.append(self.cipher.index(id_card_number))
        sql += f" ORDER BY wall_ts {'DESC' if newest_first else 'ASC'}, seq LIMIT ?"
        args.append(limit)
        cipher = self.cipher if decrypt else None
        return [row_to_event(r, cipher) for r in self.query(sql, tuple(args))]

    def photo(self, photo_id: str) -> bytes | None:
        rows = self.query("SELECT jpeg_enc, event_id FROM photos WHERE photo_id = ?", (photo_id,))
        if not rows:
            return None
        return self.cipher.decrypt(rows[0]["jpeg_enc"], (rows[0]["event_id"] or "").encode())

    def count_events(self) -> int:
        return self.query("SELECT count(*) FROM events")[0][0]

    # -- space -------------------------------------------------------------------------------
    def _measure_space(self) -> tuple[int, int]:
        now = time.monotonic()
        if now - self._space_checked > 1.0:
            size = 0
            for suffix in ("", "-wal"):
                try:
                    size += os.stat(str(self.path) + suffix).st_size
                except FileNotFoundError:
                    pass
            free = shutil.disk_usage(self.data_dir).free
            self._space = (size, free)
            self._space_checked = now
        return self._space

    def _check_space_for_event(self) -> None:
        _size, free = self._measure_space()
        if free < self.min_free_bytes:
            self._count("events_refused")
            self.raise_alarm_async("disk_full", f"only {free // MB} MB free on the data disk: new events are refused",
                                   severity="critical")
            raise StoreFull(f"only {free // MB} MB free in {self.data_dir} (minimum {self.min_free_bytes // MB} MB)")

    def _accept_photo(self, event: AttendanceEvent, photo: bytes | None) -> bytes | None:
        if photo is None:
            return None
        if not photo.startswith(JPEG_MAGIC):
            self._count("photos_refused")
            log.warning("event %s: photo is not a JPEG; stored without it", event.event_id)
            return None
        if len(photo) > self.photo_max_bytes:
            self._count("photos_refused")
            log.warning("event %s: photo of %d KB is over the %d KB cap; stored without it",
                        event.event_id, len(photo) // 1024, self.photo_max_bytes // 1024)
            return None
        size, free = self._measure_space()
        if size + len(photo) > self.quota_bytes or free < 2 * self.min_free_bytes:
            self._count("photos_refused")
            self.raise_alarm_async("photo_quota", f"store is {size // MB} MB (quota {self.quota_bytes // MB} MB): "
                                   "new photos are refused, events are still kept")
            return None
        return photo

    # -- alarms and audit --------------------------------------------------------------------
    def raise_alarm(self, code: str, message: str, severity: str = "warning") -> None:
        self.write(_alarm_job(code, message, severity))

    def raise_alarm_async(self, code: str, message: str, severity: str = "warning") -> None:
        self.submit(_alarm_job(code, message, severity))

    def clear_alarm(self, code: str) -> None:
        self.write(lambda c: c.execute("UPDATE alarms SET cleared_ts = ? WHERE code = ? AND cleared_ts IS NULL",
                                       (time.time(), code)))

    def active_alarms(self) -> list[dict]:
        rows = self.query("SELECT * FROM alarms WHERE cleared_ts IS NULL ORDER BY raised_ts")
        return [dict(r) for r in rows]

    def audit(self, actor: str, action: str, subject: str = "", detail: str = "") -> None:
        self.write(lambda c: c.execute(
            "INSERT INTO audit(ts, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
            (time.time(), actor, action, subject, detail)))

    # -- small key/value state (device stamps, read indexes, …) ------------------------------
    def kv_get(self, key: str, default: str | None = None) -> str | None:
        rows = self.query("SELECT value FROM kv WHERE key = ?", (key,))
        return rows[0][0] if rows else default

    def kv_set(self, key: str, value: str) -> None:
        self.write(lambda c: c.execute(
            "INSERT INTO kv(key, value, updated_ts) VALUES (?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_ts = excluded.updated_ts",
            (key, value, time.time())))

    def integrity_problem(self, full: bool = True) -> str | None:
        rows = self.reader().execute("PRAGMA integrity_check" if full else "PRAGMA quick_check").fetchall()
        result = [r[0] for r in rows]
        return None if result == ["ok"] else "; ".join(result[:5])


class _AppendJob:
    """One event (its deliveries rows come from a trigger) and its photo; the writer runs
    consecutive ones together, as one INSERT when there are no photos."""

    __slots__ = ("event_row", "photo_row", "event_id")
    SQL_PHOTO = "INSERT INTO photos(photo_id, event_id, jpeg_enc, size, created_ts) VALUES (?, ?, ?, ?, ?)"
    ROWS_PER_STATEMENT = 64     # 64 x 31 parameters, well under SQLite's limit; 64 cached statements

    def __init__(self, event_row: tuple, photo_row: tuple | None, event_id: str):
        self.event_row = event_row
        self.photo_row = photo_row
        self.event_id = event_id

    def __call__(self, conn: sqlite3.Connection) -> str:
        return self.run_many(conn, [self])[0]

    @classmethod
    def one_statement(cls, jobs: list["_AppendJob"]) -> bool:
        return len(jobs) <= cls.ROWS_PER_STATEMENT and all(j.photo_row is None for j in jobs)

    @classmethod
    def run_many(cls, conn: sqlite3.Connection, jobs: list["_AppendJob"]) -> list[str]:
        step = cls.ROWS_PER_STATEMENT
        for i in range(0, len(jobs), step):
            part = jobs[i : i + step]
            conn.execute(insert_events(len(part)), [v for j in part for v in j.event_row])
        photos = [j.photo_row for j in jobs if j.photo_row is not None]
        if photos:
            conn.executemany(cls.SQL_PHOTO, photos)
        return [j.event_id for j in jobs]


def _alarm_job(code: str, message: str, severity: str):
    def job(conn: sqlite3.Connection) -> None:
        now = time.time()
        conn.execute(
            "INSERT INTO alarms(code, severity, message, raised_ts, last_ts) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(code) DO UPDATE SET message = excluded.message, severity = excluded.severity, "
            "last_ts = excluded.last_ts, count = alarms.count + 1, "
            "raised_ts = CASE WHEN alarms.cleared_ts IS NULL THEN alarms.raised_ts ELSE excluded.raised_ts END, "
            "cleared_ts = NULL",
            (code, severity, message, now, now),
        )
    return job
