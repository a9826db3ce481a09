"""Every page and API answer: access rules, shapes, masking, escaping, headers, bad requests."""
from __future__ import annotations

import re
import socket

import pytest
from web_helpers import IDS, ID_RE, PINS, XSS_NAME, event

from sitegate.buffer import DeliveryQueue
from sitegate.buffer.reviews import ReviewQueue
from sitegate.model import Location, Method
from sitegate.web.http import MAX_BODY

PAGES = ["/onsite", "/attendance", "/roster", f"/workers/{PINS[0]}", f"/workers/{PINS[2]}", "/manual", "/reviews",
         "/uplink", "/dead-letters", "/devices"]
APIS = ["/api/onsite", "/api/attendance", "/api/roster", f"/api/workers/{PINS[0]}", f"/api/workers/{PINS[2]}",
        "/api/reviews", "/api/uplink", "/api/dead-letters", "/api/devices", "/api/me"]


@pytest.fixture
def site(gw):
    """A day on site: passages, a denied attempt, a review item, a dead letter, devices, an alarm
    whose text carries an ID number (free text must be masked too)."""
    now = gw.clock.t
    s = gw.store
    s.append(event(IDS[0], "张三", ts=now - 3600))
    s.append(event(IDS[2], XSS_NAME, ts=now - 3000))
    s.append(event(IDS[1], "李四", ts=now - 2000, team=(101, "木工班")))
    s.append(event(IDS[1], "李四", ts=now - 1000, direction="out", team=(101, "木工班")))
    s.append(event(IDS[3], "王五", ts=now - 500, denied=True, team=(101, "木工班")))
    dead = event(IDS[0], "张三", ts=now - 7200, method=Method.FACE)
    s.append(dead)
    DeliveryQueue(s, "national").mark_dead(dead.event_id, f"人员 {IDS[0]} 未在项目中登记", "E1001")
    geo = event(IDS[2], XSS_NAME, ts=now - 60, method=Method.GEOFENCE).with_(location=Location(117.0, 36.6, 35.0))
    ReviewQueue(s).add("geofence", geo, [{"code": "accuracy", "message": f"精度不足 {IDS[2]}"}])
    s.raise_alarm("test_alarm", f"worker {IDS[4]} something odd <b>bold</b>")
    gw.devices.append({"id": "east-gate", "driver": "ga467-serial", "lane": "east-1", "direction": "in",
                       "state": "up", "reason": "", "since": now - 600})
    gw.devices.append({"id": "<img src=x>", "driver": "wg-udp", "lane": "west", "direction": "device",
                       "state": "down", "reason": f"card {IDS[4]} stuck", "since": now - 60})
    return gw


def test_every_page_answers_when_logged_in(site):
    c = site.logged_in()
    for path in PAGES:
        r = c.get(path)
        assert r.status_code == 200, path
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
        assert '<html lang="zh-CN">' in r.text and 'name="viewport"' in r.text, path
        assert 'class="nav"' in r.text and "在场人员" in r.text, path


def test_every_page_redirects_to_login_and_every_api_says_401_when_not_logged_in(site):
    c = site.client()
    for path in PAGES + ["/"]:
        r = c.get(path)
        assert r.status_code == 302 and r.headers["Location"].startswith("/login?next="), path
    for path in APIS:
        r = c.get(path)
        assert r.status_code == 401 and r.json() == {"error": "login required"}, path
    for path, body in (("/api/manual", {}), ("/api/reviews/1/accept", {}), ("/api/dead-letters/x/retry", {})):
        assert c.post(path, json=body).status_code == 401, path
    for path in ("/manual", "/reviews/1", "/logout"):
        assert c.post(path, data={}).status_code == 302, path


def test_public_paths_need_no_login(site):
    c = site.client()
    assert c.get("/login").status_code == 200
    assert c.get("/healthz").status_code == 200
    assert c.get("/metrics").status_code == 200
    css = c.get("/static/style.css")
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    assert "max-age" in css.headers["Cache-Control"]
    assert c.get("/static/nope.css").status_code == 404
    assert c.get("/static/..%2Fapp.py").status_code == 404
    assert c.post("/api/clockin", data=b"{}").status_code == 404      # no ctx.clockin on this gateway


