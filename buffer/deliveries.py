"""Per-uplink delivery state of every attendance event.

    held      recorded before the wall clock was synchronised; waits for correction
    pending   ready to send (next_attempt_ts says when, after a failure)
    inflight  in a batch the platform has (or may have) received; batch_id names it
    delivered the platform confirmed it
    dead      the platform refused its content; a dead_letters row keeps the reason

Only the uplink engine moves records between states, each move one transaction, so a crash
leaves every record in exactly one state and nothing is sent twice without reconciliation.
"""
from __future__ import annotations

import sqlite3
import time
from typing import Iterable

STATES = ("held", "pending", "inflight", "delivered", "dead")


# No uplink schedules a retry further ahead than this (backoff caps at 300 s, a stopped engine
# retries after 600 s): anything later was computed from a wall clock that has since stepped back.
MAX_SCHEDULE_AHEAD_S = 3600.0


class DeliveryQueue:
    def __init__(self, store, uplink: str):
        self.store = store
        self.uplink = uplink

    def due(self, limit: int, now: float | None = None) -> list[sqlite3.Row]:
        """Pending records whose retry time has come, oldest event first. A retry time further
        ahead than any delay the uplinks schedule was stored before the wall clock was stepped
        back: it is due now, not after the size of the step."""
        now = time.time() if now is None else now
        return self.store.query(
            "SELECT d.event_id, d.attempts, e.* FROM deliveries d JOIN events e USING (event_id) "
            "WHERE d.uplink = ? AND d.state = 'pending' AND (d.next_attempt_ts <= ? OR d.next_attempt_ts > ?) "
            "ORDER BY e.wall_ts, e.seq LIMIT ?",
            (self.uplink, now, now + MAX_SCHEDULE_AHEAD_S, limit),
        )

    def inflight(self) -> list[sqlite3.Row]:
        return self.store.query(
            "SELECT event_id, batch_id FROM deliveries WHERE uplink = ? AND state = 'inflight'", (self.uplink,))

    def _move(self, event_ids: Iterable[str], state: str, extra_sql: str = "", extra_args: tuple = ()):
        ids = list(event_ids)
        uplink = self.uplink

        def job(conn: sqlite3.Connection) -> int:
            now = time.time()
            n = 0
            for eid in ids:
                n += conn.execute(
                    f"UPDATE deliveries SET state = ?, updated_ts = ?{extra_sql} WHERE event_id = ? AND uplink = ?",
                    (state, now, *extra_args, eid, uplink),
                ).rowcount
            return n

        return self.store.write(job)

    def mark_inflight(self, event_ids: Iterable[str], batch_id: str) -> int:
        return self._move(event_ids, "inflight", ", batch_id = ?, attempts = attempts + 1", (batch_id,))

    def mark_delivered(self, event_ids: Iterable[str]) -> int:
        return self._move(event_ids, "delivered", ", delivered_ts = ?, last_error = ''", (time.time(),))

    def retry_later(self, event_ids: Iterable[str], delay_s: float, error: str) -> int:
        return self._move(event_ids, "pending", ", next_attempt_ts = ?, last_error = ?, batch_id = NULL",
                          (time.time() + delay_s, error[:500]))

    def mark_dead(self, event_id: str, reason: str, code: str = "") -> None:
        uplink = self.uplink

        def job(conn: sqlite3.Connection) -> None:
            now = time.time()
            conn.execute(
                "UPDATE deliveries SET state = 'dead', updated_ts = ?, last_error = ? WHERE event_id = ? AND uplink = ?",
                (now, reason[:500], event_id, uplink))
            conn.execute(
                "INSERT INTO dead_letters(event_id, uplink, reason, code, created_ts) VALUES (?, ?, ?, ?, ?)",
                (event_id, uplink, reason, code, now))

        self.store.write(job)

    def requeue_dead(self, event_id: str, actor: str, note: str = "") -> bool:
        """A clerk corrected the cause (e.g. the roster): send the record again."""
        uplink = self.uplink

        def job(conn: sqlite3.Connection) -> bool:
            now = time.time()
            n = conn.execute(
                "UPDATE deliveries SET state = 'pending', next_attempt_ts = 0, updated_ts = ? "
                "WHERE event_id = ? AND uplink = ? AND state = 'dead'", (now, event_id, uplink)).rowcount
            if n:
                conn.execute("UPDATE dead_letters SET resolved_ts = ?, resolution = ? "
                             "WHERE event_id = ? AND uplink = ? AND resolved_ts IS NULL",
                             (now, f"retried by {actor}: {note}".strip(": "), event_id, uplink))
                conn.execute("INSERT INTO audit(ts, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
                             (now, actor, "dead_letter.retry", event_id, note))
            return bool(n)

        return self.store.write(job)


