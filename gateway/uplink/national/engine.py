"""``NationalUplink``: exactly-once delivery of attendance to the national platform's OpenAPI.

One unit of work at a time per worker thread, each unit one of (oldest first):

1. poll a ``sent`` batch whose time has come (AsyncHandleResult.Query);
2. reconcile an ``unknown`` batch (WorkerAttendance.Query, then resend / hand back / split);
3. send a ``queued`` batch (a half of a split);
4. make a new batch from the due ``pending`` records of one team and send it.

The durable protocol (batches.py): the batch's exact ``data`` string is stored with its records
moved to inflight in ONE transaction before the POST; the receipt is stored after it. A crash in
between leaves the batch ``sending``, which start-up turns into ``unknown``: it is reconciled before
anything in it goes again. See docs/platform.md for the whole argument.

Units are run by ``workers`` threads (workers.py: ``run(stop)`` for the daemon, ``step()`` for
tests); each batch is in the hands of one worker at a time.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from sitegate.ids import uuid7
from sitegate.uplink.base import Backoff
from sitegate.uplink.national import outcomes
from sitegate.uplink.national.attendance import MAX_ITEMS
from sitegate.uplink.national.batches import (
    BATCH_FAILED, EXPIRED, FAILED, LOST, QUEUED, REJECTED, SENT, UNKNOWN, BatchRow, Child, Conflict, Dead, Ledger,
)
from sitegate.uplink.national.beijing import parse_beijing_time
from sitegate.uplink.national.client import METHOD_ASYNC_RESULT, METHOD_ATTENDANCE_ADD, NationalClient
from sitegate.uplink.national.connect import appsecret_of, client_from_config
from sitegate.uplink.national.envelope import AsyncStatus
from sitegate.uplink.national.errors import GarbageResponse, InvalidRecord, PlatformError, TransportError
from sitegate.uplink.national.health import ALARM, Health  # noqa: F401  (ALARM re-exported)
from sitegate.uplink.national.outcomes import CONFIG, CONTENT, LOST as LOST_ANSWER, Failure, classify_failure
from sitegate.uplink.national.payloads import Batch as StoredBatch, PayloadError, halves, read_batch, sub_payload
from sitegate.uplink.national.reconcile import Member, Presence, QueryUnavailable, plan
from sitegate.uplink.national.records import NO_TEAM, RecordBuilder
from sitegate.uplink.national.workers import ThreadedUplink

CLIENT_ERRORS = (TransportError, GarbageResponse, PlatformError)
_QUERY_REFUSED = (-3, -1)  # no permission for WorkerAttendance.Query / its fields not served
QUERY_RETRY_S = 3600.0     # a platform that refused the query is asked again after this long
SKEW_WINDOW_S = 3600.0     # "[date] in the future" for a record younger than this: the clocks differ


class NationalUplink(ThreadedUplink):
    NAME = "national"

    def __init__(self, cfg, store, *, metrics=None, clock=None,
                 client_factory: Callable[[], NationalClient] | None = None, backoff: Backoff | None = None,
                 reconcile_grace_s: float = 60.0, config_retry_s: float = 600.0,
                 pending_limit_s: float = 3600.0, workers: int = 4):
        up = cfg["uplink"]
        self._appsecret = appsecret_of(cfg)
        super().__init__(cfg, store, metrics=metrics, clock=clock, workers=workers, client_factory=client_factory
                         or (lambda: client_from_config(cfg, self._appsecret, self.clock.wall)))
        self.project_code: str = cfg["site"]["project_code"]
        self.batch_size = max(1, min(int(up.get("batch_size", MAX_ITEMS)), MAX_ITEMS))
        self.poll_interval_s = float(up.get("poll_interval_s", 5.0))
        self.reconcile_grace_s = reconcile_grace_s    # a request that timed out may still be processed
        self.config_retry_s = config_retry_s          # a stopped engine tries again after this long
        self.pending_limit_s = pending_limit_s        # a receipt pending longer than this is reconciled
        self.skew_retry_s = 300.0                     # a record the platform's slow clock calls future waits
        self.builder = RecordBuilder(store, default_team=up.get("default_team", 0),
                                     max_image_bytes=int(up.get("max_image_kb", 50)) * 1000)
        self.ledger = Ledger(store, self.NAME)
        self.presence = Presence(self._attendance_of_day)
        self.health = Health(store, self.NAME, self.status, self.log, metrics=metrics,
                             backoff=backoff or Backoff(base_s=1.0, cap_s=300.0))
        self.counters = self.health.counters
        self._build_lock = threading.Lock()    # one batch is made at a time (pending -> inflight)
        self._query_off_until = 0.0            # WorkerAttendance.Query refused: do without it until then
        self._recovered = False

    # -- units of work ---------------------------------------------------------------------
    def work_once(self) -> bool:
        """One unit of work; False when nothing was due (or the engine is paused / stopped)."""
        self._recover_once()
        now = time.time()
        if not self.health.may_call(now):
            return False
        for state, handler in ((SENT, self._poll), (UNKNOWN, self._reconcile), (QUEUED, self._send_queued)):
            batch = self.claim(self.ledger.due(state, now, limit=2 * self.workers + 1))
            if batch is not None:
                try:
                    handler(batch)
                finally:
                    self.release(batch.batch_id)
                return True
        return self._send_new()

    def _recover_once(self) -> None:
        with self._lock:
            if self._recovered:
                return
            self._recovered = True
        lost, orphans = self.ledger.recover(self.reconcile_grace_s)
        if lost:
            self.log.warning("%d batch(es) were being sent when the gateway stopped: reconciling them", lost)
        if orphans:
            self.log.error("%d record(s) were inflight without an open batch: handed back", orphans)

    def idle_wait(self) -> float:
        """How long a worker with nothing to do sleeps: until the next batch or record is due."""
        now = time.time()
        nxt = [self.store.query("SELECT min(next_ts) FROM batches WHERE uplink = ? AND state IN (?, ?)",
                                (self.NAME, SENT, UNKNOWN))[0][0],
               self.store.query("SELECT min(next_attempt_ts) FROM deliveries WHERE uplink = ? "
                                "AND state = 'pending'", (self.NAME,))[0][0]]
        nxt += self.health.wake_times()
        soonest = min((t for t in nxt if t is not None and t > now), default=now + self.idle_sleep_s)
        return max(0.005, min(self.idle_sleep_s, soonest - now))

    # -- sending -----------------------------------------------------------------------------
    def _send_new(self) -> bool:
        with self._build_lock:
            made = self._make_batch()
            if made is None:
                return False
            if made == "":
                return True              # only local dead letters this time; look again
            batch_id, event_ids, data = made
            self.hold(batch_id)
        try:
            self._post(batch_id, event_ids, data, attempts=1)
        finally:
            self.release(batch_id)
        return True

    def _make_batch(self) -> tuple[str, list[str], str] | str | None:
        """Store the next batch (oldest record's team first); its id, records and data; "" when
        records were only dead-lettered locally; None when nothing is due."""
        rows = self.queue.due(self.batch_size * 4)
        team, chosen, refused = None, [], 0
        for row in rows:
            row_team = self.builder.team_of(row)
            if row_team is None:
                refused += self._dead_local(row["event_id"], NO_TEAM)
                continue
            if team is not None and row_team != team:
                continue
            try:
                built = self.builder.build(row, row_team)
            except InvalidRecord as exc:
                refused += self._dead_local(row["event_id"], f"cannot be put in the platform's format: {exc}")
                continue
            team = row_team
            chosen.append(built)
            if len(chosen) == self.batch_size:
                break
        if not chosen:
            return "" if refused else None
        data = self.client().attendance_add_data(self.project_code, team, [b.item for b in chosen])
        batch_id, ids = str(uuid7()), [b.event_id for b in chosen]
        try:
            self.ledger.create(batch_id, ids, data)
        except Conflict as exc:  # only another engine on the same store could cause it
            self.log.warning("batch not made: %s", exc)
            return ""
        return batch_id, ids, data

    def _dead_local(self, event_id: str, reason: str) -> int:
        self.queue.mark_dead(event_id, reason, code="local")
        self.health.count("dead_local")
        self.log.warning("event %s dead-lettered locally: %s", event_id, reason)
        return 1

    def _send_queued(self, batch: BatchRow) -> None:
        if self._stored(batch) is not None and self.ledger.begin_send(batch.batch_id, QUEUED):
            self._post(batch.batch_id, list(batch.event_ids), batch.data or "", attempts=batch.attempts + 1)

    def _post(self, batch_id: str, event_ids: Sequence[str], data: str, *, attempts: int) -> None:
        """POST a stored batch; every outcome is recorded before returning."""
        try:
            serial = self.client().submit_attendance(data)
        except CLIENT_ERRORS as exc:
            self._post_failed(batch_id, event_ids, data, attempts, classify_failure(exc))
            return
        self.ledger.mark_sent(batch_id, serial, time.time() + self.poll_interval_s)
        self.health.count("posts_ok")
        self.health.succeeded()

    def _post_failed(self, batch_id: str, event_ids: Sequence[str], data: str, attempts: int,
                     failure: Failure) -> None:
        self.health.error(failure)
        ids = list(event_ids)
        if failure.action == LOST_ANSWER:
            self.ledger.mark_unknown(batch_id, LOST, failure.message, time.time() + self.reconcile_grace_s)
            self.health.count("answers_lost")
            self.health.transient(failure)
        elif failure.action == CONTENT and outcomes.minus_one_scope(failure.message) != "call":
            self._isolate(batch_id, ids, data, attempts, failure)
        elif failure.action in (CONFIG, CONTENT):
            # the records wait for no time of their own: the stopped engine sends nothing, a fixed one at once
            self._hand_back(batch_id, ids, attempts, 0.0, failure.message)
            self.health.config_fault(failure, METHOD_ATTENDANCE_ADD, self.config_retry_s)
        else:
            self._hand_back(batch_id, ids, attempts, self.health.transient(failure), failure.message)

    def _hand_back(self, batch_id: str, ids: list[str], attempts: int, delay_s: float, error: str) -> None:
        """The platform certainly did not take THIS post. If an earlier post of the same data may
        have arrived (a resend), the batch stays unknown; else its records wait as pending."""
        if attempts > 1:
            self.ledger.mark_unknown(batch_id, LOST, error, time.time() + delay_s)
        else:
            self.ledger.settle(batch_id, pending=ids, pending_delay_s=delay_s, error=error, final_state=FAILED)

    def _isolate(self, batch_id: str, ids: list[str], data: str, attempts: int, failure: Failure) -> None:
        """-1 on the whole call: the platform does not say which record. One record, or a team
        every record shares: dead letters with the message. More: split in halves and send both."""
        if len(ids) == 1 and self._platform_clock_behind(data, failure):
            self._hand_back(batch_id, ids, attempts, self.skew_retry_s, failure.message)
            self.health.count("date_skew")
            self.log.warning("the platform calls a record of %s in the future (%s): its clock is behind this "
                             "gateway's; sent again in %.0f s", batch_id, failure.message, self.skew_retry_s)
            return
        if len(ids) == 1 or outcomes.minus_one_scope(failure.message) == "team":
            dead = [Dead(eid, failure.message, str(failure.code)) for eid in ids]
            self.ledger.settle(batch_id, dead=dead, error=failure.message, final_state=FAILED)
            self.health.dead(len(dead), failure.message)
            return
        children = [Child(str(uuid7()), tuple(ids[i] for i in part), sub_payload(data, part))
                    for part in halves(range(len(ids)))]
        self.ledger.settle(batch_id, children=children, error=failure.message, final_state=FAILED)
        self.health.count("splits")
        self.log.info("batch %s refused (%s): split in %s to find the record", batch_id, failure.message,
                      " + ".join(str(len(c.event_ids)) for c in children))

    def _platform_clock_behind(self, data: str, failure: Failure) -> bool:
        """A ``[date]`` refusal of a record that is neither in this gateway's future nor old: the
        platform's clock (or its "not after today" rule) lags; the record is fine and waits."""
        if "[date]" not in failure.message:
            return False
        try:
            when = parse_beijing_time(read_batch(data, self._appsecret).keys[0][1]).timestamp()
        except (PayloadError, ValueError):
            return False
        now = time.time()
        return now - SKEW_WINDOW_S <= when <= now

    # -- polling ----------------------------------------------------------------------------
    def _poll(self, batch: BatchRow) -> None:
        try:
            result = self.client().async_result(batch.receipt or "")
        except CLIENT_ERRORS as exc:
            failure = classify_failure(exc)
            self.health.error(failure)
            if failure.action == CONTENT:      # the platform does not know the receipt (any more)
                self.ledger.mark_unknown(batch.batch_id, EXPIRED, failure.message, time.time(), (SENT,))
            elif failure.action == CONFIG:
                self.ledger.reschedule(batch.batch_id, time.time() + self.config_retry_s, failure.message)
                self.health.config_fault(failure, METHOD_ASYNC_RESULT, self.config_retry_s)
            else:                              # asking again is harmless
                self.ledger.reschedule(batch.batch_id, time.time() + self.health.transient(failure), failure.message)
            return
        self.health.succeeded()
        inflight = self.ledger.inflight(batch.batch_id)
        if result.status is AsyncStatus.PENDING:
            if time.time() - batch.updated_ts > self.pending_limit_s:
                self.ledger.mark_unknown(batch.batch_id, EXPIRED, "still pending on the platform", time.time(), (SENT,))
            else:
                self.ledger.reschedule(batch.batch_id, time.time() + self.poll_interval_s)
        elif result.status is AsyncStatus.SUCCEEDED:
            delivered = [e for e in batch.event_ids if e in inflight]
            self.ledger.settle(batch.batch_id, delivered=delivered)
            self.health.delivered(delivered)
        else:
            self._failed_result(batch, result, inflight)

    def _failed_result(self, batch: BatchRow, result, inflight: set[str]) -> None:
        """Status "10": records named with a reason are dead letters; the rest are checked on the
        platform (reconcile: they may have been stored). No record named: find it by splitting."""
        keys = self._stored(batch)
        if keys is None:
            return
        by_index, unmatched = result.failures_for(keys.plain_ids)
        whole = not result.failures or all(f.index is None and not f.id_card_number for f in result.failures)
        reason = result.reason or (result.failures[0].message if result.failures else "") or "batch failed"
        if whole:
            if len(inflight) == 1:
                dead = [Dead(e, reason, "10") for e in inflight]
                self.ledger.settle(batch.batch_id, dead=dead, error=reason)
                self.health.dead(1, reason)
            else:
                self.ledger.mark_unknown(batch.batch_id, BATCH_FAILED, reason, time.time(), (SENT,))
            return
        if unmatched:
            self.log.warning("batch %s: %d failure(s) name no record of it; those records are checked",
                             batch.batch_id, len(unmatched))
        dead = [Dead(batch.event_ids[i], why, "10") for i, why in sorted(by_index.items())
                if batch.event_ids[i] in inflight]
        rest = inflight - {d.event_id for d in dead}
        self.ledger.settle(batch.batch_id, dead=dead, error=reason,
                           reopen_as=REJECTED if rest else None, next_ts=time.time())
        for d in dead:
            self.health.dead(1, d.reason)

    # -- reconciling ---------------------------------------------------------------------------
    def _reconcile(self, batch: BatchRow) -> None:
        inflight = self.ledger.inflight(batch.batch_id)
        if not inflight:
            self.ledger.settle(batch.batch_id)
            return
        keys = self._stored(batch)
        if keys is None:
            return
        members = [Member(i, e, keys.keys[i]) for i, e in enumerate(batch.event_ids) if e in inflight]
        found = None
        if time.time() >= self._query_off_until:
            try:
                found = self.presence.found([m.key for m in members], keys.team_sys_no, batch.next_ts)
            except QueryUnavailable as exc:
                self._query_off_until = time.time() + QUERY_RETRY_S
                self.log.warning("the platform does not answer WorkerAttendance.Query (%s): unknown batches "
                                 "are resent without reconciliation (the platform keeps one record per "
                                 "ID number, time and direction)", exc)
            except CLIENT_ERRORS as exc:
                failure = classify_failure(exc)
                self.health.error(failure)
                if failure.action == CONFIG:
                    self.ledger.reschedule(batch.batch_id, time.time() + self.config_retry_s)
                    self.health.config_fault(failure, "WorkerAttendance.Query", self.config_retry_s)
                else:
                    self.ledger.reschedule(batch.batch_id, time.time() + self.health.transient(failure))
                return
            else:
                self.health.succeeded()
        kind = batch.reconcile or LOST
        decision = plan(kind, members, found, whole_batch=len(members) == len(batch.event_ids))
        self.health.count("reconciled_found", len(decision.delivered))
        if decision.unreconciled:
            self.health.count("resent_unreconciled", len(members) - len(decision.delivered))
        if decision.resend_identical:
            if self.ledger.begin_send(batch.batch_id, UNKNOWN):
                self.health.count("resent_identical")
                self._post(batch.batch_id, list(batch.event_ids), batch.data or "", attempts=batch.attempts + 1)
            return
        children = [Child(str(uuid7()), tuple(m.event_id for m in part),
                          sub_payload(batch.data or "", [m.index for m in part])) for part in decision.split]
        reason = batch.last_error or "refused by the platform"
        dead = [Dead(m.event_id, reason, "10") for m in decision.dead]
        self.ledger.settle(batch.batch_id, delivered=decision.delivered, pending=decision.pending, dead=dead,
                           children=children, error=f"reconciled ({kind})")
        self.health.delivered(decision.delivered)
        self.health.dead(len(dead), reason)
        if children:
            self.health.count("splits")

    def _stored(self, batch: BatchRow) -> StoredBatch | None:
        """The stored data read back with today's secret. Data that cannot be (the appsecret was
        changed since, or the row is damaged) is never resent: its open records are handed back
        and rebuilt — the platform keys them by ID number, time and direction all the same."""
        try:
            return read_batch(batch.data or "", self._appsecret)
        except PayloadError as exc:
            ids = self.ledger.inflight(batch.batch_id)
            self.ledger.settle(batch.batch_id, pending=ids, error=f"stored data unreadable: {exc}")
            self.health.count("resent_unreconciled", len(ids))
            self.log.warning("batch %s: stored data unreadable (%s; was the appsecret changed?): %d record(s) "
                             "will be sent again in new batches", batch.batch_id, exc, len(ids))
            return None

    def _attendance_of_day(self, day: str, team: int) -> list[dict]:
        try:
            return list(self.client().attendance_records(self.project_code, day, team_sys_no=team))
        except PlatformError as exc:
            if exc.code in _QUERY_REFUSED:
                raise QueryUnavailable(str(exc)) from None
            raise

    # -- roster ---------------------------------------------------------------------------------
    def sync_roster(self, progress: Callable[[int], None] | None = None):
        """Download the project roster (ProjectWorker.Query) into the local roster; the report.
        Runs in the caller's thread with a client of its own."""
        from sitegate.uplink.national.roster_sync import sync_roster

        client = self._client_factory()
        try:
            return sync_roster(client, self.store, self.project_code, progress=progress)
        finally:
            client.close()
