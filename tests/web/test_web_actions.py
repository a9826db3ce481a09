"""The clerk's actions: 补卡, review decisions, dead-letter retries — through pages and the API."""
from __future__ import annotations

import html
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from web_helpers import IDS, ID_RE, PINS, XSS_NAME, event

from sitegate.buffer import DeliveryQueue
from sitegate.buffer.reviews import ReviewQueue
from sitegate.model import Location, Method

TZ = ZoneInfo("Asia/Shanghai")


def local(ts: float) -> str:
    return datetime.fromtimestamp(ts, TZ).strftime("%Y-%m-%dT%H:%M")


def manual_events(gw):
    return [e for e in gw.store.events() if e.method is Method.MANUAL]


# -- 补卡 ---------------------------------------------------------------------------------------
def test_manual_clockin_by_pin_records_the_event_and_redirects_to_its_result(gw):
    c = gw.logged_in()
    when = gw.clock.t - 2 * 3600
    r = c.form("/manual", {"who": str(PINS[0]), "direction": "in", "time": local(when), "channel": "east-1",
                           "reason": "闸机故障", "form_id": "f" * 22})
    assert r.status_code == 303
    event_id = re.fullmatch(r"/manual\?done=([0-9a-f-]{36})", r.headers["Location"]).group(1)
    [ev] = manual_events(gw)
    assert ev.event_id == event_id and ev.worker.id_card_number == IDS[0] and ev.direction.value == "in"
    assert ev.note == "闸机故障" and ev.source.lane == "east-1" and ev.extra["entered_by"] == "clerk"
    assert abs(ev.time.wall.timestamp() - when) < 60
    # queued for the platform like any admitted passage, and audited with the clerk's name
    assert gw.store.query("SELECT state FROM deliveries WHERE event_id = ?", (event_id,))[0][0] == "pending"
    assert gw.store.query("SELECT actor FROM audit WHERE action = 'events.add'")[0][0] == "clerk"
    page = c.get(r.headers["Location"]).text
    assert "补卡已记录" in page and event_id in page and "张三" in page and not ID_RE.search(page)
    # and it shows in today's attendance
    att = c.get("/api/attendance").json()
    zs = next(w for t in att["teams"] for w in t["workers"] if w["name"] == "张三")
    assert zs["first_in"] == datetime.fromtimestamp(when, TZ).strftime("%Y-%m-%d %H:%M:00")


def test_manual_clockin_by_id_number(gw):
    c = gw.logged_in()
    r = c.form("/manual", {"who": IDS[1].lower(), "direction": "out", "time": "", "channel": "", "reason": "忘带卡"})
    assert r.status_code == 303
    [ev] = manual_events(gw)
    assert ev.worker.name == "李四" and ev.direction.value == "out"


def test_the_same_form_sent_twice_makes_one_record(gw):
    c = gw.logged_in()
    form = {"who": str(PINS[0]), "direction": "in", "time": "", "channel": "", "reason": "闸机故障", "form_id": "a" * 22}
    first = c.form("/manual", form)
    second = c.form("/manual", form)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert len(manual_events(gw)) == 1
    # a new form (new form_id) is a new record
    assert c.form("/manual", {**form, "form_id": "b" * 22}).status_code == 303
    assert len(manual_events(gw)) == 2


def test_manual_refusals_are_shown_in_the_form_and_record_nothing(gw):
    c = gw.logged_in()
    cases = [
        ({"who": "", "direction": "in", "reason": "x"}, "PIN 或身份证号"),
        ({"who": "99999", "direction": "in", "reason": "x"}, "没有 PIN 为 99999"),
        ({"who": str(PINS[0]), "direction": "in", "reason": "  "}, "请填写补卡原因"),
        ({"who": str(PINS[0]), "direction": "sideways", "reason": "x"}, "请选择进场或出场"),
        ({"who": str(PINS[0]), "direction": "in", "reason": "x", "time": local(gw.clock.t + 3600)}, "in the future"),
        ({"who": str(PINS[0]), "direction": "in", "reason": "x", "time": "yesterday"}, "is not 'YYYY-MM-DD HH:MM:SS'"),
        ({"who": str(PINS[3]), "direction": "in", "reason": "x"}, "blacklisted"),
        ({"who": str(PINS[4]), "direction": "in", "reason": "x"}, "has left the project"),
        ({"who": "370102199001011234", "direction": "in", "reason": "x"}, "370102********1234"),
    ]
    for form, message in cases:
        r = c.form("/manual", {"time": "", "channel": "", **form})
        assert r.status_code == 400, form
        assert "无法补卡" in r.text and message in html.unescape(r.text), (form, r.text[-800:])
        assert not ID_RE.search(r.text), "an ID number typed into the form must not come back unmasked"
    assert manual_events(gw) == []
    assert gw.ctx.metrics.value("sitegate_rejected_input_total", {"source": "web", "reason": "manual_refused"}) == len(cases)


