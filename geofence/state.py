"""Who is in, per worker, kept across restarts: the hysteresis state of the clock-in intake.

For every worker (keyed by the blind index of the ID number, never the number) the intake keeps
two :class:`~sitegate.geofence.hysteresis.PresenceTracker` s:

- ``real``: fed what the engine counts (spoof-flagged and UNCERTAIN fixes change nothing); its
  transitions become attendance events;
- ``shadow``: fed every fix's best guess (flags ignored; an UNCERTAIN fix counts on the side of
  the edge its point lies). Where the shadow moves and the real one does not, a fix that was not
  trusted *would have* clocked the worker in or out: that is what goes to the clerk's review
  (see :mod:`sitegate.geofence.reviewing`).

Beside them: the open review items per (fence, direction) and the doubts (reasons) gathered
since the shadow's last move at each fence.

Persistence: one ``kv`` row per worker (``geofence.presence.<id_hash>``, JSON). Changes are
written at most every ``save_every_s`` (debounced) and a worker's row is written at once after
each clock-in/out; at start every row is read back. One tracker per worker keeps each write small
(a site has up to 50,000 workers).
"""
from __future__ import annotations

import json
import logging
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

from sitegate.geofence.hysteresis import OUT, HysteresisConfig, PresenceTracker

log = logging.getLogger(__name__)

KV_PREFIX = "geofence.presence."
STATE_VERSION = 1
MAX_DOUBTS = 8          # reasons kept per fence for the next review item


def review_slot(fence_id: str, direction: str) -> str:
    return f"{fence_id}\t{direction}"


@dataclass
class WorkerState:
    real: PresenceTracker
    shadow: PresenceTracker
    reviews: dict[str, dict[str, Any]] = field(default_factory=dict)   # review_slot -> {"id", "at", "confirmed_at"}
    doubts: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # fence -> [{code, message}]

    @classmethod
    def new(cls, config: HysteresisConfig) -> "WorkerState":
        return cls(PresenceTracker(config), PresenceTracker(config))

    def note_doubts(self, fence_id: str, reasons: list[dict[str, str]]) -> None:
        kept = self.doubts.setdefault(fence_id, [])
        for r in reasons:
            if r["code"] not in {k["code"] for k in kept} and len(kept) < MAX_DOUBTS:
                kept.append(r)

    def state(self, worker_id: str) -> str:
        """The real state: "in" when the worker is in at any fence, else "out"."""
        entries = self.real.to_dict()["entries"]
        return "in" if any(e["state"] == "in" for e in entries if e["worker_id"] == worker_id) else OUT

    def idle(self) -> bool:
        return len(self.real) == 0 and len(self.shadow) == 0 and not self.reviews and not self.doubts

    def to_dict(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, "real": self.real.to_dict(), "shadow": self.shadow.to_dict(),
                "reviews": self.reviews, "doubts": self.doubts}

    @classmethod
    def from_dict(cls, data: dict[str, Any], config: HysteresisConfig) -> "WorkerState":
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported presence state version {data.get('version')!r}")
        return cls(PresenceTracker.from_dict(data["real"], config), PresenceTracker.from_dict(data["shadow"], config),
                   {str(k): dict(v) for k, v in (data.get("reviews") or {}).items()},
                   {str(k): list(v) for k, v in (data.get("doubts") or {}).items()})


def set_entry(tracker: PresenceTracker, worker_id: str, fence_id: str, state: str, checkpoint: float,
              config: HysteresisConfig) -> PresenceTracker:
    """A copy of ``tracker`` where (worker, fence) is ``state`` as of ``checkpoint`` (a decision
    made elsewhere: an accepted review, a recorded event). Fixes after the checkpoint stay pending
    and are replayed from the new state; a later checkpoint already there wins."""
    data = tracker.to_dict()
    entry = next((e for e in data["entries"] if e["worker_id"] == worker_id and e["fence_id"] == fence_id), None)
    if entry is None:
        entry = {"worker_id": worker_id, "fence_id": fence_id, "state": OUT, "run": None, "checkpoint": None,
                 "pending": []}
        data["entries"].append(entry)
    if entry["checkpoint"] is not None and entry["checkpoint"] >= checkpoint:
        return tracker
    entry.update(state=state, run=None, checkpoint=checkpoint,
                 pending=[p for p in entry["pending"] if p[0] > checkpoint])
    return PresenceTracker.from_dict(data, config)


def copy_entry(source: PresenceTracker, target: PresenceTracker, worker_id: str, fence_id: str,
               config: HysteresisConfig) -> PresenceTracker:
    """``target`` with its (worker, fence) entry replaced by ``source``'s (resynchronise)."""
    src = next((e for e in source.to_dict()["entries"]
                if e["worker_id"] == worker_id and e["fence_id"] == fence_id), None)
    data = target.to_dict()
    data["entries"] = [e for e in data["entries"] if not (e["worker_id"] == worker_id and e["fence_id"] == fence_id)]
    if src is not None:
        data["entries"].append(src)
    return PresenceTracker.from_dict(data, config)


