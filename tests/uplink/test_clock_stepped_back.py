"""Retry times are wall-clock times in the store. When the clock is stepped back (NTP correcting a
clock that ran ahead, found by `sitegate bench soak`'s clock fault), a retry must not wait for the
size of the step on top of its own delay."""
from __future__ import annotations

import logging
import time

from engine_helpers import event, load_site, open_store, write_site

from sitegate.uplink.base import Backoff, UplinkStatus
from sitegate.uplink.national.batches import Ledger
from sitegate.uplink.national.health import Health
from sitegate.uplink.national.outcomes import Failure


def _store(tmp_path):
    cfg = load_site(write_site(tmp_path, "http://127.0.0.1:9/open.api"))
    return open_store(cfg)


def test_a_pending_record_scheduled_from_a_clock_two_hours_ahead_is_due_now(tmp_path):
    from sitegate.buffer.deliveries import DeliveryQueue

    with _store(tmp_path) as store:
        ev = event(1)
        store.append(ev)
        queue = DeliveryQueue(store, "national")
        now = time.time()
        queue.retry_later([ev.event_id], 120.0, "platform busy")      # an ordinary retry: not yet
        assert queue.due(10, now=now) == []
        store.write(lambda c: c.execute("UPDATE deliveries SET next_attempt_ts = ?", (now + 7200 + 600,)))
        assert [r["event_id"] for r in queue.due(10, now=now)] == [ev.event_id]


def test_a_batch_rescheduled_from_a_clock_ahead_is_due_now(tmp_path):
    with _store(tmp_path) as store:
        ev = event(1)
        store.append(ev)
        ledger = Ledger(store, "national")
        ledger.create("b1", [ev.event_id], "[]")
        store.write(lambda c: c.execute("UPDATE batches SET state = 'sent', next_ts = ?", (time.time() + 7800,)))
        batch_id = "b1"
        now = time.time()
        assert [b.batch_id for b in ledger.due("sent", now)] == [batch_id]
        store.write(lambda c: c.execute("UPDATE batches SET next_ts = ?", (now + 30,)))
        assert ledger.due("sent", now) == []          # an ordinary poll time is still waited for


def test_a_stopped_uplink_waits_its_own_length_not_the_clock_step(tmp_path):
    with _store(tmp_path) as store:
        health = Health(store, "national", UplinkStatus(), logging.getLogger("t"), backoff=Backoff(base_s=1, cap_s=300))
        health.config_fault(Failure("CONFIG", "signature", "[timestamp]与服务器时间相差7199秒", -2),
                            "WorkerAttendance.Add", retry_s=600)
        now = time.time()
        assert not health.may_call(now + 300) and health.may_call(now + 601)
        health.config_fault(Failure("CONFIG", "signature", "again", -2), "WorkerAttendance.Add", retry_s=600)
        # the clock was 2 h ahead when the fault was recorded: now it reads 2 h less. The stop
        # still lasts its 600 s from the first look after the step, not 2 h 10 min
        health._stopped_until += 7200
        now = time.time()
        assert not health.may_call(now)
        assert health.may_call(now + 601)
