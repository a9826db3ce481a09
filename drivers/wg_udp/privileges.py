"""Controller mode: which cards a WG controller should admit, and the fewest calls that get it there.

A site roster holds up to 50,000 workers and every privilege is one UDP round trip (0x50 put,
0x52 delete; reference/protocols.md §2), so the whole table is never re-sent on a roster change.
The driver keeps what it has put on the controller (``PushedTable``, persisted in the device
state) and sends only the difference (``plan``).

Is that record still true? At the driver's start the sync *verifies* it: each card it put there
is read back (0x5A) and the privilege count (0x58) is compared with the cards found, so a
controller whose memory was cleared, that was replaced or edited by hand is put right, one round
trip per card, between swipes. Later syncs (roster changes, every few minutes) compare the count
only: a mismatch sends every wanted privilege again. Cards that nobody here put there cannot be
named (the protocol has no "list privileges"): then the table is cleared (0x54) and filled again —
the one case with a short window in which the controller refuses cards (those swipes are
recorded as denied).

Validity: a worker's contract end (``valid_to``) when the roster has one; otherwise a rolling
``valid_days`` from today, re-sent only once less than half of it is left (not every day).
``valid_from`` is a fixed past date so a controller whose clock is behind never refuses a card.
"""
from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

from sitegate.errors import SitegateError

from .messages import Privilege

if TYPE_CHECKING:
    from sitegate.buffer.roster import Worker

    from .client import WgClient

log = logging.getLogger(__name__)

VALID_FROM = date(2000, 1, 1)
STATE_KEY = "privileges"    # device state key of the pushed table
MAX_CARD = 0xFFFFFFFF


def doors_for(door: int) -> tuple[bool, bool, bool, bool]:
    return tuple(d == door for d in (1, 2, 3, 4))  # type: ignore[return-value]


def card_number(text: str | None) -> int | None:
    """A roster card number as the controller stores it (u32), or None when it cannot be one."""
    digits = (text or "").strip()
    if not digits.isascii() or not digits.isdigit():
        return None
    value = int(digits)
    return value if 0 < value <= MAX_CARD else None


@dataclass(frozen=True)
class Wanted:
    """The privileges the roster asks for; ``rolling`` cards have no contract end of their own."""

    privileges: dict[int, Privilege]
    rolling: frozenset[int] = frozenset()
    skipped: tuple[str, ...] = ()     # why some admitted workers got no privilege (bad card numbers)


def wanted(workers: Iterable[Worker], *, today: date, valid_days: int, door: int) -> Wanted:
    """Privileges for admitted workers (the caller passes only those) that have a card number."""
    doors = doors_for(door)
    out: dict[int, Privilege] = {}
    rolling: set[int] = set()
    skipped: list[str] = []
    for w in workers:
        if not w.card_no:
            continue
        card = card_number(w.card_no)
        if card is None:
            skipped.append(f"card number {w.card_no!r} of {w.masked_id} is not a number 1..{MAX_CARD}")
            continue
        until = _date(w.valid_to)
        if until is None:
            until, is_rolling = today + timedelta(days=valid_days), True
        else:
            is_rolling = False
        old = out.get(card)
        if old is not None and old.valid_to is not None and old.valid_to >= until:
            continue  # one card, two rows (a re-hired worker): the longer validity wins
        out[card] = Privilege(card, VALID_FROM, until, doors)
        rolling.discard(card)
        if is_rolling:
            rolling.add(card)
    return Wanted(out, frozenset(rolling), tuple(skipped))


def _date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        log.warning("roster valid_to %r is not YYYY-MM-DD: using the rolling validity", text)
        return None


@dataclass
class Plan:
    removes: list[int] = field(default_factory=list)
    puts: list[Privilege] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.removes) + len(self.puts)


