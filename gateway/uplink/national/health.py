"""When the national engine may call the platform, and what it tells people about it: its status,
log lines (trouble logged once, recovery once — not every retry), the ``uplink_config`` alarm,
counters and metrics. Shared by the engine's worker threads; the lock guards memory only."""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable

from sitegate.uplink.base import Backoff, UplinkStatus
from sitegate.uplink.national.outcomes import Failure, config_advice

ALARM = "uplink_config"


class Health:
    def __init__(self, store, uplink: str, status: UplinkStatus, log: logging.Logger, *, metrics=None,
                 backoff: Backoff):
        self.store = store
        self.uplink = uplink
        self.status = status
        self.log = log
        self.metrics = metrics
        self.backoff = backoff
        self.counters: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._pause_until = 0.0                # after a transient failure: back off
        self._stopped_until: float | None = None   # after a configuration fault
        self._pause_s = self._stop_s = 0.0     # how long each was meant to last
        self._clear_alarm = True               # the first success of a new instance clears the alarm

    # -- may we call? -----------------------------------------------------------------------------
    def may_call(self, now: float) -> bool:
        with self._lock:
            # both are wall-clock times: after the clock stepped back they would last for the size
            # of the step on top of their own length, so never wait longer than that length from now
            self._pause_until = min(self._pause_until, now + self._pause_s)
            if self._stopped_until is not None:
                self._stopped_until = min(self._stopped_until, now + self._stop_s)
            stopped = self._stopped_until is not None and now < self._stopped_until
            return not stopped and now >= self._pause_until

    def wake_times(self) -> list[float | None]:
        with self._lock:
            return [self._pause_until, self._stopped_until]

    # -- what happened ----------------------------------------------------------------------------
    def succeeded(self) -> None:
        with self._lock:
            was_failing, self.status.consecutive_failures = self.status.consecutive_failures, 0
            self.backoff.reset()
            self._stopped_until = None
            self.status.state, self.status.last_error = "ok", ""
            self.status.last_success_ts = time.time()
            clear, self._clear_alarm = self._clear_alarm, False
        if was_failing:
            self.log.info("platform answering again after %d failure(s)", was_failing)
        if clear:
            self.store.clear_alarm(ALARM)

    def transient(self, failure: Failure) -> float:
        """Back off (capped exponential, full jitter: base.Backoff); the delay chosen."""
        with self._lock:
            delay = self.backoff.next_delay()
            now = time.time()
            self._pause_until = max(self._pause_until, now + delay)
            self._pause_s = self._pause_until - now
            first = self.status.consecutive_failures == 0
            self.status.consecutive_failures += 1
            self.status.state, self.status.last_error = "retrying", failure.message
        log = self.log.warning if first else self.log.debug
        log("platform call failed (%s): %s; retrying in %.1f s", failure.kind, failure.message, delay)
        return delay

    def config_fault(self, failure: Failure, method: str, retry_s: float) -> None:
        """Stop calling for ``retry_s``, raise the critical alarm naming the code and the fix."""
        advice = config_advice(failure, method)
        waiting = self.store.query("SELECT count(*) FROM deliveries WHERE uplink = ? AND state IN "
                                   "('pending','inflight','held')", (self.uplink,))[0][0]
        with self._lock:
            self._stopped_until = time.time() + retry_s
            self._stop_s = retry_s
            self.status.state, self.status.last_error = "stopped", advice
            self._clear_alarm = True
        self.log.error("uplink stopped: %s (nothing is lost: %d record(s) wait)", advice, waiting)
        self.store.raise_alarm(ALARM, f"{advice}. Nothing is lost: {waiting} record(s) wait; sending resumes "
                                      "after the fix (systemctl reload sitegate, or a restart)", severity="critical")

    # -- counting ---------------------------------------------------------------------------------
    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counters[name] += n

    def error(self, failure: Failure) -> None:
        self.count(f"error_{failure.kind}")
        if self.metrics is not None:
            self.metrics.platform_error(self.uplink, failure.kind)

    def dead(self, n: int, reason: str) -> None:
        if not n:
            return
        self.count("dead_platform", n)
        self.log.warning("%d record(s) refused by the platform for their content: %s", n, reason)
        if self.metrics is not None:
            for _ in range(n):
                self.metrics.platform_error(self.uplink, "content")

    def delivered(self, event_ids: Iterable[str]) -> None:
        """Count deliveries; the metric's latency is the mean age of the records (event -> confirmed)."""
        ids = list(event_ids)
        if not ids:
            return
        self.count("delivered", len(ids))
        if self.metrics is not None:
            marks = ", ".join("?" * len(ids))
            mean_ts = self.store.query(f"SELECT avg(wall_ts) FROM events WHERE event_id IN ({marks})", ids)[0][0]
            self.metrics.delivered(self.uplink, len(ids), max(0.0, time.time() - (mean_ts or time.time())))