class TrackerView:
    """Looks like one PresenceTracker to the engine; really one per worker (``real`` or ``shadow``)."""

    def __init__(self, book: "PresenceBook", which: str):
        self._book, self._which = book, which

    def observe(self, worker_id: str, fence_id: str, fix_time: float, verdict: str):
        return getattr(self._book.get(worker_id), self._which).observe(worker_id, fence_id, fix_time, verdict)

    def state(self, worker_id: str, fence_id: str) -> str:
        ws = self._book.peek(worker_id)
        return getattr(ws, self._which).state(worker_id, fence_id) if ws else OUT


class PresenceBook:
    """Every worker's :class:`WorkerState`, loaded from and saved to the store. Used from the
    intake's one worker thread only (not thread-safe)."""

    def __init__(self, store, config: HysteresisConfig = HysteresisConfig(), *, save_every_s: float = 5.0,
                 monotonic=time.monotonic):
        self.store = store
        self.config = config
        self.save_every_s = save_every_s
        self._monotonic = monotonic
        self._workers: dict[str, WorkerState] = {}
        self._dirty: set[str] = set()
        self._last_flush = monotonic()
        self.real = TrackerView(self, "real")
        self.shadow = TrackerView(self, "shadow")

    def __len__(self) -> int:
        return len(self._workers)

    def get(self, worker_id: str) -> WorkerState:
        ws = self._workers.get(worker_id)
        if ws is None:
            ws = self._workers[worker_id] = WorkerState.new(self.config)
        return ws

    def peek(self, worker_id: str) -> WorkerState | None:
        return self._workers.get(worker_id)

    def replace(self, worker_id: str, ws: WorkerState) -> None:
        self._workers[worker_id] = ws
        self._dirty.add(worker_id)

    def snapshot(self, worker_id: str) -> dict[str, Any] | None:
        ws = self._workers.get(worker_id)
        return None if ws is None else ws.to_dict()

    def restore(self, worker_id: str, snapshot: dict[str, Any] | None) -> None:
        """Undo a request's changes (its event could not be stored)."""
        if snapshot is None:
            self._workers.pop(worker_id, None)
        else:
            self._workers[worker_id] = WorkerState.from_dict(snapshot, self.config)

    def mark_dirty(self, worker_id: str) -> None:
        self._dirty.add(worker_id)

    def with_open_reviews(self) -> list[tuple[str, WorkerState]]:
        return [(w, ws) for w, ws in self._workers.items() if ws.reviews]

    # -- persistence -------------------------------------------------------------------------
    def load(self) -> int:
        """Read every saved worker state; a row that cannot be read is logged and skipped."""
        rows = self.store.query("SELECT key, value FROM kv WHERE key >= ? AND key < ?",
                                (KV_PREFIX, KV_PREFIX[:-1] + chr(ord(KV_PREFIX[-1]) + 1)))
        for r in rows:
            worker_id = r["key"][len(KV_PREFIX):]
            try:
                self._workers[worker_id] = WorkerState.from_dict(json.loads(r["value"]), self.config)
            except (ValueError, KeyError, TypeError) as exc:
                log.error("presence state %s… unreadable, starting it afresh: %s", worker_id[:12], exc)
        return len(rows)

    def save(self, worker_ids: set[str] | list[str]) -> None:
        """Write these workers' states now (durable on return)."""
        rows = []
        for w in worker_ids:
            ws = self._workers.get(w)
            rows.append((KV_PREFIX + w, None if ws is None or ws.idle() else json.dumps(ws.to_dict(), separators=(",", ":"))))
        if not rows:
            return
        now = time.time()

        def job(conn: sqlite3.Connection) -> None:
            for key, value in rows:
                if value is None:
                    conn.execute("DELETE FROM kv WHERE key = ?", (key,))
                else:
                    conn.execute("INSERT INTO kv(key, value, updated_ts) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE "
                                 "SET value = excluded.value, updated_ts = excluded.updated_ts", (key, value, now))

        self.store.write(job)
        self._dirty.difference_update(worker_ids)

    def flush(self, *, force: bool = False) -> int:
        """Write the changed states if ``save_every_s`` has passed (or ``force``); returns how many."""
        if not self._dirty or (not force and self._monotonic() - self._last_flush < self.save_every_s):
            return 0
        dirty = set(self._dirty)
        self.save(dirty)
        self._last_flush = self._monotonic()
        return len(dirty)

    def forget_idle(self, now: float) -> int:
        """Drop workers with nothing under way (their rows are deleted at the next flush)."""
        idle = []
        for w, ws in self._workers.items():
            ws.real.forget_idle(now)
            ws.shadow.forget_idle(now)
            live = {e["fence_id"] for e in ws.shadow.to_dict()["entries"]}
            for fence_id in [f for f in ws.doubts if f not in live]:
                del ws.doubts[fence_id]           # doubts of a run that can no longer complete
            if ws.idle():
                idle.append(w)
        for w in idle:
            del self._workers[w]
            self._dirty.add(w)
        return len(idle)
