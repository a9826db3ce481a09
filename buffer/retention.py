"""Retention: personal data is kept only as long as needed.

Delivered events (and their photos) are purged ``retention_days`` after delivery; denied attempts
(never uploaded) after ``retention_days`` from when they happened. Undelivered events are never
purged, whatever their age: a worker's pay may depend on them.
"""
from __future__ import annotations

import sqlite3
import time


def purge(store, retention_days: int, now: float | None = None) -> dict[str, int]:
    now = time.time() if now is None else now
    cutoff = now - retention_days * 86400

    def job(conn: sqlite3.Connection) -> dict[str, int]:
        # events every one of whose deliveries is delivered before the cutoff, or that had none
        # (denied attempts) and are older than the cutoff
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS purge_ids (event_id TEXT PRIMARY KEY)")
        conn.execute("DELETE FROM purge_ids")
        conn.execute(
            """INSERT INTO purge_ids
               SELECT e.event_id FROM events e
               WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.event_id
                                 AND NOT (d.state = 'delivered' AND d.delivered_ts < ?))
                 AND (EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.event_id)
                      OR e.wall_ts < ?)""",
            (cutoff, cutoff),
        )
        photos = conn.execute(
            "DELETE FROM photos WHERE event_id IN (SELECT event_id FROM purge_ids)").rowcount
        conn.execute("DELETE FROM deliveries WHERE event_id IN (SELECT event_id FROM purge_ids)")
        events = conn.execute("DELETE FROM events WHERE event_id IN (SELECT event_id FROM purge_ids)").rowcount
        batches = conn.execute(
            "DELETE FROM batches WHERE state IN ('done','failed') AND updated_ts < ?", (cutoff,)).rowcount
        audit = conn.execute("DELETE FROM audit WHERE ts < ?", (now - 3 * 365 * 86400,)).rowcount
        return {"events": events, "photos": photos, "batches": batches, "audit": audit}

    return store.write(job)
