"""The durable half of the national batch protocol: every move of a batch and of its records is ONE
store transaction, so a SIGKILL between any two lines leaves each record in exactly one state.

Batch states (``batches.state``)::

    queued   made (a half of a split batch), records inflight, never POSTed
    sending  the POST may be under way; found at start-up it becomes ``unknown`` (lost)
    sent     the platform gave its receipt (requestSerialCode); poll AsyncHandleResult.Query
    unknown  must be reconciled before anything in it is sent again; ``reconcile`` says why:
             lost     the answer to a POST was lost (timeout, dropped, garbage, 5xx, a crash)
             rejected the platform failed some records by name; the others are checked
             failed   the platform failed the batch without naming a record; check, then split
             expired  the receipt is unknown to the platform or stayed pending too long
    done     every record delivered, dead-lettered or handed back (payload dropped)
    failed   the platform certainly did not take it; its records were handed back (payload dropped)

Records (``deliveries``) move pending -> inflight (with ``batch_id``) -> delivered / dead, or back
to pending; only rows still ``inflight`` in the batch at hand are ever moved, so a transition that
comes late (a second worker, a replay after a crash) changes nothing.
"""
from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sitegate.buffer.deliveries import MAX_SCHEDULE_AHEAD_S

QUEUED, SENDING, SENT, UNKNOWN, DONE, FAILED = "queued", "sending", "sent", "unknown", "done", "failed"
OPEN_STATES = (QUEUED, SENDING, SENT, UNKNOWN)
LOST, REJECTED, BATCH_FAILED, EXPIRED = "lost", "rejected", "failed", "expired"


class Conflict(Exception):
    """A record was not in the state the move expected (rolled back; nothing changed)."""


@dataclass(frozen=True)
class BatchRow:
    batch_id: str
    state: str
    receipt: str | None
    data: str | None
    attempts: int
    last_error: str
    event_ids: tuple[str, ...]
    next_ts: float
    reconcile: str
    created_ts: float
    updated_ts: float
    parent_id: str | None

    @classmethod
    def of(cls, r: sqlite3.Row) -> "BatchRow":
        payload = r["payload"]
        return cls(r["batch_id"], r["state"], r["receipt"],
                   bytes(payload).decode("utf-8") if payload is not None else None, r["attempts"],
                   r["last_error"], tuple(json.loads(r["event_ids"] or "[]")), r["next_ts"], r["reconcile"],
                   r["created_ts"], r["updated_ts"], r["parent_id"])


@dataclass(frozen=True)
class Child:
    """A part of a batch being split: its id, its records in order, its exact data string."""

    batch_id: str
    event_ids: tuple[str, ...]
    data: str


@dataclass(frozen=True)
class Dead:
    event_id: str
    reason: str
    code: str


