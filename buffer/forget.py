"""Forgetting a worker who left (PIPL art. 47): their personal data goes, except the attendance the
platform already has or still must get — wages are paid from it and the rules require it be kept.

What goes: the roster entry, the enrolled face, phone keys, every event photo, denied attempts, open
review items. What stays: admitted attendance events (undelivered ones are still sent; delivered ones
are purged by the normal retention), and the audit trail (which never holds the ID number in clear).
"""
from __future__ import annotations

import sqlite3
import time

from sitegate.idcard import mask, normalise


def forget_worker(store, id_card_number: str, actor: str) -> dict[str, int]:
    idn = normalise(id_card_number)
    h = store.cipher.index(idn)

    def job(conn: sqlite3.Connection) -> dict[str, int]:
        ids = "SELECT event_id FROM events WHERE id_hash = ?"
        out = {
            "photos": conn.execute(f"DELETE FROM photos WHERE event_id IN ({ids})", (h,)).rowcount,
            "denied_events": conn.execute("DELETE FROM events WHERE id_hash = ? AND outcome = 'denied'", (h,)).rowcount,
            "faces": conn.execute("DELETE FROM faces WHERE id_hash = ?", (h,)).rowcount,
            "phones": conn.execute("DELETE FROM phones WHERE id_hash = ?", (h,)).rowcount,
            "reviews": conn.execute("DELETE FROM reviews WHERE id_hash = ? AND status = 'open'", (h,)).rowcount,
            "roster": conn.execute("DELETE FROM workers WHERE id_hash = ?", (h,)).rowcount,
        }
        conn.execute("UPDATE events SET photo_id = NULL WHERE id_hash = ?", (h,))
        out["attendance_kept"] = conn.execute("SELECT count(*) FROM events WHERE id_hash = ?", (h,)).fetchone()[0]
        conn.execute("INSERT INTO audit(ts, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
                     (time.time(), actor, "worker.forget", mask(idn), str(out)))
        return out

    return store.write(job)
