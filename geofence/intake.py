"""The daemon's geofence clock-in intake: signed fixes from workers' phones (``POST /api/clockin``
and, when enabled, MQTT) become attendance events, review items for the clerk, or refusals.

One request, in order:

1. verify (:func:`sitegate.geofence.clockin.parse_and_verify`) with the phone's key from the
   ``phones`` table (:mod:`.phones`); a refusal is answered 4xx with its reason and counted;
2. apply the clerk's decisions on this worker's open review items (:mod:`.reviewing`);
3. evaluate the fix (:class:`~sitegate.geofence.engine.GeofenceEngine`) against the worker's
   real hysteresis state, and its best guess against the shadow state (:mod:`.state`);
4. each clock-in/clock-out of the real state goes down the pipeline (``Pipeline.emit``): the gate
   policy admits or denies it (blacklisted, left, …) and it is stored durably either way;
5. would-be transitions of doubtful fixes go to the review queue (rules in :mod:`.reviewing`);
6. the worker's state is saved: at once after a clock-in/out, else debounced.

Requests are processed one at a time on one worker thread (the engine and the state are not
thread-safe; HTTP and MQTT threads wait for their answer). If the event cannot be stored the
request's state changes are undone and it is answered 503: the phone sends the fix again with a
new nonce. The answer formats are in docs/phones.md.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from sitegate.clock import Clock, Stamp
from sitegate.errors import SitegateError
from sitegate.geofence.clockin import ClockIn, ClockInRejected, parse_and_verify
from sitegate.geofence.decision import Judgement, Verdict
from sitegate.geofence.engine import Evaluation, GeofenceEngine
from sitegate.geofence.fences import FenceSet, parse_fences
from sitegate.geofence.guards import NonceCache, RateLimiter
from sitegate.geofence.hysteresis import IN, OUT, UNCERTAIN, Transition
from sitegate.geofence.phones import ActivePhone, PhoneKeyCache
from sitegate.geofence.records import allowed, direction_of, observation
from sitegate.geofence.reviewing import ReviewDesk
from sitegate.geofence.settings import IntakeSettings
from sitegate.geofence.state import PresenceBook, WorkerState, copy_entry, set_entry
from sitegate.idcard import mask

log = logging.getLogger(__name__)

# HTTP status per refusal reason (MQTT answers carry the same number in "status").
STATUS = {
    "too_large": 413, "bad_json": 400, "schema": 400, "bad_coordinates": 400,
    "unknown_phone": 401, "bad_signature": 401,
    "fix_time_window": 403, "topic_mismatch": 403,
    "replayed": 409, "replay_horizon": 409,
    "rate_limited": 429,
    "busy": 503, "store_unavailable": 503, "not_running": 503,
}
MAX_WAITING = 256            # requests queued for the worker thread before new ones are answered 503
ANSWER_TIMEOUT_S = 30.0
IDLE_SWEEP_S = 300.0         # forget idle workers, pick up the clerk's decisions this often
RECONCILE_DAYS = 2           # at start, events this recent correct the saved state


class _SourceKeys:
    """``<phone_id>:<nonce>`` for the first record a request makes, ``…:<n>`` for the n-th."""

    def __init__(self, clockin: ClockIn):
        self._base = f"{clockin.phone_id}:{clockin.nonce}"
        self._n = 0

    def next(self) -> str:
        self._n += 1
        return self._base if self._n == 1 else f"{self._base}:{self._n}"


def best_guess(judgement: Judgement, accuracy_m: float | None) -> str:
    """The shadow's verdict: the judgement when certain, else the side of the edge the point lies
    on -- except for a network/cell position whose accuracy circle reaches across the edge: that
    point says nothing about the side (a worker inside with a 800 m cell fix has not left)."""
    if judgement.verdict is not Verdict.UNCERTAIN:
        return judgement.verdict.value
    s = judgement.signed_distance_m
    if judgement.reason_code == "accuracy_too_large" and accuracy_m is not None and abs(s) < accuracy_m:
        return UNCERTAIN
    return IN if s >= 0 else OUT


class ClockInIntake:
    def __init__(self, cfg: Mapping[str, Any], store, pipeline, *, metrics=None, clock: Clock | None = None):
        self.cfg = cfg
        self.store = store
        self.pipeline = pipeline
        self.metrics = metrics
        self.clock = clock or Clock()
        self.settings = IntakeSettings.from_config(cfg)
        s = self.settings
        self.fences: FenceSet
        self.fences, problems = parse_fences(cfg.get("geofences") or [])
        for key, problem in problems:
            log.error("geofence %s: %s (fence ignored)", key, problem)
        self.book = PresenceBook(store, s.hysteresis, save_every_s=s.state_save_s)
        self.engine = GeofenceEngine(self.fences, decision=s.decision, hysteresis=s.hysteresis, spoof=s.spoof,
                                     tracker=self.book.real)  # type: ignore[arg-type]  # per-worker trackers
        self.nonces = NonceCache()
        self.limiter = RateLimiter(rate_per_s=s.rate_per_s, burst=s.rate_burst)
        self.keys = PhoneKeyCache(store)
        self.desk = ReviewDesk(store, pipeline.policy.roster, s.hysteresis,
                               timezone=(cfg.get("site") or {}).get("timezone") or "Asia/Shanghai")
        self.rejections: Counter[str] = Counter()      # refusals by reason
        self.counts: Counter[str] = Counter()          # accepted requests, events, reviews, …
        self.mqtt = None
        self._executor: ThreadPoolExecutor | None = None
        self._waiting = 0
        self._waiting_lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._next_sweep = 0.0

    # -- start / stop ------------------------------------------------------------------------
    def start(self) -> None:
        self.keys.refresh()
        loaded = self.book.load()
        adjusted = self._reconcile_with_events()
        log.info("clock-in intake: %d fence(s), %d phone(s), presence of %d worker(s) restored (%d corrected "
                 "from events)", len(self.fences), len(self.keys), loaded, adjusted)
        self._stop.clear()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="geofence-intake")
        self._next_sweep = time.monotonic() + IDLE_SWEEP_S
        self._ticker = threading.Thread(target=self._tick_loop, name="geofence-intake-ticker", daemon=True)
        self._ticker.start()
        if self.settings.mqtt_intake:
            from sitegate.geofence.mqtt_intake import MqttClockIns

            site = self.cfg.get("site") or {}
            self.mqtt = MqttClockIns((self.cfg.get("uplink") or {}).get("mqtt") or {}, self.settings.mqtt_topic,
                                     f"{site.get('gateway_id', 'sitegate')}-clockin", self.handle_mqtt)
            self.mqtt.start()

    def stop(self) -> None:
        if self.mqtt is not None:
            self.mqtt.stop()
            self.mqtt = None
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(10.0)
            self._ticker = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self.book.flush(force=True)

    # -- entry points ----------------------------------------------------------------------------
    def handle_http(self, body: bytes, remote_ip: str) -> tuple[int, dict[str, Any]]:
        """``POST /api/clockin``: (HTTP status, JSON answer)."""
        return self._submit(body, f"http {remote_ip}", None)

    def handle_mqtt(self, body: bytes, topic_phone_id: str) -> tuple[int, dict[str, Any]]:
        """A message on ``<topic>/<phone_id>``; the payload's phone_id must be the topic's."""
        return self._submit(body, f"mqtt {topic_phone_id}", topic_phone_id)

    def _submit(self, body: bytes, source: str, topic_phone: str | None) -> tuple[int, dict[str, Any]]:
        executor = self._executor
        if executor is None:
            return self._refuse("not_running", "the clock-in intake is not running")
        with self._waiting_lock:
            if self._waiting >= MAX_WAITING:
                return self._refuse("busy", f"{MAX_WAITING} clock-ins are waiting; send again shortly")
            self._waiting += 1
        try:
            future = executor.submit(self._process, body, source, topic_phone)
        except RuntimeError:                      # shut down meanwhile
            with self._waiting_lock:
                self._waiting -= 1
            return self._refuse("not_running", "the clock-in intake is stopping")
        future.add_done_callback(lambda _f: self._done_waiting())
        try:
            return future.result(ANSWER_TIMEOUT_S)
        except FutureTimeout:
            return self._refuse("busy", "the gateway is busy; send the fix again later with a new nonce")

    def _done_waiting(self) -> None:
        with self._waiting_lock:
            self._waiting -= 1

    def _refuse(self, reason: str, message: str, *, counted: bool = False) -> tuple[int, dict[str, Any]]:
        if not counted:
            self.rejections[reason] += 1
        if self.metrics is not None:
            self.metrics.rejected("clockin", reason)
        return STATUS.get(reason, 400), {"ok": False, "reason": reason, "message": message}

    # -- one request, on the worker thread ---------------------------------------------------------
    def _process(self, body: bytes, source: str, topic_phone: str | None) -> tuple[int, dict[str, Any]]:
        stamp = self.clock.now()
        now = stamp.wall.timestamp()
        self.keys.refresh()
        try:
            clockin = parse_and_verify(body, self.keys.key, self.nonces, now, rate_limiter=self.limiter,
                                       counters=self.rejections)
        except ClockInRejected as exc:
            log.debug("clock-in from %s refused: %s", source, exc)
            return self._refuse(exc.reason, exc.message, counted=True)
        if topic_phone is not None and clockin.phone_id != topic_phone:
            return self._refuse("topic_mismatch", f"payload phone_id {clockin.phone_id!r} was published on the "
                                                  f"topic of phone {topic_phone[:64]!r}")
        phone = self.keys.get(clockin.phone_id)
        assert phone is not None            # its key was just found
        worker = phone.id_hash
        if self.desk.sync(worker, self.book.get(worker)):
            self.book.mark_dirty(worker)
        snapshot = self.book.snapshot(worker)
        stored: list[str] = []                # events this request made durable
        try:
            answer, recorded = self._decide(clockin, phone, stamp, stored)
        except Exception as exc:  # noqa: BLE001 - the store failed: undo, tell the phone to send again
            if stored:      # an event is on disk: keep the state that matches it (a resend changes nothing)
                self.book.save([worker])
            else:           # nothing on disk: as if the fix never came, so its resend counts
                self.book.restore(worker, snapshot)
            log.error("clock-in of phone %s not fully recorded (%d event(s) stored): %s", clockin.phone_id,
                      len(stored), exc, exc_info=not isinstance(exc, SitegateError))
            return self._refuse("store_unavailable", "the gateway could not store the clock-in; "
                                                     "send the fix again with a new nonce")
        if recorded:
            self.book.save([worker])          # a clock-in/out must not be forgotten by a restart
        else:
            self.book.mark_dirty(worker)
            self.book.flush()
        self.counts["accepted"] += 1
        return 200, answer

    def _decide(self, clockin: ClockIn, phone: ActivePhone, stamp: Stamp,
                stored: list[str]) -> tuple[dict[str, Any], bool]:
        worker = phone.id_hash
        ws = self.book.get(worker)
        ev = self.engine.evaluate(clockin, worker_id=worker)
        doubtful, shadow_moves = self._feed_shadow(ev, ws)
        keys = _SourceKeys(clockin)
        answer: dict[str, Any] = {"ok": True, "verdict": ev.verdict.value}
        real_fences: set[str] = set()
        event_ids: list[str] = []
        for t in sorted(ev.transitions, key=lambda t: (t.at, t.fence_id)):
            fence = self.fences.by_id(t.fence_id)
            direction = direction_of(t)
            real_fences.add(t.fence_id)
            if not allowed(fence, direction):
                self.counts["direction_ignored"] += 1
                self.desk.recorded(worker, ws, t.fence_id, direction.value, None)
                continue
            out = self.pipeline.emit(observation(ev, phone.id_number, stamp, fence, t, keys.next()))
            stored.append(out.event_id or "")
            self.desk.recorded(worker, ws, t.fence_id, direction.value, out.event_id)
            self.counts[f"{t.kind}:{out.decision.outcome.value}"] += 1
            answer.setdefault("transition", t.kind)
            answer.setdefault("outcome", out.decision.outcome.value)
            if out.decision.reason is not None:
                answer.setdefault("deny_reason", out.decision.reason.value)
            if out.event_id:
                event_ids.append(out.event_id)
            log.info("%s %s at fence %s (phone %s): %s%s", mask(phone.id_number), t.kind.replace("_", " "),
                     t.fence_id, clockin.phone_id, out.decision.outcome.value,
                     f" ({out.decision.reason.value})" if out.decision.reason else "")
        review_ids = self._review_shadow_moves(ev, ws, phone, stamp, keys, shadow_moves, real_fences, doubtful)
        answer["state"] = ws.state(worker)
        if event_ids:
            answer["event_id"] = event_ids[0]
            if len(event_ids) > 1:
                answer["event_ids"] = event_ids
        if review_ids:
            answer["review_id"] = review_ids[0]
            if len(review_ids) > 1:
                answer["review_ids"] = review_ids
        if ev.flags or ev.verdict is Verdict.UNCERTAIN:
            answer["reason"] = ev.reason
        return answer, bool(real_fences)

    def _feed_shadow(self, ev: Evaluation, ws: WorkerState) -> tuple[dict[str, bool], list[Transition]]:
        """The shadow tracker sees every fix's best guess; doubts are gathered per fence. Returns
        whether this fix is doubtful at each fence, and the shadow's transitions."""
        worker, c = ev.worker_id, ev.clockin
        flags = [{"code": f.code, "message": f.reason} for f in ev.flags]
        doubtful: dict[str, bool] = {}
        moves: list[Transition] = []
        for r in ev.results:
            fence_id = r.fence.id
            uncertain = r.judgement.verdict is Verdict.UNCERTAIN
            doubtful[fence_id] = bool(flags) or uncertain
            guess = best_guess(r.judgement, c.accuracy_m)
            before = ws.shadow.state(worker, fence_id)
            seen = ws.shadow.observe(worker, fence_id, c.fix_time, guess)
            if seen.too_late:
                continue
            if guess == before:
                ws.doubts.pop(fence_id, None)   # agrees with the shadow: any run towards a change is broken
            elif guess != UNCERTAIN and doubtful[fence_id]:
                reasons = flags + ([{"code": r.judgement.reason_code, "message": r.judgement.reason}] if uncertain else [])
                ws.note_doubts(fence_id, reasons)
            moves += seen.transitions
        return doubtful, moves

    def _review_shadow_moves(self, ev: Evaluation, ws: WorkerState, phone: ActivePhone, stamp: Stamp,
                             keys: _SourceKeys, moves: list[Transition], real_fences: set[str],
                             doubtful: dict[str, bool]) -> list[int]:
        review_ids: list[int] = []
        for t in moves:
            if t.fence_id in real_fences:
                continue
            fence = self.fences.by_id(t.fence_id)
            if not allowed(fence, direction_of(t)):
                continue
            item = self.desk.consider(ev.worker_id, ws, t, doubtful.get(t.fence_id, False),
                                      lambda t=t, fence=fence: observation(ev, phone.id_number, stamp, fence, t,
                                                                           keys.next()))
            if item is not None:
                review_ids.append(item)
        return review_ids

    # -- background: debounced saves, idle sweeps ---------------------------------------------------
    def _tick_loop(self) -> None:
        period = max(0.1, min(self.settings.state_save_s, 5.0))
        while not self._stop.wait(period):
            executor = self._executor
            if executor is None:
                return
            try:
                executor.submit(self._tick)
            except RuntimeError:                 # shutting down
                return

    def _tick(self) -> None:
        try:
            if time.monotonic() >= self._next_sweep:
                self._next_sweep = time.monotonic() + IDLE_SWEEP_S
                for worker, ws in self.book.with_open_reviews():
                    if self.desk.sync(worker, ws):
                        self.book.mark_dirty(worker)
                self.book.forget_idle(self.clock.wall().timestamp())
            self.book.flush()
        except Exception:  # noqa: BLE001 - retried at the next tick
            log.exception("clock-in intake: saving the presence state failed")

    def _reconcile_with_events(self) -> int:
        """Events stored after the last save of a worker's state (a crash in between) win."""
        since = time.time() - RECONCILE_DAYS * 86400
        rows = self.store.query(
            "SELECT id_hash, direction, json_extract(extra, '$.fence_id') AS fence_id, "
            "json_extract(extra, '$.confirmed_at') AS confirmed_at, max(seq) AS seq FROM events "
            "WHERE method = 'geofence' AND id_hash IS NOT NULL AND created_ts > ? "
            "GROUP BY id_hash, json_extract(extra, '$.fence_id')", (since,))
        adjusted = 0
        for r in rows:
            if r["fence_id"] not in self.fences.ids or r["confirmed_at"] is None:
                continue
            ws = self.book.get(r["id_hash"])
            if ws.real.state(r["id_hash"], r["fence_id"]) == r["direction"]:
                continue
            ws.real = set_entry(ws.real, r["id_hash"], r["fence_id"], r["direction"], float(r["confirmed_at"]),
                                self.settings.hysteresis)
            ws.shadow = copy_entry(ws.real, ws.shadow, r["id_hash"], r["fence_id"], self.settings.hysteresis)
            self.book.mark_dirty(r["id_hash"])
            adjusted += 1
        return adjusted

    # -- for the clerk pages and /metrics --------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        return {"fences": len(self.fences), "phones": len(self.keys), "workers_tracked": len(self.book),
                "rejections": dict(self.rejections), "counts": dict(self.counts),
                "reviews": dict(self.desk.counts), "mqtt_connected": bool(self.mqtt and self.mqtt.connected.is_set())}