class Ledger:
    def __init__(self, store, uplink: str):
        self.store = store
        self.uplink = uplink

    # -- reads ------------------------------------------------------------------------------
    def get(self, batch_id: str) -> BatchRow | None:
        rows = self.store.query("SELECT * FROM batches WHERE batch_id = ?", (batch_id,))
        return BatchRow.of(rows[0]) if rows else None

    def due(self, state: str, now: float, limit: int = 20) -> list[BatchRow]:
        """Open batches in ``state`` whose time has come, the longest waiting first (a ``next_ts``
        beyond MAX_SCHEDULE_AHEAD_S was set before the wall clock stepped back: due now)."""
        rows = self.store.query(
            "SELECT * FROM batches WHERE uplink = ? AND state = ? AND (next_ts <= ? OR next_ts > ?) "
            "ORDER BY next_ts, created_ts LIMIT ?", (self.uplink, state, now, now + MAX_SCHEDULE_AHEAD_S, limit))
        return [BatchRow.of(r) for r in rows]

    def inflight(self, batch_id: str) -> set[str]:
        """The records still waiting on this batch (not yet delivered, dead or handed back)."""
        rows = self.store.query("SELECT event_id FROM deliveries WHERE uplink = ? AND state = 'inflight' "
                                "AND batch_id = ?", (self.uplink, batch_id))
        return {r[0] for r in rows}

    def counts(self) -> dict[str, int]:
        rows = self.store.query("SELECT state, count(*) FROM batches WHERE uplink = ? GROUP BY state", (self.uplink,))
        return {r[0]: r[1] for r in rows}

    # -- writes: one transaction each ----------------------------------------------------------
    def create(self, batch_id: str, event_ids: Sequence[str], data: str) -> None:
        """Store a new batch (``sending``, the exact data) and move its pending records to inflight,
        together. Conflict (nothing written) if a record is no longer pending."""
        uplink, ids = self.uplink, list(event_ids)

        def job(conn: sqlite3.Connection) -> None:
            now = time.time()
            _insert(conn, uplink, batch_id, SENDING, ids, data, now, attempts=1)
            for eid in ids:
                n = conn.execute(
                    "UPDATE deliveries SET state = 'inflight', batch_id = ?, attempts = attempts + 1, updated_ts = ? "
                    "WHERE event_id = ? AND uplink = ? AND state = 'pending'", (batch_id, now, eid, uplink)).rowcount
                if n != 1:
                    raise Conflict(f"event {eid} is no longer pending")

        self.store.write(job)

    def begin_send(self, batch_id: str, from_state: str) -> bool:
        """``queued`` or ``unknown`` (a resend of the identical data) -> ``sending``, before the POST."""
        uplink = self.uplink

        def job(conn: sqlite3.Connection) -> bool:
            now = time.time()
            n = conn.execute(
                "UPDATE batches SET state = ?, attempts = attempts + 1, updated_ts = ?, next_ts = 0 "
                "WHERE batch_id = ? AND uplink = ? AND state = ?",
                (SENDING, now, batch_id, uplink, from_state)).rowcount
            if n:
                conn.execute("UPDATE deliveries SET attempts = attempts + 1, updated_ts = ? WHERE uplink = ? "
                             "AND state = 'inflight' AND batch_id = ?", (now, uplink, batch_id))
            return bool(n)

        return self.store.write(job)

    def mark_sent(self, batch_id: str, receipt: str, next_ts: float) -> bool:
        return self._set(batch_id, (SENDING,), state=SENT, receipt=receipt, next_ts=next_ts, last_error="",
                         reconcile="", touch=True)

    def mark_unknown(self, batch_id: str, kind: str, error: str, next_ts: float,
                     from_states: Sequence[str] = (SENDING,)) -> bool:
        return self._set(batch_id, from_states, state=UNKNOWN, reconcile=kind, last_error=error[:500],
                         next_ts=next_ts, touch=True)

    def reschedule(self, batch_id: str, next_ts: float, error: str | None = None) -> bool:
        """Try this batch again at ``next_ts`` (poll or reconcile), state unchanged. ``error``
        (None: keep it) replaces ``last_error``; an unknown batch's keeps the platform's reason."""
        if error is None:
            return self._set(batch_id, OPEN_STATES, next_ts=next_ts)
        return self._set(batch_id, OPEN_STATES, next_ts=next_ts, last_error=error[:500])

    def _set(self, batch_id: str, from_states: Sequence[str], *, touch: bool = False, **values) -> bool:
        uplink = self.uplink
        cols = ", ".join(f"{k} = ?" for k in values) + (", updated_ts = ?" if touch else "")
        marks = ", ".join("?" * len(from_states))

        def job(conn: sqlite3.Connection) -> bool:
            args = [*values.values(), *([time.time()] if touch else []), batch_id, uplink, *from_states]
            return bool(conn.execute(f"UPDATE batches SET {cols} WHERE batch_id = ? AND uplink = ? "
                                     f"AND state IN ({marks})", args).rowcount)

        return self.store.write(job)

    def settle(self, batch_id: str, *, delivered: Iterable[str] = (), dead: Iterable[Dead] = (),
               pending: Iterable[str] = (), pending_delay_s: float = 0.0, error: str = "",
               children: Iterable[Child] = (), final_state: str = DONE,
               reopen_as: str | None = None, next_ts: float = 0.0) -> dict[str, int]:
        """Resolve records of a batch in one transaction: some delivered, some dead-lettered (with
        the platform's reason), some handed back to pending, some moved into new queued batches
        (a split). Then the batch is closed (``final_state``, payload dropped) or, with
        ``reopen_as``, left ``unknown`` for the rest to be reconciled. Returns counts moved."""
        uplink = self.uplink
        delivered, dead, pending, children = list(delivered), list(dead), list(pending), list(children)

        def job(conn: sqlite3.Connection) -> dict[str, int]:
            now = time.time()
            moved = {"delivered": 0, "dead": 0, "pending": 0, "split": 0}
            guard = "WHERE event_id = ? AND uplink = ? AND state = 'inflight' AND batch_id = ?"
            for eid in delivered:
                moved["delivered"] += conn.execute(
                    "UPDATE deliveries SET state = 'delivered', delivered_ts = ?, updated_ts = ?, last_error = '' "
                    f"{guard}", (now, now, eid, uplink, batch_id)).rowcount
            for d in dead:
                n = conn.execute(f"UPDATE deliveries SET state = 'dead', updated_ts = ?, last_error = ? {guard}",
                                 (now, d.reason[:500], d.event_id, uplink, batch_id)).rowcount
                if n:
                    conn.execute("INSERT INTO dead_letters(event_id, uplink, reason, code, created_ts) "
                                 "VALUES (?, ?, ?, ?, ?)", (d.event_id, uplink, d.reason, d.code, now))
                moved["dead"] += n
            for eid in pending:
                moved["pending"] += conn.execute(
                    "UPDATE deliveries SET state = 'pending', batch_id = NULL, next_attempt_ts = ?, updated_ts = ?, "
                    f"last_error = ? {guard}",
                    (now + pending_delay_s, now, error[:500], eid, uplink, batch_id)).rowcount
            for child in children:
                _insert(conn, uplink, child.batch_id, QUEUED, child.event_ids, child.data, now, parent_id=batch_id)
                for eid in child.event_ids:
                    moved["split"] += conn.execute(f"UPDATE deliveries SET batch_id = ?, updated_ts = ? {guard}",
                                                   (child.batch_id, now, eid, uplink, batch_id)).rowcount
            if reopen_as:
                conn.execute("UPDATE batches SET state = ?, reconcile = ?, last_error = ?, next_ts = ?, updated_ts = ? "
                             "WHERE batch_id = ? AND uplink = ?", (UNKNOWN, reopen_as, error[:500], next_ts, now,
                                                                   batch_id, uplink))
            else:
                # the exact bytes are needed only while a resend is possible; photos make them large
                conn.execute("UPDATE batches SET state = ?, payload = NULL, last_error = ?, next_ts = 0, "
                             "updated_ts = ? WHERE batch_id = ? AND uplink = ?",
                             (final_state, error[:500], now, batch_id, uplink))
            return moved

        return self.store.write(job)

    def recover(self, grace_s: float) -> tuple[int, int]:
        """At start-up: a batch left ``sending`` may or may not have reached the platform, so it is
        ``unknown`` (lost) and reconciled after ``grace_s``; an inflight record without an open
        batch (never expected) is handed back rather than left waiting for ever. Returns both counts."""
        uplink = self.uplink

        def job(conn: sqlite3.Connection) -> tuple[int, int]:
            now = time.time()
            lost = conn.execute(
                "UPDATE batches SET state = ?, reconcile = ?, next_ts = ?, updated_ts = ?, "
                "last_error = 'interrupted while sending (restart)' WHERE uplink = ? AND state = ?",
                (UNKNOWN, LOST, now + grace_s, now, uplink, SENDING)).rowcount
            orphans = conn.execute(
                "UPDATE deliveries SET state = 'pending', batch_id = NULL, updated_ts = ?, "
                "last_error = 'handed back: its batch was not open' WHERE uplink = ? AND state = 'inflight' "
                "AND (batch_id IS NULL OR batch_id NOT IN (SELECT batch_id FROM batches WHERE uplink = ? "
                f"AND state IN ({', '.join('?' * len(OPEN_STATES))})))", (now, uplink, uplink, *OPEN_STATES)).rowcount
            return lost, orphans

        return self.store.write(job)


def _insert(conn: sqlite3.Connection, uplink: str, batch_id: str, state: str, event_ids: Sequence[str],
            data: str, now: float, *, attempts: int = 0, parent_id: str | None = None) -> None:
    conn.execute(
        "INSERT INTO batches(batch_id, uplink, state, receipt, payload, attempts, last_error, created_ts, updated_ts, "
        "event_ids, next_ts, reconcile, parent_id) VALUES (?, ?, ?, NULL, ?, ?, '', ?, ?, ?, 0, '', ?)",
        (batch_id, uplink, state, data.encode("utf-8"), attempts, now, now, json.dumps(list(event_ids)), parent_id))
