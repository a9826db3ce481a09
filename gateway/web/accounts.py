"""Clerk accounts (table ``users``): create, list, disable, change password, and the per-user lockout.

Used by ``sitegate user …`` and by the login page. Passwords are only ever handled as scrypt hashes
(``sitegate.web.passwords``); a change of password or a disabled account ends the user's sessions.
"""
from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass

from sitegate.errors import UsageError
from sitegate.web.passwords import DUMMY_HASH, hash_password, verify_password

ROLES = ("clerk", "admin")
MAX_FAILURES = 5                 # failed logins in a row before the account locks
LOCK_SECONDS = 15 * 60
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")


@dataclass(frozen=True)
class User:
    username: str
    display_name: str
    role: str
    disabled: bool
    failed_logins: int
    locked_until: float
    created_ts: float

    def public_dict(self) -> dict:
        return {"username": self.username, "display_name": self.display_name, "role": self.role,
                "disabled": self.disabled, "locked_until": self.locked_until or None, "created_ts": self.created_ts}


def check_username(username: str) -> str:
    if not _USERNAME.fullmatch(username or ""):
        raise UsageError(f"user name {username!r} must be 1-64 letters, digits, '_', '.', '@' or '-' "
                         "and start with a letter or digit")
    return username


def _user(r: sqlite3.Row) -> User:
    return User(r["username"], r["display_name"], r["role"], bool(r["disabled"]), r["failed_logins"],
                r["locked_until"], r["created_ts"])


class LoginOutcome:
    OK = "ok"
    BAD = "bad"          # unknown user, wrong password or disabled: the same answer for all three
    LOCKED = "locked"


class Accounts:
    def __init__(self, store):
        self.store = store

    # -- reads -------------------------------------------------------------------------------
    def get(self, username: str) -> User | None:
        rows = self.store.query("SELECT * FROM users WHERE username = ?", (username,))
        return _user(rows[0]) if rows else None

    def list(self) -> list[User]:
        return [_user(r) for r in self.store.query("SELECT * FROM users ORDER BY username")]

    # -- administration (the CLI) ------------------------------------------------------------
    def add(self, username: str, password: str, *, display_name: str = "", role: str = "clerk",
            actor: str = "") -> User:
        check_username(username)
        if role not in ROLES:
            raise UsageError(f"role {role!r} must be one of {', '.join(ROLES)}")
        if len(display_name) > 64:
            raise UsageError("the display name must have at most 64 characters")
        hashed = hash_password(password)

        def job(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
                raise UsageError(f"user {username!r} already exists (use `sitegate user passwd` to change the password)")
            now = time.time()
            conn.execute("INSERT INTO users(username, display_name, password_hash, role, created_ts) "
                         "VALUES (?, ?, ?, ?, ?)", (username, display_name, hashed, role, now))
            _audit(conn, actor, "user.add", username, f"role {role}")

        self.store.write(job)
        return self.get(username)  # type: ignore[return-value]

    def set_password(self, username: str, password: str, *, actor: str = "") -> None:
        hashed = hash_password(password)
        self._update(username, "user.passwd", "password_hash = ?, failed_logins = 0, locked_until = 0",
                     (hashed,), end_sessions=True, actor=actor)

    def set_disabled(self, username: str, disabled: bool, *, actor: str = "") -> None:
        self._update(username, "user.disable" if disabled else "user.enable", "disabled = ?",
                     (int(disabled),), end_sessions=disabled, actor=actor)

    def unlock(self, username: str, *, actor: str = "") -> None:
        self._update(username, "user.unlock", "failed_logins = 0, locked_until = 0", (), actor=actor)

    def _update(self, username: str, action: str, assignments: str, args: tuple, *,
                end_sessions: bool = False, actor: str = "") -> None:
        def job(conn: sqlite3.Connection) -> None:
            n = conn.execute(f"UPDATE users SET {assignments} WHERE username = ?", (*args, username)).rowcount
            if not n:
                raise UsageError(f"no user {username!r} (see `sitegate user list`)")
            if end_sessions:
                conn.execute("DELETE FROM sessions WHERE username = ?", (username,))
            _audit(conn, actor, action, username, "")

        self.store.write(job)

    # -- logging in --------------------------------------------------------------------------
    def check_login(self, username: str, password: str, now: float) -> tuple[str, User | None]:
        """Check a login attempt and keep the per-user failure count. Returns (outcome, user).

        The password is checked even for an unknown or locked user name (against a dummy hash), so
        the time taken does not tell which user names exist.
        """
        user = self.get(username) if _USERNAME.fullmatch(username or "") else None
        ok = verify_password(password, self._hash_of(username) if user else DUMMY_HASH)
        if user is not None and user.locked_until > now:
            return LoginOutcome.LOCKED, None
        if user is None or user.disabled or not ok:
            if user is not None:
                locked = self._record_failure(username, now)
                if locked:
                    return LoginOutcome.LOCKED, None
            return LoginOutcome.BAD, None
        if user.failed_logins or user.locked_until:
            self.store.write(lambda c: c.execute(
                "UPDATE users SET failed_logins = 0, locked_until = 0 WHERE username = ?", (username,)))
        return LoginOutcome.OK, user

    def _hash_of(self, username: str) -> str:
        rows = self.store.query("SELECT password_hash FROM users WHERE username = ?", (username,))
        return rows[0][0] if rows else DUMMY_HASH

    def _record_failure(self, username: str, now: float) -> bool:
        """Count one failure (one transaction: concurrent attempts cannot lose a count); True when
        this failure locked the account."""
        def job(conn: sqlite3.Connection) -> bool:
            r = conn.execute("SELECT failed_logins, locked_until FROM users WHERE username = ?", (username,)).fetchone()
            if r is None:
                return False
            # a lock that has run out starts a fresh count
            failures = (1 if 0 < r["locked_until"] <= now else r["failed_logins"] + 1)
            locked_until = now + LOCK_SECONDS if failures >= MAX_FAILURES else 0
            conn.execute("UPDATE users SET failed_logins = ?, locked_until = ? WHERE username = ?",
                         (0 if locked_until else failures, locked_until, username))
            if locked_until:
                _audit(conn, "web", "user.locked", username, f"{failures} failed logins")
            return bool(locked_until)

        return self.store.write(job)


def _audit(conn: sqlite3.Connection, actor: str, action: str, subject: str, detail: str) -> None:
    conn.execute("INSERT INTO audit(ts, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
                 (time.time(), actor or "-", action, subject, detail))