def test_no_unmasked_id_number_in_any_answer(site):
    """Grep every page and API answer for an 18-digit ID number; the last-resort masking in the
    app must not have had to step in either (that would hide a view that leaks)."""
    c = site.logged_in()
    answers = {path: c.get(path).text for path in PAGES + APIS}
    answers["/roster?q=full-id"] = c.get("/roster", params={"q": IDS[0]}).text
    answers["/api/roster?q=full-id"] = c.get("/api/roster", params={"q": IDS[0]}).text
    for path, text in answers.items():
        assert not ID_RE.search(text), f"{path} shows an unmasked ID number"
    assert "370102********" in answers["/onsite"]
    assert site.ctx.metrics.value("sitegate_rejected_input_total", {"source": "web", "reason": "unmasked_id"}) is None


def test_the_last_guard_masks_and_counts_a_leak(site):
    """A view that forgets to mask: the app masks on the way out and counts it."""
    from sitegate.web.http import json_response
    from sitegate.web.router import PAGE

    site.server.app.router.add("GET", "/leaky", lambda app, req: json_response({"id": IDS[0]}), PAGE)
    c = site.logged_in()
    r = c.get("/leaky")
    assert r.status_code == 200 and not ID_RE.search(r.text) and r.json()["id"].startswith("370102********")
    assert site.ctx.metrics.value("sitegate_rejected_input_total", {"source": "web", "reason": "unmasked_id"}) == 1


def test_markup_in_names_and_device_texts_is_escaped(site):
    c = site.logged_in()
    for path in ("/onsite", "/attendance", "/roster", f"/workers/{PINS[2]}", "/reviews", "/devices", "/uplink"):
        text = c.get(path).text
        assert "<script>alert(1)</script>" not in text and "<img src=x>" not in text and "<b>bold</b>" not in text, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in c.get("/onsite").text
    assert "&lt;img src=x&gt;" in c.get("/devices").text
    # JSON carries the name as data, with < and > as \u escapes
    raw = c.get("/api/onsite").text
    assert "<script>" not in raw and "\\u003cscript\\u003e" in raw
    names = [w["name"] for t in c.get("/api/onsite").json()["teams"] for w in t["workers"]]
    assert XSS_NAME in names


def test_security_headers_on_pages_api_and_errors(site):
    c = site.logged_in()
    for r in (c.get("/onsite"), c.get("/api/onsite"), c.get("/nope"), site.client().get("/login"), c.get("/healthz")):
        assert r.headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["Referrer-Policy"] == "no-referrer"
        assert r.headers["Cache-Control"] == "no-store"
        assert r.headers["Server"].startswith("sitegate")


def test_pages_have_no_inline_script_or_style(site):
    """CSP default-src 'self' would block them: the pages must not need any."""
    c = site.logged_in()
    for path in PAGES:
        text = c.get(path).text
        assert "<script" not in text and " style=" not in text and "<style" not in text, path


def test_onsite_json_shape(site):
    d = site.logged_in().get("/api/onsite").json()
    assert d["total"] == 2 and d["window_hours"] == 16
    team = next(t for t in d["teams"] if t["team_sys_no"] == 100)
    assert team["team_name"] == "钢筋班" and team["count"] == 2
    w = team["workers"][0]
    assert set(w) == {"pin", "name", "id_card_number", "since", "since_ts", "method", "lane"}
    assert w["pin"] == PINS[0] and w["name"] == "张三" and w["id_card_number"] == "370102********" + IDS[0][-4:]


def test_attendance_json_shape(site):
    d = site.logged_in().get("/api/attendance").json()
    assert d["date"] == "2025-06-10"
    assert d["workers_total"] == 3 and d["denied_total"] == 1 and d["passages_total"] == 5
    li = next(w for t in d["teams"] for w in t["workers"] if w["name"] == "李四")
    assert li["first_in"] and li["last_out"] and li["passages"] == 2
    denied = d["denied"][0]
    assert denied["name"] == "王五" and denied["reason"] == "blacklisted"
    assert denied["id_card_number"].startswith("370102********")