def test_manual_form_keeps_what_was_typed_after_an_error_except_an_id_number(gw):
    c = gw.logged_in()
    r = c.form("/manual", {"who": str(PINS[0]), "direction": "out", "time": "", "channel": "北门", "reason": ""})
    assert r.status_code == 400
    assert f'name="who" value="{PINS[0]}"' in r.text and 'value="北门"' in r.text
    assert re.search(r'value="out"[^>]*checked', r.text)


def test_manual_page_offers_the_lanes_of_the_devices_and_prefills_a_pin(gw):
    gw.devices.append({"id": "d1", "driver": "x", "lane": "east-1", "direction": "in", "state": "up", "since": 0})
    text = gw.logged_in().get(f"/manual?pin={PINS[1]}").text
    assert '<option value="east-1">' in text and f'name="who" value="{PINS[1]}"' in text


def test_manual_clockin_through_the_api(gw):
    c = gw.logged_in()
    r = c.api("/api/manual", {"worker": str(PINS[2]), "direction": "in", "time": local(gw.clock.t - 600),
                              "channel": "east-1", "reason": "闸机故障", "request_id": "r" * 20})
    assert r.status_code == 201
    body = r.json()
    assert body["created"] is True and body["event"]["name"] == XSS_NAME and body["event"]["method"] == "manual"
    assert body["event"]["id_card_number"] == "370102********" + IDS[2][-4:]
    again = c.api("/api/manual", {"worker": str(PINS[2]), "direction": "in", "reason": "闸机故障", "request_id": "r" * 20})
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["event"]["event_id"] == body["event"]["event_id"]
    bad = c.api("/api/manual", {"worker": IDS[3], "direction": "in", "reason": "x"})
    assert bad.status_code == 400 and "blacklisted" in bad.json()["error"] and not ID_RE.search(bad.text)
    assert c.api("/api/manual", {"worker": 1001, "direction": "in", "reason": "x"}).status_code == 400
    assert len(manual_events(gw)) == 1


# -- 待审核 -------------------------------------------------------------------------------------
def _review(gw, idx: int = 0) -> int:
    ev = event(IDS[idx], "张三", ts=gw.clock.t - 300, method=Method.GEOFENCE).with_(location=Location(117.0, 36.6, 80.0))
    return ReviewQueue(gw.store).add("geofence", ev, [{"code": "accuracy", "message": "定位精度 80 米"}])


def test_review_accept_creates_an_attendance_event(gw):
    item = _review(gw)
    c = gw.logged_in()
    page = c.get("/reviews").text
    assert "定位精度 80 米" in page and f'action="/reviews/{item}"' in page
    r = c.form(f"/reviews/{item}", {"decision": "accept", "note": "现场核实"})
    assert r.status_code == 303 and r.headers["Location"] == "/reviews"
    it = ReviewQueue(gw.store).get(item)
    assert it.status == "accepted" and it.decided_by == "clerk" and it.note == "现场核实"
    ev = gw.store.get_event(it.event_id)
    assert ev is not None and ev.method is Method.GEOFENCE and ev.worker.id_card_number == IDS[0]
    assert gw.store.query("SELECT state FROM deliveries WHERE event_id = ?", (it.event_id,))[0][0] == "pending"
    after = c.get("/reviews").text
    assert "已通过" in after and "没有待审核的打卡" in after       # the flash, once, and the empty queue
    assert "已通过" not in c.get("/reviews").text


