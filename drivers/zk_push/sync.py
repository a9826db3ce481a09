"""The command queue that makes a ZKTeco terminal's user list equal the admitted workers.

Pure logic (no I/O, the time is passed in) so it can be tested without HTTP. The driver feeds it
the roster (``plan``), hands out commands when the terminal polls (``take``), and reports the
terminal's results (``result``) and what the terminal says it holds (``learn``).

What the terminal holds is tracked as ``known``: PIN -> digest of (name, card), updated only when
the terminal confirms a command (Return 0) or reports a user. The driver keeps ``known`` in its
persistent state, so after a gateway restart the queue is rebuilt from the roster: upserts for
users whose digest differs, deletes for PINs no longer admitted. Digests, not names, are kept:
the state table is not the place for personal data.

A command that fails (Return != 0) or gets no result within ``resend_after_s`` is re-sent with a
new id, up to ``max_attempts`` times; then it is given up and listed in ``failed`` (the driver
reports DEGRADED) until the next ``plan``.
"""
from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Iterable, Literal

from . import commands
from .commands import Command, CommandResult

if TYPE_CHECKING:
    from sitegate.buffer.roster import Worker

ADMIN_MARK = "admin"     # ``known`` digest of a terminal administrator: never deleted by a sync
Kind = Literal["upsert", "delete", "query"]


@dataclass(frozen=True)
class DeviceUser:
    """What the gateway wants on the terminal for one worker (never the ID number)."""

    pin: str
    name: str
    card: str = ""

    @property
    def digest(self) -> str:
        return user_digest(self.name, self.card)


def user_digest(name: str, card: str) -> str:
    data = f"{commands.clean_field(name)}\t{commands.clean_field(card)}".encode("utf-8", "replace")
    return hashlib.blake2s(data, digest_size=8).hexdigest()


def admitted_users(workers: Iterable["Worker"], today: date) -> dict[str, DeviceUser]:
    """The workers a face terminal may let in: active, not blacklisted, contract not ended,
    with a PIN assigned by the gateway."""
    out: dict[str, DeviceUser] = {}
    for w in workers:
        if w.pin is None or w.status != "active" or w.blacklisted:
            continue
        if w.valid_to and w.valid_to < today.isoformat():
            continue
        out[str(w.pin)] = DeviceUser(str(w.pin), w.name, w.card_no or "")
    return out


@dataclass
class Pending:
    kind: Kind
    pin: str
    text: str
    digest: str = ""
    attempts: int = 0
    sent_at: float | None = None
    last_code: int | None = None

    @property
    def summary(self) -> str:
        """For logs and health: the operation and PIN, never the name."""
        return {"upsert": f"DATA UPDATE USERINFO PIN={self.pin}", "delete": f"DATA DELETE USERINFO PIN={self.pin}",
                "query": commands.QUERY_USERS}[self.kind]


