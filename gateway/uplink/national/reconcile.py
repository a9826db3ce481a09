"""Reconciliation: is a record of an ``unknown`` batch on the platform already? And what follows.

The platform has no event id; it knows a record by (ID number, date, direction)
(reference/protocols.md §5). ``Presence`` asks ``WorkerAttendance.Query`` for the team's records
of the day and matches those keys; ``plan`` turns the answer into moves (pure, tested alone):

=========  ======================  =================================  =================================
why        all found               none found                         some found
=========  ======================  =================================  =================================
lost       delivered               resend the byte-identical data     found delivered, rest pending
rejected   delivered               pending (a new batch)              found delivered, rest pending
expired    delivered               pending (a new batch)              found delivered, rest pending
failed     delivered               split in halves (one left: dead)   found delivered, rest split
=========  ======================  =================================  =================================

When the platform cannot answer (``QueryUnavailable``: -3 no permission, -1 fields not served)
``found`` is None: a lost batch is resent identically after the grace period and the others are
handed back — the platform de-duplicates by natural key — and the engine counts these as
"resent without reconciliation". A lost record is a worker's lost pay; a repeated one is dropped
by the platform's key.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from sitegate.uplink.national.batches import BATCH_FAILED, EXPIRED, LOST, REJECTED
from sitegate.uplink.national.payloads import NaturalKey, day_of, halves, normal_date

log = logging.getLogger(__name__)

CACHE_TTL_S = 120.0  # a team's day, fetched once, serves every batch that became due before the fetch


class QueryUnavailable(Exception):
    """The platform will not answer WorkerAttendance.Query for this appid (the message says why)."""


@dataclass(frozen=True)
class Member:
    index: int          # position in the batch's dataList
    event_id: str
    key: NaturalKey


@dataclass
class Plan:
    delivered: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    dead: list[Member] = field(default_factory=list)
    split: list[list[Member]] = field(default_factory=list)
    resend_identical: bool = False
    unreconciled: bool = False   # decided without the platform's answer


def plan(kind: str, members: Sequence[Member], found: set[NaturalKey] | None, *,
         whole_batch: bool) -> Plan:
    """What to do with the still-inflight ``members`` of an unknown batch of kind ``kind``.

    ``whole_batch``: every record of the batch is still inflight (only then may its identical
    data be resent: a record already settled must not go again)."""
    if kind not in (LOST, REJECTED, EXPIRED, BATCH_FAILED):
        raise ValueError(f"unknown reconcile kind {kind!r}")
    out = Plan(unreconciled=found is None)
    present = [m for m in members if found is not None and m.key in found]
    missing = [m for m in members if found is None or m.key not in found]
    out.delivered = [m.event_id for m in present]
    if not missing:
        return out
    if kind == LOST and not present and whole_batch:
        out.resend_identical = True
        return out
    if kind == BATCH_FAILED:
        if len(missing) == 1:
            out.dead = missing
        else:
            out.split = [[missing[i] for i in part] for part in halves(range(len(missing)))]
        return out
    out.pending = [m.event_id for m in missing]
    return out


class Presence:
    """Which natural keys of a team's day the platform holds, from WorkerAttendance.Query.

    ``fetch(day, team)`` returns the rows (ID numbers decrypted) or raises; it is the client's
    ``attendance_records``. A cached day serves a batch only if it was fetched after the batch
    became due (``not_before``): the records a lost POST stored are then already in it."""

    def __init__(self, fetch: Callable[[str, int], Iterable[dict]], *, clock: Callable[[], float] = time.time):
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[tuple[int, str], tuple[float, frozenset[NaturalKey]]] = {}
        self.queries = 0

    def found(self, keys: Iterable[NaturalKey], team_sys_no: int, not_before: float) -> set[NaturalKey]:
        wanted = set(keys)
        present: set[NaturalKey] = set()
        for day in sorted({day_of(k[1]) for k in wanted}):
            present |= wanted & self._day(team_sys_no, day, not_before)
        return present

    def _day(self, team: int, day: str, not_before: float) -> frozenset[NaturalKey]:
        now = self._clock()
        with self._lock:
            for k in [k for k, (at, _) in self._cache.items() if now - at > CACHE_TTL_S]:
                del self._cache[k]
            hit = self._cache.get((team, day))
        if hit is not None and hit[0] >= not_before:
            return hit[1]
        fetched_at = self._clock()
        keys = set()
        for row in self._fetch(day, team):
            date = normal_date(row.get("date"))
            number = row.get("idCardNumber")
            if date is None or not isinstance(number, str):
                continue
            keys.add((number.strip().upper(), date, str(row.get("direction", ""))))
        self.queries += 1
        frozen = frozenset(keys)
        with self._lock:
            self._cache[(team, day)] = (fetched_at, frozen)
        return frozen

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()