def plan(want: Wanted, pushed: dict[int, Privilege], *, today: date, valid_days: int, force: bool = False) -> Plan:
    """Removes (first: a blacklisted card must go before anything else) and puts. ``force`` puts
    every wanted privilege, as when the controller's table is in doubt."""
    removes = sorted(card for card in pushed if card not in want.privileges)
    puts = []
    fresh_enough = today + timedelta(days=valid_days // 2)
    longest = today + timedelta(days=valid_days)
    for card, p in want.privileges.items():
        have = pushed.get(card)
        if force or have is None or have.doors != p.doors or have.valid_from != p.valid_from:
            puts.append(p)
        elif card in want.rolling:
            if have.valid_to is None or not fresh_enough <= have.valid_to <= longest:
                puts.append(p)
        elif have.valid_to != p.valid_to:
            puts.append(p)
    return Plan(removes, puts)


class PushedTable:
    """What this gateway put on one controller, kept in the device state between runs."""

    def __init__(self, serial: int, privileges: dict[int, Privilege] | None = None):
        self.serial = serial
        self.privileges: dict[int, Privilege] = dict(privileges or {})
        self.changes = 0            # since the last dump: the driver persists every so many

    def __len__(self) -> int:
        return len(self.privileges)

    def put(self, p: Privilege) -> None:
        self.privileges[p.card] = p
        self.changes += 1

    def remove(self, card: int) -> None:
        self.privileges.pop(card, None)
        self.changes += 1

    def clear(self) -> None:
        self.privileges.clear()
        self.changes += 1

    def dump(self) -> str:
        self.changes = 0
        cards = {str(c): f"{_ymd(p.valid_from)}:{_ymd(p.valid_to)}:{''.join('1' if d else '0' for d in p.doors)}"
                 for c, p in sorted(self.privileges.items())}
        return json.dumps({"serial": self.serial, "cards": cards}, separators=(",", ":"))

    @classmethod
    def load(cls, text: str | None, serial: int) -> PushedTable:
        """The stored table; an empty one when there is none, it is unreadable or for another
        controller (then the count check at the next sync finds out what the controller holds)."""
        if not text:
            return cls(serial)
        try:
            data = json.loads(text)
            if data.get("serial") != serial:
                return cls(serial)
            out = {}
            for card, value in data["cards"].items():
                start, end, mask = value.split(":")
                out[int(card)] = Privilege(int(card), _parse_ymd(start), _parse_ymd(end),
                                           tuple(c == "1" for c in mask))  # type: ignore[arg-type]
            return cls(serial, out)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("stored privilege table of controller %d unreadable (%s): rebuilding it", serial, exc)
            return cls(serial)


def _ymd(d: date | None) -> str:
    return d.strftime("%Y%m%d") if d else ""


def _parse_ymd(text: str) -> date | None:
    return date(int(text[:4]), int(text[4:6]), int(text[6:8])) if text else None


class PrivilegeSync:
    """One pass that brings the controller's table to ``want``, a call at a time: ``step(n)`` makes
    at most ``n`` calls, so the driver's loop serves swipes between steps. WgTimeout propagates
    (the driver reconnects; the table records every call that succeeded, so nothing is redone).
    ``verify``: read back every card in the table first (at start), else trust it if the count
    matches."""

    def __init__(self, client: WgClient, table: PushedTable, want: Wanted, *, today: date, valid_days: int,
                 verify: bool = False):
        self.client = client
        self.table = table
        self.want = want
        self.today = today
        self.valid_days = valid_days
        self.verify = verify
        self.calls = 0
        self.refused: list[int] = []      # cards the controller would not store (memory full?)
        self.cleared = False
        self.finished = False
        self._steps: Iterator[None] | None = None

    def step(self, budget: int) -> bool:
        """Make up to ``budget`` calls; True once the pass is complete."""
        if self._steps is None:
            self._steps = self._run()
        for _ in range(budget):
            try:
                next(self._steps)
            except StopIteration:
                self.finished = True
                return True
        return False

    def _run(self) -> Iterator[None]:
        count = self.client.privilege_count()
        yield
        if self.verify:
            present = 0
            for card, mine in list(self.table.privileges.items()):
                got = self.client.get_privilege(card)
                self.calls += 1
                yield
                present += got is not None
                if got != mine and card in self.want.privileges:
                    self.table.remove(card)          # not what we put there: put it again
            unknown = count - present               # cards on the controller we never put there
            if unknown:
                log.warning("controller %d holds %d privilege(s) this gateway did not put there", self.table.serial,
                            unknown)
            yield from self._apply(plan(self.want, self.table.privileges, today=self.today,
                                        valid_days=self.valid_days))
            doubt = unknown != 0
        else:
            doubt = count != len(self.table)
            if doubt:
                log.warning("controller %d holds %d privileges, this gateway put %d there: sending every wanted "
                            "privilege again", self.table.serial, count, len(self.table))
            yield from self._apply(plan(self.want, self.table.privileges, today=self.today,
                                        valid_days=self.valid_days, force=doubt))
        if not doubt:
            return
        count = self.client.privilege_count()
        yield
        if count == len(self.table):
            return
        log.warning("controller %d holds %d privileges for %d wanted: clearing its table (0x54) and "
                    "filling it again; cards are refused until it is full", self.table.serial, count, len(self.table))
        if not self.client.clear_privileges():
            raise_refused(self.table.serial, "clear its privileges")
        self.table.clear()
        self.cleared = True
        yield
        yield from self._apply(Plan(puts=list(self.want.privileges.values())))

    def _apply(self, changes: Plan) -> Iterator[None]:
        for card in changes.removes:
            self.client.delete_privilege(card)   # False: it was not there, which is what we want
            self.table.remove(card)
            self.calls += 1
            yield
        for p in changes.puts:
            if self.client.put_privilege(p):
                self.table.put(p)
            else:   # whatever the controller held for this card before still stands
                self.refused.append(p.card)
            self.calls += 1
            yield


def raise_refused(serial: int, what: str) -> None:
    from .client import WgError

    raise WgError(f"controller {serial} refused to {what}")


class PrivilegeKeeper:
    """The controller's privilege table over the driver's life: roster pushes queued from other
    threads, one pass at a time, the pushed table saved in the device state as it goes."""

    def __init__(self, serial: int, state_get: Callable[[str], str | None], state_set: Callable[[str, str], None],
                 *, door: int, valid_days: int, counters: Counter, persist_every: int = 1000,
                 calls_per_step: int = 50):
        self.serial, self.door, self.valid_days = serial, door, valid_days
        self.counters = counters
        self.persist_every, self.calls_per_step = persist_every, calls_per_step
        self.table = PushedTable.load(state_get(STATE_KEY), serial)
        self.refused: list[int] = []
        self.sync: PrivilegeSync | None = None
        self._set = state_set
        self._lock = threading.Lock()
        self._queued: list | None = None

    @property
    def syncing(self) -> bool:
        return self.sync is not None

    def request(self, workers: Iterable[Worker]) -> None:
        """From any thread: the loop starts a pass towards these workers at its next step."""
        with self._lock:
            self._queued = list(workers)

    def begin(self, client: WgClient, workers: Iterable[Worker], today: date, *, verify: bool = False) -> None:
        """Start a pass towards ``workers``; one that was still verifying hands that on."""
        running = self.sync
        verify = verify or (running is not None and running.verify and not running.finished)
        want = wanted(workers, today=today, valid_days=self.valid_days, door=self.door)
        for why in want.skipped[:5]:
            log.warning("controller %d: no privilege: %s", self.serial, why)
        self.sync = PrivilegeSync(client, self.table, want, today=today, valid_days=self.valid_days, verify=verify)

    def step(self, client: WgClient, today: Callable[[], date]) -> bool:
        """Take a queued roster push, make a few calls; True while there is work left."""
        with self._lock:
            queued, self._queued = self._queued, None
        if queued is not None:
            self.begin(client, queued, today())
        sync = self.sync
        if sync is None:
            return False
        done = sync.step(self.calls_per_step)
        if done or self.table.changes >= self.persist_every:
            self.save()
        if not done:
            return True
        self.sync, self.refused = None, sync.refused
        self.counters["privilege_syncs"] += 1
        self.counters["privilege_calls"] += sync.calls
        if sync.calls > 1:
            log.info("controller %d: %d privileges in place after %d call(s)%s", self.serial, len(self.table),
                     sync.calls, f"; {len(sync.refused)} refused" if sync.refused else "")
        return False

    def clear_all(self, client: WgClient) -> None:
        """Online mode: privileges would let the controller admit cards itself, past the gateway."""
        count = client.privilege_count()
        if count:
            log.info("controller %d: online mode, removing its %d privileges", self.serial, count)
            if not client.clear_privileges():
                raise_refused(self.serial, "clear its privileges")
        self.table.clear()
        self.save()

    def save(self) -> None:
        if not self.table.changes:
            return
        try:
            self._set(STATE_KEY, self.table.dump())
        except SitegateError as exc:   # the next start's verification finds out what the controller holds
            log.warning("controller %d: privilege table not saved: %s", self.serial, exc)
