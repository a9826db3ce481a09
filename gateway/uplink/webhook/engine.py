"""The webhook profile: signed JSON POSTs of up to ``batch_size`` records to the operator's receiver.

One batch at a time, each store move one transaction:
1. due records -> a body (codec.batch_body) stored in ``batches`` (state sending), then the records
   are marked ``inflight`` with its batch_id — all BEFORE the first POST;
2. POST with a fresh timestamp and signature; the body bytes never change between attempts;
3. 2xx -> per-record reply: accepted -> ``delivered``; rejected -> ``dead`` with the receiver's
   reason; not mentioned -> back to ``pending`` for a later batch;
   401/403 -> ``uplink_config`` alarm, stop until reload (the batch stays, resent after the fix);
   408/425/429/5xx, transport errors, timeouts, garbage -> the same batch again after backoff;
   other statuses -> the same, plus the ``uplink_refused`` alarm for a person to look at.
A restart resumes a stored batch as it was (same body, same Idempotency-Key); records inflight
without a stored body go back to pending. Receivers de-duplicate by event_id (docs/platform.md).
"""
from __future__ import annotations

import time
from collections import defaultdict

import requests

from sitegate.idcard import mask_text
from sitegate.uplink.base import Backoff
from sitegate.uplink.feed import ALARM_REFUSED, ALARM_TLS, FeedUplink
from sitegate.uplink.webhook import batches
from sitegate.uplink.webhook.batches import Batch
from sitegate.uplink.webhook.codec import (
    GarbageReply, Reply, Verdict, batch_body, classify, new_batch_id, parse_reply, request_headers, retry_after_s,
)
from sitegate.uplink.webhook.settings import WebhookSettings

MAX_REPLY_BYTES = 1 << 20      # a receiver's answer larger than this is garbage, not something to buffer


