"""Clerk sessions (table ``sessions``): a random token in a cookie, only its SHA-256 at rest.

The cookie value is 32 random bytes (``secrets.token_urlsafe(32)``); the table keeps its SHA-256,
so a copy of the database does not let anyone in. Each session has its own CSRF token that every
POST must carry. A session ends after ``idle_s`` without a request, after ``MAX_AGE_S`` in any case,
at logout, or when the account is disabled or its password changes.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from dataclasses import dataclass

COOKIE = "sitegate_session"
MAX_AGE_S = 12 * 3600        # a shift; a forgotten office PC does not stay logged in for days
TOUCH_EVERY_S = 30           # last-seen is written at most this often (one small write, not one per request)


@dataclass(frozen=True)
class Session:
    token_hash: str
    username: str
    display_name: str
    role: str
    csrf: str
    created_ts: float
    last_seen_ts: float

    def csrf_ok(self, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(presented.encode("utf-8"), self.csrf.encode("utf-8"))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Sessions:
    def __init__(self, store, idle_s: float):
        self.store = store
        self.idle_s = idle_s

    def create(self, user, now: float) -> tuple[str, Session]:
        """A new session for ``user``: returns (cookie token, session). Expired sessions are purged."""
        token = secrets.token_urlsafe(32)
        s = Session(token_hash(token), user.username, user.display_name, user.role,
                    secrets.token_urlsafe(32), now, now)
        oldest_alive = now - self.idle_s

        def job(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM sessions WHERE last_seen_ts < ? OR created_ts < ?",
                         (oldest_alive, now - MAX_AGE_S))
            conn.execute("INSERT INTO sessions(token_hash, username, csrf, created_ts, last_seen_ts) "
                         "VALUES (?, ?, ?, ?, ?)", (s.token_hash, s.username, s.csrf, now, now))

        self.store.write(job)
        return token, s

    def lookup(self, token: str | None, now: float) -> Session | None:
        """The live session for a cookie value, or None. Refreshes its idle timer."""
        if not token or len(token) > 128:
            return None
        h = token_hash(token)
        rows = self.store.query(
            "SELECT s.*, u.display_name, u.role, u.disabled FROM sessions s JOIN users u USING (username) "
            "WHERE s.token_hash = ?", (h,))
        if not rows:
            return None
        r = rows[0]
        if r["disabled"] or r["last_seen_ts"] + self.idle_s < now or r["created_ts"] + MAX_AGE_S < now:
            self.end(token)
            return None
        if now - r["last_seen_ts"] >= TOUCH_EVERY_S:
            self.store.write(lambda c: c.execute(
                "UPDATE sessions SET last_seen_ts = ? WHERE token_hash = ?", (now, h)), timeout=10)
        return Session(h, r["username"], r["display_name"], r["role"], r["csrf"], r["created_ts"],
                       max(now, r["last_seen_ts"]))

    def end(self, token: str) -> None:
        h = token_hash(token)
        self.store.write(lambda c: c.execute("DELETE FROM sessions WHERE token_hash = ?", (h,)))