def test_review_reject_keeps_the_item_and_makes_no_event(gw):
    item = _review(gw)
    c = gw.logged_in()
    before = gw.store.count_events()
    assert c.form(f"/reviews/{item}", {"decision": "reject", "note": "不在工地"}).status_code == 303
    assert ReviewQueue(gw.store).get(item).status == "rejected"
    assert gw.store.count_events() == before
    # deciding twice is refused with a clear message
    c.form(f"/reviews/{item}", {"decision": "accept"})
    assert "already rejected" in c.get("/reviews").text


def test_review_decisions_through_the_api(gw):
    a, b = _review(gw, 0), _review(gw, 1)
    c = gw.logged_in()
    r = c.api(f"/api/reviews/{a}/accept", {"note": "ok"})
    assert r.status_code == 200 and r.json()["status"] == "accepted" and r.json()["event_id"]
    assert c.api(f"/api/reviews/{a}/reject").status_code == 409
    assert c.api(f"/api/reviews/{b}/maybe").status_code == 400
    assert c.api("/api/reviews/9999/accept").status_code == 404
    assert c.api(f"/api/reviews/{b}/reject", {"note": "x"}).json() == {"id": b, "status": "rejected", "event_id": None}


# -- 死信 ---------------------------------------------------------------------------------------
def _dead(gw) -> str:
    ev = event(IDS[0], "张三", ts=gw.clock.t - 600)
    gw.store.append(ev)
    DeliveryQueue(gw.store, "national").mark_dead(ev.event_id, "人员未在项目中登记", "E1001")
    return ev.event_id


def test_dead_letter_retry_moves_the_delivery_back_to_pending(gw):
    event_id = _dead(gw)
    c = gw.logged_in()
    page = c.get("/dead-letters").text
    assert "人员未在项目中登记" in page and "重新上传" in page and f'action="/dead-letters/{event_id}"' in page
    r = c.form(f"/dead-letters/{event_id}", {"note": "已在平台登记"})
    assert r.status_code == 303
    row = gw.store.query("SELECT state, next_attempt_ts FROM deliveries WHERE event_id = ?", (event_id,))[0]
    assert row["state"] == "pending" and row["next_attempt_ts"] == 0
    dl = gw.store.query("SELECT resolved_ts, resolution FROM dead_letters WHERE event_id = ?", (event_id,))[0]
    assert dl["resolved_ts"] is not None and "clerk" in dl["resolution"] and "已在平台登记" in dl["resolution"]
    after = c.get("/dead-letters").text
    assert "已重新排队上传" in after and "没有死信" in after
    # a second retry finds nothing to do and says so
    c.form(f"/dead-letters/{event_id}", {})
    assert "已不在死信中" in c.get("/dead-letters").text


def test_dead_letter_retry_through_the_api(gw):
    event_id = _dead(gw)
    c = gw.logged_in()
    r = c.api(f"/api/dead-letters/{event_id}/retry", {"note": "fixed"})
    assert r.status_code == 200 and r.json() == {"event_id": event_id, "requeued": True}
    assert c.api(f"/api/dead-letters/{event_id}/retry").status_code == 409
    assert c.api("/api/dead-letters/not-a-uuid/retry").status_code == 400


def test_the_same_form_sent_at_the_same_moment_makes_one_record(gw):
    """Two submissions racing (a double tap on a slow phone): one record, both answers name it."""
    from concurrent.futures import ThreadPoolExecutor

    c = gw.logged_in()
    form = {"csrf": c.csrf, "who": str(PINS[1]), "direction": "in", "time": "", "channel": "",
            "reason": "闸机故障", "form_id": "race" * 6}
    cookies = c.cookies.get_dict()

    def send(_):
        other = gw.client()
        other.cookies.update(cookies)
        return other.post("/manual", data=form).headers.get("Location")

    with ThreadPoolExecutor(6) as pool:
        locations = list(pool.map(send, range(6)))
    assert len(set(locations)) == 1 and locations[0].startswith("/manual?done=")
    assert len(manual_events(gw)) == 1


def test_a_refused_form_may_be_sent_again_after_correction(gw):
    c = gw.logged_in()
    form = {"who": "99999", "direction": "in", "time": "", "channel": "", "reason": "x", "form_id": "c" * 22}
    assert c.form("/manual", form).status_code == 400
    assert c.form("/manual", {**form, "who": str(PINS[0])}).status_code == 303
    assert len(manual_events(gw)) == 1
