"""What the ``mqtt`` and ``webhook`` profiles share: the record builder, dead letters for records
that cannot be read, configuration faults, alarms, and logging "lost" and "back" once each.

A configuration fault (bad credentials, a missing key file, not authorised) raises the critical
``uplink_config`` alarm and stops the engine until the daemon reloads it (a new instance); a
network fault only backs off and tries again, forever. Nothing is dropped in either case: records
stay in the store in their state (pending, or inflight to be resent).
"""
from __future__ import annotations

import threading
import time

from sitegate.errors import UsageError
from sitegate.uplink.base import Backoff, Uplink
from sitegate.uplink.payload import PayloadKey, PayloadKeyError, RecordBuilder

ALARM_CONFIG = "uplink_config"      # stops until reload: credentials, key files, not authorised
ALARM_TLS = "uplink_tls"            # the peer's certificate is not accepted: retried, never sent unverified
ALARM_REFUSED = "uplink_refused"    # the receiver refuses whole batches (an unexpected 4xx): retried


class UplinkConfigError(UsageError):
    """The profile cannot work with this configuration; the message says what to fix."""


class FeedUplink(Uplink):
    """Base of the two record-feed profiles. Subclasses implement ``_load_settings``, ``_recover``
    and ``step``; they call ``_ensure_started`` first in ``step``."""

    def __init__(self, cfg, store, *, metrics=None, clock=None, backoff: Backoff | None = None):
        super().__init__(cfg, store, metrics=metrics, clock=clock)
        self.backoff = backoff or Backoff(base_s=1.0, cap_s=300.0)
        self.builder: RecordBuilder | None = None
        self.counters: dict[str, int] = {"sent": 0, "delivered": 0, "retried": 0, "dead": 0, "unreadable": 0,
                                         "failures": 0}
        self._started = False
        self._retry_at = 0.0           # time.monotonic() before which no new attempt is made
        self._lost_logged = False
        self._alarms_checked = False

    # -- subclass hooks ------------------------------------------------------------------------
    def _load_settings(self) -> None:
        raise NotImplementedError

    def _recover(self) -> None:
        """Put what a previous instance left inflight on its way again."""
        raise NotImplementedError

    # -- start --------------------------------------------------------------------------------
    @property
    def stopped(self) -> bool:
        return self.status.state == "stopped"

    def _ensure_started(self) -> bool:
        """Load settings and recover once; False while stopped by a configuration fault."""
        if self._started:
            return not self.stopped
        try:
            self._load_settings()
            site = self.cfg["site"]
            key = PayloadKey.from_file(self.cfg["uplink"].get("payload_key_file", ""))
            self.builder = RecordBuilder(cipher=self.store.cipher, project_code=site["project_code"],
                                         gateway_id=site["gateway_id"], key=key)
        except (UplinkConfigError, PayloadKeyError) as exc:
            self._started = True
            self._config_fault(str(exc))
            return False
        self._recover()            # if the store fails here, the next step tries again
        self._started = True
        return True

    # -- outcomes -----------------------------------------------------------------------------
    def _config_fault(self, message: str) -> None:
        self.log.critical("uplink %s stopped until the configuration is fixed and reloaded: %s", self.NAME, message)
        self.status.state = "stopped"
        self.status.last_error = message
        self.store.raise_alarm(ALARM_CONFIG, f"uplink {self.NAME}: {message}", severity="critical")

    def _succeeded(self) -> None:
        if self._lost_logged:
            self.log.warning("uplink %s is back after %d failed attempt(s)", self.NAME, self.status.consecutive_failures)
            self._lost_logged = False
        if not self._alarms_checked:
            # a fault an earlier instance alarmed is fixed once something went through
            for code in (ALARM_CONFIG, ALARM_TLS, ALARM_REFUSED):
                self.store.clear_alarm(code)
            self._alarms_checked = True
        self.status.state = "ok"
        self.status.last_error = ""
        self.status.consecutive_failures = 0
        self.status.last_success_ts = time.time()

    def _failed(self, message: str, *, delay_s: float | None = None) -> float:
        """Record a retryable failure and schedule the next attempt; returns the delay."""
        delay = self.backoff.next_delay() if delay_s is None else delay_s
        self._retry_at = time.monotonic() + delay
        self.status.state = "retrying"
        self.status.last_error = message
        self.status.consecutive_failures += 1
        self.counters["failures"] += 1
        if not self._lost_logged:
            self.log.warning("uplink %s lost: %s (retrying with backoff)", self.NAME, message)
            self._lost_logged = True
        else:
            self.log.debug("uplink %s still failing: %s; next attempt in %.1f s", self.NAME, message, delay)
        return delay

    def _raise_alarm(self, code: str, message: str, severity: str = "warning") -> None:
        self.store.raise_alarm(code, f"uplink {self.NAME}: {message}", severity=severity)
        self._alarms_checked = False   # clear it again at the next success

    def _due_records(self, limit: int) -> list[dict]:
        """Up to ``limit`` due records; rows that cannot be read become dead letters (not silently lost)."""
        assert self.builder is not None
        rows = self.queue.due(limit)
        records, bad = self.builder.records(rows)
        for event_id, why in bad:
            self.log.error("%s", why)
            self.queue.mark_dead(event_id, why, "unreadable")
            self.counters["unreadable"] += 1
        return records

    # -- the loop -----------------------------------------------------------------------------
    def wait_hint(self) -> float:
        """How long ``run`` may sleep after an idle step."""
        if self.stopped:
            return self.idle_sleep_s
        until_retry = self._retry_at - time.monotonic()
        return max(0.01, min(self.idle_sleep_s, until_retry if until_retry > 0 else self.idle_sleep_s))

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                busy = self.step()
            except Exception:  # noqa: BLE001 - the loop must survive; the error is logged with its trace
                self.log.exception("uplink %s step failed", self.NAME)
                busy = False
            if not busy and (wait := self.wait_hint()) > 0:
                stop.wait(wait)
