"""A webhook batch kept byte for byte in the store's ``batches`` table, so every retry — also after
a restart — sends the same body under the same Idempotency-Key.

    sending   the body is stored; its records are (or are about to be) inflight with this batch_id
    done      the receiver answered; its records moved on (delivered / dead / pending)
    failed    never sent, or no longer matching its records: they went back to pending
"""
from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from sitegate.errors import ProtocolError
from sitegate.uplink.webhook.codec import body_event_ids

UPLINK = "webhook"


@dataclass
class Batch:
    batch_id: str
    body: bytes
    event_ids: list[str]
    attempts: int = 0


def save(store, batch: Batch) -> None:
    def job(conn: sqlite3.Connection) -> None:
        now = time.time()
        conn.execute("INSERT INTO batches(batch_id, uplink, state, payload, attempts, created_ts, updated_ts) "
                     "VALUES (?, ?, 'sending', ?, 0, ?, ?)", (batch.batch_id, UPLINK, batch.body, now, now))

    store.write(job)


def note_attempt(store, batch_id: str, error: str = "") -> None:
    store.write(lambda c: c.execute(
        "UPDATE batches SET attempts = attempts + 1, last_error = ?, updated_ts = ? WHERE batch_id = ?",
        (error[:500], time.time(), batch_id)))


def finish(store, batch_id: str, state: str, note: str = "") -> None:
    store.write(lambda c: c.execute(
        "UPDATE batches SET state = ?, last_error = ?, updated_ts = ? WHERE batch_id = ?",
        (state, note[:500], time.time(), batch_id)))


def open_batches(store) -> dict[str, Batch]:
    """Stored bodies still 'sending', by batch id."""
    out: dict[str, Batch] = {}
    for r in store.query("SELECT batch_id, payload, attempts FROM batches WHERE uplink = ? AND state = 'sending' "
                         "ORDER BY created_ts", (UPLINK,)):
        try:
            ids = body_event_ids(bytes(r["payload"] or b""))
        except ProtocolError:
            ids = []
        out[r["batch_id"]] = Batch(r["batch_id"], bytes(r["payload"] or b""), ids, r["attempts"])
    return out