def test_roster_search_by_name_last4_card_pin_team_and_paging(site):
    c = site.logged_in()

    def names(**params):
        return [w["name"] for w in c.get("/api/roster", params=params).json()["workers"]]

    assert names(q="张") == ["张三"]
    assert names(q=IDS[1][-4:]) == ["李四"]
    assert names(q="5002") == ["李四"]
    assert names(q="005002") == ["李四"]           # leading zeros on a card number
    assert names(q=str(PINS[0])) == ["张三"]
    assert names(q="木工") == ["李四", "王五"]
    assert names(team="101") == ["李四", "王五"]
    assert names(status="left") == ["赵六"]
    assert len(names(status="all")) == 5
    full = c.get("/api/roster", params={"q": IDS[0]}).json()
    assert [w["name"] for w in full["workers"]] == ["张三"] and full["q"] == "370102********" + IDS[0][-4:]
    d = c.get("/api/roster").json()
    assert d["page"] == 1 and d["pages"] == 1 and d["total"] == 4
    w = d["workers"][0]
    assert set(w) >= {"pin", "name", "id_card_number", "team_sys_no", "team_name", "card_no", "status", "blacklisted"}
    assert c.get("/api/roster", params={"page": "x"}).status_code == 400
    assert c.get("/api/roster", params={"status": "everyone"}).status_code == 400


def test_roster_pages_through_many_workers(gw):
    from sitegate.buffer import Roster, Worker
    from web_helpers import make_id

    Roster(gw.store).upsert_many([Worker(make_id(100 + i), f"工人{i:03d}", team_sys_no=7, team_name="杂工班")
                                  for i in range(120)])
    c = gw.logged_in()
    first = c.get("/api/roster", params={"team": "7"}).json()
    assert first["total"] == 120 and first["pages"] == 3 and len(first["workers"]) == 50
    last = c.get("/api/roster", params={"team": "7", "page": "3"}).json()
    assert len(last["workers"]) == 20 and last["workers"][-1]["name"] == "工人119"
    html = c.get("/roster", params={"team": "7"}).text
    assert "下一页" in html and "page=2" in html


def test_worker_page_json_shape(site):
    site.store.write(lambda conn: conn.execute(
        "INSERT INTO phones(phone_id, id_hash, id_masked, key_enc, created_ts, revoked_ts) VALUES (?, ?, ?, ?, ?, ?)",
        ("phone-1", site.store.cipher.index(IDS[0]), "x", b"\x01secret", 1.0, None)))
    site.store.write(lambda conn: conn.execute(
        "INSERT INTO faces(id_hash, encoding_enc, source, created_ts, updated_ts) VALUES (?, ?, ?, ?, ?)",
        (site.store.cipher.index(IDS[0]), b"\x01enc", "enroll", 1.0, 2.0)))
    d = site.logged_in().get(f"/api/workers/{PINS[0]}").json()
    assert d["worker"]["name"] == "张三" and d["worker"]["pin"] == PINS[0]
    assert d["face"]["enrolled"] is True
    assert d["phones"] == [{"phone_id": "phone-1", "active": True, "issued": d["phones"][0]["issued"], "revoked": None}]
    states = {e["method"]: e["delivery"] for e in d["events"]}
    assert states == {"face": "dead", "card": "pending"}
    assert "secret" not in str(d) and "key" not in str(d["phones"])
    other = site.logged_in().get(f"/api/workers/{PINS[1]}").json()
    assert other["face"]["enrolled"] is False and other["phones"] == []
    assert site.logged_in().get("/api/workers/99999").status_code == 404
    assert site.logged_in().get("/workers/99999").status_code == 404


def test_status_devices_reviews_dead_letters_json(site):
    c = site.logged_in()
    up = c.get("/api/uplink").json()
    assert up["backlog"]["national"]["pending"] == 4 and up["dead_letters"] == 1
    assert up["oldest_undelivered_ts"] is not None and up["alarms"][0]["code"] == "test_alarm"
    dev = c.get("/api/devices").json()
    assert [d["state"] for d in dev["devices"]] == ["up", "down"] and dev["up"] == 1
    rv = c.get("/api/reviews").json()
    assert rv["open"] == 1 and rv["items"][0]["location"]["accuracy_m"] == 35.0
    dl = c.get("/api/dead-letters").json()
    assert dl["open"] == 1 and dl["items"][0]["code"] == "E1001" and dl["items"][0]["name"] == "张三"