def backlog(store) -> dict[str, dict[str, int]]:
    """{uplink: {state: count}} with every state present."""
    out: dict[str, dict[str, int]] = {u: dict.fromkeys(STATES, 0) for u in store.uplinks}
    for r in store.query("SELECT uplink, state, count(*) AS n FROM deliveries GROUP BY uplink, state"):
        out.setdefault(r["uplink"], dict.fromkeys(STATES, 0))[r["state"]] = r["n"]
    return out


def status(store) -> dict:
    """What ``sitegate status`` shows: backlog per state, oldest undelivered, dead letters, alarms."""
    oldest = store.query(
        "SELECT min(e.wall_ts) FROM deliveries d JOIN events e USING (event_id) "
        "WHERE d.state IN ('held','pending','inflight')")[0][0]
    last = store.query("SELECT max(delivered_ts) FROM deliveries WHERE state = 'delivered'")[0][0]
    dead = store.query("SELECT count(*) FROM dead_letters WHERE resolved_ts IS NULL")[0][0]
    counts = store.query(
        "SELECT count(*) AS total, sum(outcome = 'admitted') AS admitted, sum(outcome = 'denied') AS denied FROM events")[0]
    return {
        "events": {"total": counts["total"] or 0, "admitted": counts["admitted"] or 0, "denied": counts["denied"] or 0},
        "backlog": backlog(store),
        "oldest_undelivered_ts": oldest,
        "last_delivery_ts": last,
        "dead_letters": dead,
        "alarms": store.active_alarms(),
    }


def release_held(store, now_stamp) -> tuple[int, int]:
    """Correct the wall time of events recorded before the clock was synchronised.

    Events of this boot get wall = now_wall - (now_mono - event_mono) and become pending. Events of
    an earlier boot cannot be corrected (the monotonic clock restarted): they stay held and an alarm
    asks the clerk to review them. Returns (corrected, uncorrectable).
    """
    from datetime import timedelta

    if not now_stamp.synced:
        return 0, 0
    rows = store.query(
        "SELECT e.event_id, e.mono_ns, e.boot_id FROM events e JOIN deliveries d USING (event_id) "
        "WHERE d.state = 'held' GROUP BY e.event_id")
    fix, stuck = [], 0
    for r in rows:
        if r["boot_id"] == now_stamp.boot_id and r["mono_ns"] <= now_stamp.mono_ns:
            wall = now_stamp.wall - timedelta(microseconds=(now_stamp.mono_ns - r["mono_ns"]) / 1000)
            fix.append((r["event_id"], wall))
        else:
            stuck += 1

    def job(conn: sqlite3.Connection) -> None:
        for eid, wall in fix:
            conn.execute("UPDATE events SET wall_time = ?, wall_ts = ?, clock_synced = 1, "
                         "extra = json_set(extra, '$.wall_time_corrected', 1) WHERE event_id = ?",
                         (wall.isoformat(), wall.timestamp(), eid))
            conn.execute("UPDATE deliveries SET state = 'pending', updated_ts = ? WHERE event_id = ? AND state = 'held'",
                         (time.time(), eid))

    if fix:
        store.write(job)
    if stuck:
        store.raise_alarm("unsynced_events", f"{stuck} event(s) were recorded before the clock was synchronised "
                          "in an earlier boot; their time cannot be corrected: review them")
    return len(fix), stuck
