"""Logging in: the password check, the lockouts, and the session it opens.

Two limits, as OWASP's Authentication Cheat Sheet advises ("Account Lockout", "Login Throttling"):

- per user name: 5 failures in a row lock it for 15 minutes. Known users are counted in the
  ``users`` table (survives a restart); unknown names are counted in memory the same way, so the
  lock message does not reveal which names exist;
- per client address: 20 failures within 15 minutes refuse that address for the rest of the window
  (one address guessing many names).

Wrong password, unknown user and disabled account get the same message.
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass

from sitegate.idcard import mask_text
from sitegate.web.accounts import LOCK_SECONDS, MAX_FAILURES, Accounts, LoginOutcome
from sitegate.web.sessions import Session, Sessions

log = logging.getLogger(__name__)

IP_MAX_FAILURES = 20
IP_WINDOW_S = 15 * 60
_MAX_TRACKED = 10_000      # bound the memory an attacker can make us spend on names and addresses

MSG_BAD = "用户名或密码错误"
MSG_LOCKED = f"登录失败次数过多，该账户已锁定 {LOCK_SECONDS // 60} 分钟，请稍后再试"
MSG_IP = "此地址登录失败次数过多，请稍后再试"


@dataclass(frozen=True)
class LoginResult:
    session: Session | None
    token: str | None
    message: str = ""
    status: int = 200           # 401 wrong credentials, 429 locked / throttled

    @property
    def ok(self) -> bool:
        return self.session is not None


class _Bounded(OrderedDict):
    """An insertion-ordered dict that forgets its oldest entries beyond a size."""

    def __init__(self, limit: int):
        super().__init__()
        self.limit = limit

    def touch(self, key, value) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.limit:
            self.popitem(last=False)


class LoginGuard:
    """In-memory failure counts: per client address, and per unknown user name."""

    def __init__(self):
        self._lock = threading.Lock()
        self._ip: _Bounded = _Bounded(_MAX_TRACKED)          # ip -> deque of failure times
        self._names: _Bounded = _Bounded(_MAX_TRACKED)       # unknown name -> (failures, locked_until)

    def ip_blocked(self, ip: str, now: float) -> bool:
        with self._lock:
            times = self._ip.get(ip)
            if not times:
                return False
            while times and times[0] <= now - IP_WINDOW_S:
                times.popleft()
            return len(times) >= IP_MAX_FAILURES

    def ip_failed(self, ip: str, now: float) -> None:
        with self._lock:
            times = self._ip.get(ip) or deque(maxlen=IP_MAX_FAILURES)
            times.append(now)
            self._ip.touch(ip, times)

    def name_locked(self, name: str, now: float) -> bool:
        with self._lock:
            _failures, until = self._names.get(name, (0, 0.0))
            return until > now

    def name_failed(self, name: str, now: float) -> bool:
        """Count a failure for a name that is not an account; True when it is now locked."""
        with self._lock:
            failures, until = self._names.get(name, (0, 0.0))
            failures = 1 if 0 < until <= now else failures + 1
            if failures >= MAX_FAILURES:
                self._names.touch(name, (0, now + LOCK_SECONDS))
                return True
            self._names.touch(name, (failures, 0.0))
            return False


class Login:
    """The login flow the pages and the JSON API share."""

    def __init__(self, accounts: Accounts, sessions: Sessions, guard: LoginGuard | None = None):
        self.accounts = accounts
        self.sessions = sessions
        self.guard = guard or LoginGuard()

    def attempt(self, username: str, password: str, ip: str, now: float) -> LoginResult:
        username = (username or "").strip()[:128]
        if self.guard.ip_blocked(ip, now):
            return LoginResult(None, None, MSG_IP, 429)
        if self.guard.name_locked(username, now):
            return LoginResult(None, None, MSG_LOCKED, 429)
        outcome, user = self.accounts.check_login(username, password or "", now)
        if outcome == LoginOutcome.OK and user is not None:
            token, session = self.sessions.create(user, now)
            self.accounts.store.audit(user.username, "web.login", ip)
            return LoginResult(session, token)
        self.guard.ip_failed(ip, now)
        if outcome == LoginOutcome.BAD and self.accounts.get(username) is None:
            if self.guard.name_failed(username, now):
                outcome = LoginOutcome.LOCKED
        # people do type an ID number into the name box: the log line is masked like any other
        log.warning("failed login for %s from %s (%s)", mask_text(repr(username)), ip, outcome)
        if outcome == LoginOutcome.LOCKED:
            return LoginResult(None, None, MSG_LOCKED, 429)
        return LoginResult(None, None, MSG_BAD, 401)