def test_nav_shows_open_review_and_dead_letter_counts(site):
    text = site.logged_in().get("/onsite").text
    assert text.count('class="badge"') == 2


def test_unknown_path_404_wrong_method_405(site):
    c = site.logged_in()
    r = c.get("/nope")
    assert r.status_code == 404 and "找不到页面" in r.text
    assert c.get("/api/nope").json()["error"].startswith("no page at")
    r = c.delete("/onsite")
    assert r.status_code == 405 and "GET" in r.headers["Allow"]
    assert c.post("/onsite", data={"csrf": c.csrf}).status_code == 405


def test_bad_requests_get_a_clear_400(site):
    c = site.logged_in()
    r = c.post("/api/manual", data=b"{not json", headers={"X-CSRF-Token": c.csrf, "Content-Type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
    r = c.post("/api/manual", data=b"[1, 2]", headers={"X-CSRF-Token": c.csrf, "Content-Type": "application/json"})
    assert r.status_code == 400 and "JSON object" in r.json()["error"]
    r = c.post("/api/manual", data="\xff".encode("latin-1"), headers={"X-CSRF-Token": c.csrf,
                                                                     "Content-Type": "application/json"})
    assert r.status_code == 400 and "UTF-8" in r.json()["error"]
    assert c.get("/api/attendance", params={"date": "2024-13-45"}).status_code == 400
    assert c.get("/onsite?%ff=1").status_code == 400
    assert site.ctx.metrics.value("sitegate_rejected_input_total", {"source": "web", "reason": "bad_request"}) >= 4


def test_oversized_body_is_refused_with_413(site):
    c = site.logged_in()
    r = c.post("/api/manual", data=b"x" * (MAX_BODY + 1), headers={"X-CSRF-Token": c.csrf})
    assert r.status_code == 413
    assert site.ctx.metrics.value("sitegate_rejected_input_total", {"source": "web", "reason": "too_large"}) == 1
    assert c.get("/onsite").status_code == 200      # and the server goes on


def test_garbage_on_the_socket_does_not_hurt_the_server(site):
    host, port = "127.0.0.1", int(site.base.rsplit(":", 1)[1])
    for junk in (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(64)), b"GET\r\n\r\n",
                 b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n", b"POST /login HTTP/1.0\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", b"GET /" + b"a" * 5000 + b" HTTP/1.0\r\n\r\n"):
        with socket.create_connection((host, port), timeout=10) as s:
            s.sendall(junk)
            s.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
        # a 4xx (as an HTTP/0.9 bare body when the request line itself is garbage), or a closed socket
        assert answer == b"" or re.match(rb"(HTTP/1\.[01] )?4\d\d ", answer), (junk[:20], answer[:80])
    assert site.logged_in().get("/onsite").status_code == 200


def test_phone_clockin_goes_to_the_daemons_handler_without_session_or_csrf(gw):
    seen = []

    def clockin(body: bytes, ip: str):
        seen.append((body, ip))
        return 202, {"accepted": True}

    gw.ctx.clockin = clockin
    r = gw.client().post("/api/clockin", data=b'{"phone_id":"p1"}', headers={"Content-Type": "application/json",
                                                                              "Origin": "null"})
    assert r.status_code == 202 and r.json() == {"accepted": True}
    assert seen == [(b'{"phone_id":"p1"}', "127.0.0.1")]


def test_a_new_login_ends_the_session_it_replaces(gw):
    from sitegate.web.sessions import COOKIE

    c = gw.logged_in()
    old = c.cookies[COOKIE]
    assert c.login().status_code == 303
    assert c.cookies[COOKIE] != old
    stale = gw.client()
    stale.cookies.set(COOKIE, old)
    assert stale.get("/onsite").status_code == 302
