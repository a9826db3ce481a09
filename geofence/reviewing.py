"""Which geofence clock-ins go to the clerk's review queue, and keeping the queue in step.

The rule (docs/phones.md, "What the clerk reviews"). Each fix also feeds the worker's *shadow*
tracker with its best guess (:mod:`sitegate.geofence.state`; a network/cell fix whose accuracy
circle reaches across the edge gives no guess). A fix is *doubtful* at a fence when
it carries a spoof flag or its judgement there is UNCERTAIN (near the edge, accuracy missing/0/too
large, stale, ahead of the clock). Then, per worker and fence:

1. the shadow clocks the worker in/out, the real tracker does not, and the run that led there had
   a doubtful fix: a *would-be* clock-in/out, one review item;
2. the shadow returns to the real state while an item for the opposite direction is open: with
   doubtful fixes this is a would-be transition too (the clerk gets the pair: in and out of a
   mock-location phone); with clean fixes the open item is withdrawn (the worker was back in,
   or never left, by trustworthy fixes);
3. at most one open item per (worker, fence, direction): later would-be transitions of an episode
   are counted, not queued, so a worker at the fence edge all night makes at most two items;
4. when the real tracker records the transition itself (clean fixes arrived), an open item for it
   is closed as superseded, naming the event;
5. the clerk's decision feeds back: an accepted item sets the worker's real state from its time
   (clean fixes then do not clock the worker in a second time); a rejected one resets the shadow,
   so a new episode may be queued again.

Lone doubtful fixes (a near-edge heartbeat on the side the worker already is, a single poor fix,
a cell position far away while inside) never reach the queue: only runs that would have changed
the state do.
Items closed automatically (4, 2) are rejected by actor ``sitegate`` with the reason in the note.
"""
from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

from sitegate.buffer.reviews import ReviewQueue
from sitegate.drivers.api import Observation
from sitegate.errors import UsageError
from sitegate.geofence.hysteresis import IN, OUT, HysteresisConfig, Transition
from sitegate.geofence.records import review_event
from sitegate.geofence.state import WorkerState, copy_entry, review_slot, set_entry
from sitegate.policy import GatePolicy

log = logging.getLogger(__name__)

ACTOR = "sitegate"
KIND = "geofence"


def _other(direction: str) -> str:
    return OUT if direction == IN else IN


class ReviewDesk:
    def __init__(self, store, roster, config: HysteresisConfig, *, timezone: str = "Asia/Shanghai"):
        self.queue = ReviewQueue(store)
        self.store = store
        self.config = config
        self.tz = ZoneInfo(timezone)
        # Decides admit/deny for the would-be event exactly as the gate would (blacklisted, left, …)
        # but keeps its own bookkeeping: a review is not a passage (no repeat or anti-passback).
        self.policy = GatePolicy(roster, repeat_window_s=0.0, anti_passback=False)
        self.counts: Counter[str] = Counter()

    # -- the clerk's decisions -----------------------------------------------------------------
    def sync(self, worker_id: str, ws: WorkerState) -> bool:
        """Apply the clerk's decisions on this worker's open items; True if anything changed."""
        if not ws.reviews:
            return False
        ids = {int(v["id"]): slot for slot, v in ws.reviews.items()}
        marks = ",".join("?" * len(ids))
        rows = self.store.query(f"SELECT id, status FROM reviews WHERE id IN ({marks})", tuple(ids))
        status = {r["id"]: r["status"] for r in rows}
        decided = sorted(((slot, status.get(i, "missing")) for i, slot in ids.items() if status.get(i) != "open"),
                         key=lambda d: ws.reviews[d[0]]["confirmed_at"])
        for slot, how in decided:
            item = ws.reviews.pop(slot)
            fence_id, direction = slot.split("\t")
            if how == "accepted":
                ws.real = set_entry(ws.real, worker_id, fence_id, direction, float(item["confirmed_at"]), self.config)
                self.counts["accepted"] += 1
            else:
                ws.shadow = copy_entry(ws.real, ws.shadow, worker_id, fence_id, self.config)
                ws.doubts.pop(fence_id, None)
                self.counts["rejected"] += 1
        return bool(decided)

    # -- after the real tracker recorded a transition ---------------------------------------------
    def recorded(self, worker_id: str, ws: WorkerState, fence_id: str, direction: str, event_id: str | None) -> None:
        """The gateway recorded this transition itself: close the open item for it, resynchronise
        the shadow with the real state."""
        item = ws.reviews.pop(review_slot(fence_id, direction), None)
        if item is not None:
            self._close(int(item["id"]), f"superseded: the clock-{direction} was recorded from clean fixes"
                                         + (f" as event {event_id}" if event_id else ""))
            self.counts["superseded"] += 1
        ws.shadow = copy_entry(ws.real, ws.shadow, worker_id, fence_id, self.config)
        ws.doubts.pop(fence_id, None)

    # -- the shadow moved ----------------------------------------------------------------------
    def consider(self, worker_id: str, ws: WorkerState, transition: Transition, doubtful_now: bool,
                 make_observation) -> int | None:
        """One shadow transition the real tracker did not make. ``make_observation()`` builds the
        would-be Observation (only called when an item is made). Returns the new item's id."""
        fence_id = transition.fence_id
        target = IN if transition.kind == "clock_in" else OUT
        real_state = ws.real.state(worker_id, fence_id)
        doubts = list(ws.doubts.pop(fence_id, []))
        doubtful = doubtful_now or bool(doubts)
        opposite = review_slot(fence_id, _other(target))
        if target == real_state:
            if opposite not in ws.reviews:
                return None                       # the shadow merely caught up with the real state
            if not doubtful:
                item = ws.reviews.pop(opposite)
                self._close(int(item["id"]), f"withdrawn: clean fixes put the worker {target} again "
                                             f"from {self._time(transition.at)}; state unchanged")
                self.counts["withdrawn"] += 1
                return None
        elif not doubtful:
            return None                           # clean evidence: the real tracker decides on its own
        slot = review_slot(fence_id, target)
        if slot in ws.reviews:
            self.counts["suppressed"] += 1
            return None
        obs: Observation = make_observation()
        verdict = self.policy.decide(obs, obs.direction)
        event = review_event(obs, verdict.decision, verdict.worker)
        reasons = [{"code": "would_" + transition.kind,
                    "message": f"would {transition.kind.replace('_', ' ')} at fence {fence_id}: fixes from "
                               f"{self._time(transition.at)} to {self._time(transition.confirmed_at)}, "
                               "not all of them trustworthy"},
                   *doubts]
        item_id = self.queue.add(KIND, event, reasons)
        ws.reviews[slot] = {"id": item_id, "at": transition.at, "confirmed_at": transition.confirmed_at}
        self.counts["queued"] += 1
        log.info("geofence review item %d: would-be %s at %s (%s)", item_id, transition.kind, fence_id,
                 ", ".join(r["code"] for r in reasons[1:]) or "doubtful fix")
        return item_id

    def _time(self, epoch_s: float) -> str:
        return datetime.fromtimestamp(epoch_s, self.tz).strftime("%Y-%m-%d %H:%M:%S")

    def _close(self, item_id: int, note: str) -> None:
        try:
            self.queue.reject(item_id, ACTOR, note)
        except UsageError:
            pass                                   # the clerk decided it first: theirs stands