class WebhookUplink(FeedUplink):
    NAME = "webhook"

    def __init__(self, cfg, store, *, metrics=None, clock=None, backoff: Backoff | None = None,
                 unanswered_delay_s: float = 60.0):
        super().__init__(cfg, store, metrics=metrics, clock=clock, backoff=backoff)
        self.counters["requests"] = 0
        self.settings: WebhookSettings | None = None
        self.http: requests.Session | None = None
        self.current: Batch | None = None
        self.unanswered_delay_s = unanswered_delay_s
        self._resume: list[Batch] = []

    # -- FeedUplink hooks ---------------------------------------------------------------------
    def _load_settings(self) -> None:
        self.settings = WebhookSettings.from_config(self.cfg)
        self.http = _session()

    def _recover(self) -> None:
        inflight: dict[str, list[str]] = defaultdict(list)
        for r in self.queue.inflight():
            inflight[r["batch_id"] or ""].append(r["event_id"])
        stored = batches.open_batches(self.store)
        for batch_id, ids in inflight.items():
            batch = stored.pop(batch_id, None)
            if batch is not None and batch.event_ids and set(batch.event_ids) == set(ids):
                self._resume.append(batch)
                continue
            self.queue.retry_later(ids, 0.0, "the uplink restarted and the batch could not be resumed")
            self.counters["retried"] += len(ids)
            if batch is not None:
                batches.finish(self.store, batch_id, "failed", "its records no longer matched; they were requeued")
        for batch in stored.values():   # none of its records in flight: never sent, or already answered
            batches.finish(self.store, batch.batch_id, "failed", "closed at restart: no record of it was in flight")
        if self._resume:
            self.log.info("resuming %d stored batch(es) left in flight by the last run", len(self._resume))

    # -- one round ----------------------------------------------------------------------------
    def step(self) -> bool:
        if not self._ensure_started():
            return False
        if self.current is None:
            self.current = self._resume.pop(0) if self._resume else self._new_batch()
            if self.current is None:
                return False
        if time.monotonic() < self._retry_at:
            return False
        self._send(self.current)
        return True

    def _new_batch(self) -> Batch | None:
        s = self.settings
        records = self._due_records(s.batch_size)
        if not records:
            return None
        batch_id = new_batch_id()
        batch = Batch(batch_id, batch_body(batch_id, s.project_code, s.gateway_id, records),
                      [r["event_id"] for r in records])
        batches.save(self.store, batch)                      # the body first: a crash here sent nothing
        self.queue.mark_inflight(batch.event_ids, batch_id)
        return batch

    def _send(self, batch: Batch) -> None:
        s = self.settings
        headers = request_headers(s.secret, batch.body, batch.batch_id, int(time.time()))
        if self.http is None:
            self.http = _session()
        try:
            resp = self.http.post(s.url, data=batch.body, headers=headers, timeout=s.timeout_s, verify=s.verify,
                                  allow_redirects=False, stream=True)
            try:
                content = _read_capped(resp, MAX_REPLY_BYTES + 1)
            finally:
                resp.close()
        except requests.exceptions.SSLError as exc:
            why = f"TLS with {s.url} failed: {exc}"
            self._raise_alarm(ALARM_TLS, f"{why}; nothing is sent until the certificate is accepted", "critical")
            self._retry(batch, why)
            return
        except (requests.RequestException, OSError) as exc:
            self._retry(batch, f"POST {s.url} failed: {type(exc).__name__}: {exc}")
            return
        status = resp.status_code
        verdict = classify(status)
        self.counters["requests"] += 1
        self.counters["sent"] += len(batch.event_ids)
        if verdict is Verdict.ANSWERED:
            if len(content) > MAX_REPLY_BYTES:
                self._retry(batch, f"{status} answer larger than {MAX_REPLY_BYTES} bytes")
                return
            try:
                reply = parse_reply(resp.headers.get("Content-Type", ""), content, batch.event_ids)
            except GarbageReply as exc:
                self._retry(batch, f"{status} from {s.url}: {exc}")
                return
            self._apply(batch, reply)
        elif verdict is Verdict.AUTH:
            batches.note_attempt(self.store, batch.batch_id, f"HTTP {status}")
            self._config_fault(f"receiver {s.url} answered HTTP {status}: it does not accept our signature "
                               "(check [uplink.webhook] secret_file against the receiver's key)")
        elif verdict is Verdict.RETRY:
            hint = retry_after_s(resp.headers.get("Retry-After"), time.time())
            self._retry(batch, f"receiver {s.url} answered HTTP {status}", at_least_s=hint)
        else:
            why = f"receiver {s.url} answered HTTP {status}: {mask_text(content[:200].decode('utf-8', 'replace'))}"
            self._raise_alarm(ALARM_REFUSED, f"{why}; the batch is retried with backoff")
            self._retry(batch, why)

    def _retry(self, batch: Batch, why: str, at_least_s: float | None = None) -> None:
        delay = self.backoff.next_delay()
        if at_least_s is not None:
            delay = min(max(delay, at_least_s), self.backoff.cap_s)
        self._failed(why, delay_s=delay)
        batches.note_attempt(self.store, batch.batch_id, why)

    def _apply(self, batch: Batch, reply: Reply) -> None:
        still = {r["event_id"] for r in self.store.query(
            "SELECT event_id FROM deliveries WHERE uplink = ? AND state = 'inflight' AND batch_id = ?",
            (self.NAME, batch.batch_id))}
        accepted = [e for e in reply.accepted if e in still]
        if accepted:
            self.queue.mark_delivered(accepted)
            self.counters["delivered"] += len(accepted)
        for event_id, reason, code in reply.rejected:
            if event_id in still:
                self.queue.mark_dead(event_id, reason, code or "rejected")
                self.counters["dead"] += 1
                self.log.warning("receiver rejected event %s: %s", event_id, reason)
        unanswered = [e for e in reply.unanswered if e in still]
        if unanswered:
            self.queue.retry_later(unanswered, self.unanswered_delay_s, "the receiver's reply did not mention it")
            self.counters["retried"] += len(unanswered)
            self.log.warning("receiver did not answer for %d record(s) of batch %s; they go in a later batch",
                             len(unanswered), batch.batch_id)
        if reply.unknown:
            self.log.warning("receiver answered for %d event id(s) not in batch %s (ignored)",
                             len(reply.unknown), batch.batch_id)
        batches.finish(self.store, batch.batch_id, "done",
                       f"{len(accepted)} accepted, {len(reply.rejected)} rejected, {len(unanswered)} unanswered")
        self.current = None
        self.backoff.reset()
        self._succeeded()

    def close(self) -> None:
        """Release the HTTP session. A batch in flight stays stored and is resumed by the next start."""
        if self.http is not None:
            self.http.close()
            self.http = None


def _session() -> requests.Session:
    http = requests.Session()
    http.headers["User-Agent"] = "sitegate-webhook/1"
    return http


def _read_capped(resp: requests.Response, limit: int) -> bytes:
    """At most ``limit`` bytes of the body (iter_content maps urllib3's errors to requests')."""
    out = bytearray()
    for chunk in resp.iter_content(65536):
        out += chunk
        if len(out) >= limit:
            break
    return bytes(out[:limit])
