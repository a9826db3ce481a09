"""Prometheus metrics of the gateway, in their own registry (not prometheus-client's global one,
so two gateways in one process, or tests, never share counters).

Counters are incremented by the parts that see the events (gate, drivers, uplink); the state of
the store (backlog, oldest undelivered, dead letters, reviews) and device health are read at scrape
time by a custom collector, as prometheus-client recommends for values that live elsewhere
(https://prometheus.github.io/client_python/collector/custom/). No metric carries personal data:
labels are methods, outcomes, reasons, uplink names and device ids only.
"""
from __future__ import annotations

import logging
import time
from typing import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

# The text format 0.0.4 that generate_latest writes (and every Prometheus scrapes).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

PLATFORM_ERROR_KINDS = ("transport", "timeout", "http5xx", "rate_limited", "signature", "permission", "ip",
                        "garbage", "content")
# Deliveries happen seconds after an event on a good day and days after it on a bad one.
LATENCY_BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400)
DEVICE_STATES = ("up", "degraded", "down")


class Metrics:
    def __init__(self, store=None, devices: Callable[[], list[dict]] = lambda: []):
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._decisions = Counter("sitegate_gate_decisions", "Gate decisions by method, outcome and deny reason",
                                  ["method", "outcome", "reason", "repeat"], registry=r)
        self._rejected = Counter("sitegate_rejected_input", "Bad input refused, by where it came from and why",
                                 ["source", "reason"], registry=r)
        self._platform_errors = Counter("sitegate_platform_errors", "Failed platform calls by uplink and kind",
                                        ["uplink", "kind"], registry=r)
        self._delivered = Counter("sitegate_delivered_events", "Events the platform confirmed", ["uplink"],
                                  registry=r)
        self._latency = Histogram("sitegate_delivery_latency_seconds",
                                  "Time from an event (its wall time) to the platform's confirmation",
                                  ["uplink"], buckets=LATENCY_BUCKETS, registry=r)
        r.register(_StateCollector(store, devices))

    def decision(self, method: str, outcome: str, reason: str, repeat: bool = False) -> None:
        self._decisions.labels(method, outcome, reason or "", "true" if repeat else "false").inc()

    def rejected(self, source: str, reason: str) -> None:
        """Bad input by where it came from (a device id, "web", "clockin", …) and why (a short code)."""
        self._rejected.labels(source, reason).inc()

    def platform_error(self, uplink: str, kind: str) -> None:
        if kind not in PLATFORM_ERROR_KINDS:
            log.warning("platform error kind %r is not one of %s; counted as 'other'", kind, PLATFORM_ERROR_KINDS)
            kind = "other"
        self._platform_errors.labels(uplink, kind).inc()

    def delivered(self, uplink: str, n: int, latency_s: float) -> None:
        """``n`` events confirmed, each ``latency_s`` after it happened (the batch's latency)."""
        if n <= 0:
            return
        self._delivered.labels(uplink).inc(n)
        child = self._latency.labels(uplink)
        for _ in range(n):     # one observation per event, so the histogram count equals the counter
            child.observe(max(latency_s, 0.0))

    def value(self, name: str, labels: dict[str, str] | None = None) -> float | None:
        """A sample's current value (for tests and `sitegate status`)."""
        return self.registry.get_sample_value(name, labels or {})

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _StateCollector(Collector):
    """Read at scrape time: backlog, oldest undelivered age, dead letters, reviews, device health."""

    def __init__(self, store, devices: Callable[[], list[dict]]):
        self.store = store
        self.devices = devices

    def describe(self) -> Iterable[Metric]:
        # names only, so registering does not run a scrape (the store may not be open yet)
        return [m for m in self._families()]

    def _families(self) -> list[GaugeMetricFamily]:
        return [
            GaugeMetricFamily("sitegate_backlog", "Events per uplink and delivery state", labels=["uplink", "state"]),
            GaugeMetricFamily("sitegate_oldest_undelivered_age_seconds",
                              "Age of the oldest event not yet confirmed by the platform (0: none)", labels=["uplink"]),
            GaugeMetricFamily("sitegate_dead_letters_open", "Records the platform refused, not yet resolved"),
            GaugeMetricFamily("sitegate_reviews_open", "Clock-ins waiting for a clerk's decision"),
            GaugeMetricFamily("sitegate_store_up", "1 when the store answered this scrape"),
            GaugeMetricFamily("sitegate_device_up", "1 when the device is up or degraded, 0 when down",
                              labels=["device"]),
            GaugeMetricFamily("sitegate_device_state", "The device's state (one of up, degraded, down is 1)",
                              labels=["device", "state"]),
        ]

    def collect(self) -> Iterable[Metric]:
        backlog, oldest, dead, reviews, store_up, dev_up, dev_state = self._families()
        if self.store is not None:
            try:
                self._store_state(backlog, oldest, dead, reviews)
                store_up.add_metric([], 1)
            except Exception as exc:  # noqa: BLE001 - a scrape must answer even when the store does not
                log.warning("metrics: store not readable: %s", exc)
                store_up.add_metric([], 0)
                backlog, oldest, dead, reviews = self._families()[:4]   # drop partial values
            yield from (backlog, oldest, dead, reviews, store_up)
        try:
            devices = list(self.devices() or [])
        except Exception as exc:  # noqa: BLE001
            log.warning("metrics: device list failed: %s", exc)
            devices = []
        for d in devices:
            dev_id, state = str(d.get("id", "")), str(d.get("state", "down"))
            dev_up.add_metric([dev_id], 0 if state == "down" else 1)
            for s in DEVICE_STATES:
                dev_state.add_metric([dev_id, s], 1 if s == state else 0)
        yield dev_up
        yield dev_state

    def _store_state(self, backlog, oldest, dead, reviews) -> None:
        from sitegate.buffer.deliveries import backlog as backlog_of

        for uplink, states in backlog_of(self.store).items():
            for state, n in states.items():
                backlog.add_metric([uplink, state], n)
        now = time.time()
        ages = {r[0]: r[1] for r in self.store.query(
            "SELECT d.uplink, min(e.wall_ts) FROM deliveries d JOIN events e USING (event_id) "
            "WHERE d.state IN ('held', 'pending', 'inflight') GROUP BY d.uplink")}
        for uplink in sorted(set(self.store.uplinks) | set(ages)):
            ts = ages.get(uplink)
            oldest.add_metric([uplink], max(now - ts, 0.0) if ts is not None else 0.0)
        dead.add_metric([], self.store.query("SELECT count(*) FROM dead_letters WHERE resolved_ts IS NULL")[0][0])
        reviews.add_metric([], self.store.query("SELECT count(*) FROM reviews WHERE status = 'open'")[0][0])
