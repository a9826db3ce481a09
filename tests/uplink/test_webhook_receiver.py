"""The webhook profile against a real HTTP receiver on 127.0.0.1 (tests/uplink/webhook_receiver.py)."""
from __future__ import annotations

import json
import threading

import pytest

from sitegate.buffer import Store
from sitegate.uplink.base import Backoff
from sitegate.uplink.webhook import WebhookUplink
from tests.conftest import make_id
from tests.foundation.helpers import event
from tests.uplink.mosquitto import make_pki, pump, secret_file, states, wait_until
from tests.uplink.webhook_receiver import Receiver, webhook_config

SECRET = "hook-secret-0123456789"


@pytest.fixture
def receiver():
    rx = Receiver(SECRET).start()
    yield rx
    rx.stop()


def fill(store: Store, n: int, start: int = 0) -> list[str]:
    ids = []
    for i in range(start, start + n):
        ev = event(make_id(i))
        store.append(ev)
        ids.append(ev.event_id)
    return ids


def uplink_for(cfg, store) -> WebhookUplink:
    return WebhookUplink(cfg, store, backoff=Backoff(base_s=0.02, cap_s=0.1), unanswered_delay_s=0.0)


def settled(store, n: int):
    return lambda: states(store, "webhook")["delivered"] + states(store, "webhook")["dead"] == n


def test_normal_delivery_in_signed_batches(tmp_path, receiver):
    cfg = webhook_config(tmp_path, receiver.url, SECRET, batch_size=7)
    with Store.from_config(cfg) as store:
        ids = fill(store, 50)
        up = uplink_for(cfg, store)
        pump(up, settled(store, 50))
        assert set(receiver.records) == set(ids) and receiver.bad_signatures == 0
        assert {receiver.id_numbers[e] for e in ids} == {make_id(i) for i in range(50)}
        assert len(receiver.batch_keys) == 8                       # ceil(50 / 7) requests, one key each
        assert max(receiver.receipts.values()) == 1
        assert store.query("SELECT count(*) FROM batches WHERE uplink = 'webhook' AND state = 'done'")[0][0] == 8
        assert up.status.state == "ok"
        up.close()


def test_receiver_down_then_back(tmp_path, receiver):
    cfg = webhook_config(tmp_path, receiver.url, SECRET, timeout_s=2.0)
    with Store.from_config(cfg) as store:
        ids = fill(store, 45)
        receiver.stop()
        up = uplink_for(cfg, store)
        pump(up, lambda: up.status.consecutive_failures >= 3)
        assert up.status.state == "retrying" and "ConnectionError" in up.status.last_error
        inflight_batch = up.current.batch_id
        assert states(store, "webhook")["inflight"] == 20 and not store.active_alarms()
        receiver.start()                                           # the same port
        pump(up, settled(store, 45))
        assert set(receiver.records) == set(ids)
        assert inflight_batch in receiver.batch_keys               # the stored batch was the one resent
        up.close()


def test_thirty_percent_errors_still_deliver_everything_once(tmp_path, receiver):
    receiver.error_rate = 0.3
    receiver.queue = ["slow-after-storing", "reset-after-storing", "500-after-storing"]
    receiver.slow_s = 1.0
    cfg = webhook_config(tmp_path, receiver.url, SECRET, batch_size=10, timeout_s=0.5)
    with Store.from_config(cfg) as store:
        ids = fill(store, 300)
        up = uplink_for(cfg, store)
        pump(up, settled(store, 300))
        assert set(receiver.records) == set(ids)
        assert states(store, "webhook")["delivered"] == 300
        assert sum(receiver.faults_injected.values()) >= 10
        assert sum(receiver.receipts.values()) > 300                 # some were received twice: de-duplicated
        # a retried batch is the same batch: same key and the same body bytes every time
        assert max(receiver.batch_keys.values()) >= 2
        assert all(len(hashes) == 1 for hashes in receiver.bodies.values())
        up.close()


def test_rejected_records_become_dead_letters_with_the_reason(tmp_path, receiver):
    bad = {make_id(3), make_id(11)}
    receiver.reject = lambda rec, idn: "worker not on the project roster" if idn in bad else None
    cfg = webhook_config(tmp_path, receiver.url, SECRET)
    with Store.from_config(cfg) as store:
        ids = fill(store, 25)
        up = uplink_for(cfg, store)
        pump(up, settled(store, 25))
        assert states(store, "webhook")["dead"] == 2 and states(store, "webhook")["delivered"] == 23
        rows = store.query("SELECT d.reason, d.code, e.id_masked FROM dead_letters d JOIN events e USING (event_id)")
        assert {r["reason"] for r in rows} == {"worker not on the project roster"}
        assert {r["code"] for r in rows} == {"E_TEST"}
        assert len(receiver.records) == 23
        up.close()