class UserSync:
    def __init__(self, known: dict[str, str] | None = None, next_id: int = 1, *, max_attempts: int = 3,
                 resend_after_s: float = 120.0, batch: int = 100):
        self.known: dict[str, str] = dict(known or {})
        self.next_id = max(1, next_id)
        self.max_attempts = max_attempts
        self.resend_after_s = resend_after_s
        self.batch = batch
        self.desired: dict[str, DeviceUser] | None = None
        self.queue: deque[Pending] = deque()
        self.inflight: dict[int, Pending] = {}
        self.failed: dict[str, Pending] = {}
        self._query_seen: dict[str, str] | None = None   # users reported since a query was sent
        self.changed = False                            # ``known`` changed since the driver saved it

    # -- planning --------------------------------------------------------------------------------
    def plan(self, desired: dict[str, DeviceUser]) -> int:
        """Aim at ``desired``; failed commands get a fresh chance. Returns the commands queued."""
        self.desired = dict(desired)
        self.failed.clear()
        return self._replan()

    def query_users(self) -> None:
        """Ask the terminal to report every user it holds (once, at start)."""
        if not any(p.kind == "query" for p in (*self.queue, *self.inflight.values())):
            self.queue.appendleft(Pending("query", "", commands.QUERY_USERS))

    def _replan(self) -> int:
        if self.desired is None:
            return 0
        expected = dict(self.known)
        for p in self.inflight.values():
            _apply(p, expected)
        keep = [p for p in self.queue if p.kind == "query"]
        user_cmds: list[Pending] = []
        for pin in sorted(self.desired, key=_pin_order):
            user = self.desired[pin]
            if expected.get(pin) not in (user.digest, ADMIN_MARK) and pin not in self.failed:
                user_cmds.append(Pending("upsert", pin, commands.user_update(pin, user.name, user.card), user.digest))
        for pin in sorted(expected, key=_pin_order):
            if pin not in self.desired and expected[pin] != ADMIN_MARK and pin not in self.failed:
                user_cmds.append(Pending("delete", pin, commands.user_delete(pin)))
        # keep the attempt counts of commands that were already waiting for a retry
        retrying = {(p.kind, p.pin, p.text): p.attempts for p in self.queue}
        for p in user_cmds:
            p.attempts = retrying.get((p.kind, p.pin, p.text), 0)
        self.queue = deque(keep + user_cmds)
        return len(user_cmds)

    # -- the terminal polls ----------------------------------------------------------------------
    def take(self, now: float, limit: int | None = None) -> list[Command]:
        out: list[Command] = []
        while self.queue and len(out) < (limit or self.batch):
            p = self.queue.popleft()
            cmd_id = self.next_id
            self.next_id += 1
            p.sent_at = now
            self.inflight[cmd_id] = p
            out.append(Command(cmd_id, p.text))
            if p.kind == "query":
                self._query_seen = {}
        return out

    def expire(self, now: float) -> int:
        """Commands sent but never answered (the terminal rebooted, the reply was lost)."""
        late = [i for i, p in self.inflight.items() if p.sent_at is not None and now - p.sent_at > self.resend_after_s]
        for cmd_id in late:
            self._failed_attempt(self.inflight.pop(cmd_id), None)
        return len(late)

    # -- the terminal answers --------------------------------------------------------------------
    def result(self, res: CommandResult) -> str:
        """Returns what became of it: ok, retry, gave_up, failed (a query) or unknown."""
        p = self.inflight.pop(res.id, None)
        if p is None:
            return "unknown"   # sent before a gateway restart, or a repeated result
        if res.ok:
            if p.kind == "query":
                if self._query_seen is not None:
                    # the terminal's full list: what it did not report is not there
                    self.known = {pin: d for pin, d in self._query_seen.items()}
                    self._query_seen = None
                    self.changed = True
                    self._replan()
                return "ok"
            _apply(p, self.known)
            self.changed = True
            return "ok"
        return self._failed_attempt(p, res.code)

    def _failed_attempt(self, p: Pending, code: int | None) -> str:
        p.attempts += 1
        p.last_code = code
        p.sent_at = None
        if p.kind == "query":
            self._query_seen = None
            return "failed"     # firmware without the query: harmless, the sync goes on from ``known``
        if p.attempts >= self.max_attempts:
            self.failed[p.pin] = p
            return "gave_up"
        self.queue.append(p)
        return "retry"

    def learn(self, pin: str, name: str, card: str, *, admin: bool = False) -> None:
        """The terminal reported a user (OPERLOG ``USER`` line: enrolment at the terminal or the
        answer to a query)."""
        digest = ADMIN_MARK if admin else user_digest(name, card)
        if self._query_seen is not None:
            self._query_seen[pin] = digest
        if self.known.get(pin) != digest:
            self.known[pin] = digest
            self.changed = True
            self._replan()

    # -- state -----------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return bool(self.queue or self.inflight)

    def failure_reason(self) -> str:
        if not self.failed:
            return ""
        first = next(iter(self.failed.values()))
        code = "no answer" if first.last_code is None else f"Return={first.last_code}"
        return (f"{len(self.failed)} user command(s) failed {self.max_attempts} times; "
                f"e.g. {first.summary} ({code})")


def _apply(p: Pending, users: dict[str, str]) -> None:
    if p.kind == "upsert":
        users[p.pin] = p.digest
    elif p.kind == "delete":
        users.pop(p.pin, None)


def _pin_order(pin: str) -> tuple[int, str]:
    return (int(pin), "") if pin.isascii() and pin.isdigit() else (1 << 62, pin)
