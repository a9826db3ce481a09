"""The review queue: clock-ins a clerk must accept or reject (uncertain position, spoofing signals).

An accepted item becomes an attendance event (durable, queued for the platform); a rejected one
stays with the clerk's note. Nothing in the queue is ever silently dropped.
"""
from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass

from sitegate.errors import UsageError
from sitegate.idcard import mask
from sitegate.model import AttendanceEvent


@dataclass
class ReviewItem:
    id: int
    kind: str
    created_ts: float
    id_masked: str
    event: AttendanceEvent
    reasons: list[dict]
    status: str
    decided_by: str | None
    decided_ts: float | None
    note: str
    event_id: str | None


class ReviewQueue:
    def __init__(self, store):
        self.store = store

    def add(self, kind: str, event: AttendanceEvent, reasons: list[dict]) -> int:
        """Keep ``event`` for review; ``reasons`` are ``{"code": …, "message": …}``. Returns the id."""
        c = self.store.cipher
        idn = event.worker.id_card_number
        blob = c.encrypt(json.dumps(event.to_dict(), ensure_ascii=False))
        row = (kind, time.time(), c.index(idn) if idn else None, mask(idn), blob,
               json.dumps(reasons, ensure_ascii=False))
        return self.store.write(lambda conn: conn.execute(
            "INSERT INTO reviews(kind, created_ts, id_hash, id_masked, event_enc, reasons) VALUES (?, ?, ?, ?, ?, ?)",
            row).lastrowid)

    def _item(self, r: sqlite3.Row) -> ReviewItem:
        ev = AttendanceEvent.from_dict(json.loads(self.store.cipher.decrypt(r["event_enc"])))
        return ReviewItem(r["id"], r["kind"], r["created_ts"], r["id_masked"], ev, json.loads(r["reasons"]),
                          r["status"], r["decided_by"], r["decided_ts"], r["note"], r["event_id"])

    def get(self, item_id: int) -> ReviewItem | None:
        rows = self.store.query("SELECT * FROM reviews WHERE id = ?", (item_id,))
        return self._item(rows[0]) if rows else None

    def list(self, status: str = "open", limit: int = 200) -> list[ReviewItem]:
        rows = self.store.query("SELECT * FROM reviews WHERE status = ? ORDER BY created_ts LIMIT ?", (status, limit))
        return [self._item(r) for r in rows]

    def count_open(self) -> int:
        return self.store.query("SELECT count(*) FROM reviews WHERE status = 'open'")[0][0]

    def accept(self, item_id: int, actor: str, note: str = "") -> str:
        """The clerk accepts: the event is stored (and queued for the platform). Returns its id."""
        item = self._open(item_id)
        event = item.event.with_(note=(item.event.note + " " if item.event.note else "") + f"accepted by {actor}: {note}".strip())
        self.store.append(event)
        self._decide(item_id, "accepted", actor, note, event.event_id)
        return event.event_id

    def reject(self, item_id: int, actor: str, note: str = "") -> None:
        self._open(item_id)
        self._decide(item_id, "rejected", actor, note, None)

    def _open(self, item_id: int) -> ReviewItem:
        item = self.get(item_id)
        if item is None:
            raise UsageError(f"no review item {item_id}")
        if item.status != "open":
            raise UsageError(f"review item {item_id} was already {item.status} by {item.decided_by}")
        return item

    def _decide(self, item_id: int, status: str, actor: str, note: str, event_id: str | None) -> None:
        def job(conn: sqlite3.Connection) -> None:
            now = time.time()
            conn.execute("UPDATE reviews SET status = ?, decided_by = ?, decided_ts = ?, note = ?, event_id = ? "
                         "WHERE id = ?", (status, actor, now, note, event_id, item_id))
            conn.execute("INSERT INTO audit(ts, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
                         (now, actor, f"review.{status}", str(item_id), note))

        self.store.write(job)