def test_bad_secret_alarms_stops_and_resumes_the_same_batch_after_the_fix(tmp_path, receiver):
    cfg = webhook_config(tmp_path, receiver.url, "not-the-secret")
    with Store.from_config(cfg) as store:
        ids = fill(store, 30)
        up = uplink_for(cfg, store)
        pump(up, lambda: up.stopped)
        [alarm] = store.active_alarms()
        assert alarm["code"] == "uplink_config" and alarm["severity"] == "critical"
        assert "401" in alarm["message"] and "secret_file" in alarm["message"]
        assert up.step() is False and receiver.requests == 1      # stopped: no hammering
        assert not receiver.records and states(store, "webhook")["delivered"] == 0
        first_batch = up.current.batch_id
        up.close()

        secret_file(tmp_path / "webhook.secret", SECRET)         # the fix, then a reload
        fixed = uplink_for(cfg, store)
        pump(fixed, settled(store, 30))
        assert set(receiver.records) == set(ids) and first_batch in receiver.batch_keys
        assert store.active_alarms() == []
        fixed.close()


def test_an_unexpected_4xx_is_retried_with_an_alarm(tmp_path, receiver):
    cfg = webhook_config(tmp_path, receiver.url, SECRET)
    with Store.from_config(cfg) as store:
        fill(store, 3)
        up = uplink_for(cfg, store)

        orig = receiver.handle

        def not_found(h):                                          # a wrong path on a real web server
            h.rfile.read(int(h.headers.get("Content-Length", "0")))
            receiver._reply(h, 404, b"no such hook", "text/plain")

        receiver.handle = not_found
        pump(up, lambda: up.status.consecutive_failures >= 2)
        assert [a["code"] for a in store.active_alarms()] == ["uplink_refused"]
        assert "404" in up.status.last_error and not up.stopped
        receiver.handle = orig
        pump(up, settled(store, 3))
        assert store.active_alarms() == []
        up.close()


def test_webhook_body_is_what_docs_promise(tmp_path, receiver):
    seen = []
    orig = receiver._store
    receiver._store = lambda doc: (seen.append(doc), orig(doc))[1]
    cfg = webhook_config(tmp_path, receiver.url, SECRET)
    with Store.from_config(cfg) as store:
        fill(store, 1)
        up = uplink_for(cfg, store)
        pump(up, settled(store, 1))
        [doc] = seen
        assert set(doc) == {"schema", "batch_id", "project_code", "gateway_id", "records"}
        [rec] = doc["records"]
        assert json.dumps(rec)  # plain JSON
        assert rec["time"].endswith("+08:00") and rec["direction"] == "in"
        up.close()


def test_run_delivers_until_stopped(tmp_path, receiver):
    cfg = webhook_config(tmp_path, receiver.url, SECRET)
    with Store.from_config(cfg) as store:
        fill(store, 30)
        up = uplink_for(cfg, store)
        up.idle_sleep_s = 0.02
        stop = threading.Event()
        worker = threading.Thread(target=up.run, args=(stop,))
        worker.start()
        try:
            wait_until(settled(store, 30))                    # the thread does the work
            fill(store, 5, start=30)
            wait_until(settled(store, 35))
        finally:
            stop.set()
            worker.join(10)
        assert not worker.is_alive() and len(receiver.records) == 35
        up.close()


def test_https_receiver_verified_with_the_ca_file_and_fails_closed_without(tmp_path):
    pki = make_pki(tmp_path / "pki")
    (tmp_path / "without").mkdir()
    (tmp_path / "with").mkdir()
    rx = Receiver(SECRET, tls=pki).start()
    try:
        cfg = webhook_config(tmp_path / "without", rx.url, SECRET)     # system CAs: do not know ours
        with Store.from_config(cfg) as store:
            fill(store, 5)
            up = uplink_for(cfg, store)
            pump(up, lambda: up.status.consecutive_failures >= 2)
            assert rx.requests == 0 and states(store, "webhook")["delivered"] == 0
            assert [a["code"] for a in store.active_alarms()] == ["uplink_tls"]
            assert "certificate" in up.status.last_error.lower()
            up.close()
        cfg = webhook_config(tmp_path / "with", rx.url, SECRET, ca_file=pki.ca)
        with Store.from_config(cfg) as store:
            ids = fill(store, 5)
            up = uplink_for(cfg, store)
            pump(up, settled(store, 5))
            assert set(ids) <= set(rx.records)
            up.close()
    finally:
        rx.stop()
