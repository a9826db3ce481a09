"""/healthz, /metrics and the Metrics class."""
from __future__ import annotations

from web_helpers import IDS, ID_RE, event

from sitegate.buffer import DeliveryQueue, Store
from sitegate.buffer.reviews import ReviewQueue
from sitegate.metrics import CONTENT_TYPE, Metrics
from sitegate.web.views.health import HEARTBEAT_KEY

METRIC_NAMES = (
    "sitegate_gate_decisions_total", "sitegate_rejected_input_total", "sitegate_platform_errors_total",
    "sitegate_delivered_events_total", "sitegate_delivery_latency_seconds_bucket", "sitegate_backlog",
    "sitegate_oldest_undelivered_age_seconds", "sitegate_dead_letters_open", "sitegate_reviews_open",
    "sitegate_store_up", "sitegate_device_up", "sitegate_device_state",
)


def test_healthz_ok_writes_a_heartbeat(gw):
    r = gw.client().get("/healthz")
    assert r.status_code == 200 and r.json() == {"ok": True}
    assert gw.store.kv_get(HEARTBEAT_KEY) == "ok"


def test_healthz_503_when_the_main_loop_is_not_alive(gw):
    gw.alive[0] = False
    r = gw.client().get("/healthz")
    assert r.status_code == 503 and r.json()["ok"] is False and "main loop" in r.json()["reason"]


def test_healthz_503_when_the_store_is_closed(gw):
    gw.store.close()
    r = gw.client().get("/healthz")
    assert r.status_code == 503 and "store" in r.json()["reason"]


def test_metrics_exposes_every_name_and_no_personal_data(gw):
    m = gw.ctx.metrics
    m.decision("card", "admitted", "")
    m.decision("idcard", "denied", "blacklisted", repeat=True)
    m.platform_error("national", "timeout")
    m.rejected("east-gate", "checksum")
    m.delivered("national", 3, 42.0)
    gw.devices.append({"id": "east-gate", "state": "degraded"})
    ev = event(IDS[0], "张三", ts=gw.clock.t - 60)
    gw.store.append(ev)
    DeliveryQueue(gw.store, "national").mark_dead(ev.event_id, "bad", "E1")
    r = gw.client().get("/metrics")
    assert r.status_code == 200 and r.headers["Content-Type"] == CONTENT_TYPE
    text = r.text
    for name in METRIC_NAMES:
        assert f"\n{name}" in text, name
    assert 'sitegate_backlog{state="dead",uplink="national"} 1.0' in text
    assert "sitegate_dead_letters_open 1.0" in text
    assert 'sitegate_device_up{device="east-gate"} 1.0' in text
    assert 'sitegate_device_state{device="east-gate",state="degraded"} 1.0' in text
    assert 'sitegate_delivered_events_total{uplink="national"} 3.0' in text
    assert not ID_RE.search(text) and "张三" not in text and "370102" not in text


def test_metrics_counts_and_histogram_agree():
    m = Metrics()
    m.delivered("national", 4, 90.0)
    m.delivered("national", 0, 1.0)
    assert m.value("sitegate_delivered_events_total", {"uplink": "national"}) == 4
    assert m.value("sitegate_delivery_latency_seconds_count", {"uplink": "national"}) == 4
    assert m.value("sitegate_delivery_latency_seconds_bucket", {"uplink": "national", "le": "60.0"}) == 0
    assert m.value("sitegate_delivery_latency_seconds_bucket", {"uplink": "national", "le": "300.0"}) == 4
    m.platform_error("national", "martians")
    assert m.value("sitegate_platform_errors_total", {"uplink": "national", "kind": "other"}) == 1
    m.rejected("east-gate", "checksum")
    assert m.value("sitegate_rejected_input_total", {"source": "east-gate", "reason": "checksum"}) == 1
    assert b"sitegate_store_up" not in m.render()       # no store given: no store metrics at all


def test_two_metrics_objects_do_not_share_counters():
    a, b = Metrics(), Metrics()
    a.rejected("web", "x")
    assert b.value("sitegate_rejected_input_total", {"source": "web", "reason": "x"}) is None


def test_scrape_answers_when_the_store_is_gone(tmp_path):
    store = Store.open(tmp_path, uplinks=["national"])
    ReviewQueue(store).add("geofence", event(IDS[0], "张三", ts=1_700_000_000.0), [])
    m = Metrics(store, devices=lambda: [{"id": "d1", "state": "down"}])
    assert m.value("sitegate_reviews_open") == 1 and m.value("sitegate_store_up") == 1
    assert m.value("sitegate_oldest_undelivered_age_seconds", {"uplink": "national"}) == 0
    store.append(event(IDS[0], "张三", ts=1_700_000_000.0))
    assert m.value("sitegate_oldest_undelivered_age_seconds", {"uplink": "national"}) > 3600
    store.close()
    text = m.render().decode()
    assert "sitegate_store_up 0.0" in text and 'sitegate_device_up{device="d1"} 0.0' in text
    assert "\nsitegate_reviews_open " not in text        # no stale value when the store did not answer
