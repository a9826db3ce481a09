"""The clerk web (gateway/web) as a stranger on the site LAN sees it: a real server on 127.0.0.1 over a
real store. Random requests (method, path, query, headers, cookie, body), random logins, and POSTs
of a logged-in clerk with a missing or wrong CSRF token.

Whatever arrives: never a 500 (the app turns an escaped exception into a 500, so a 500 is a bug);
no page that needs a login is served without one; a wrong password never opens a session; a POST
without the session's CSRF token changes nothing. The request parsers alone are fuzzed in
tests/web/test_web_units.py."""
from __future__ import annotations


import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.fuzz.rawhttp import exchange

from sitegate.buffer import Roster, Store
from sitegate.metrics import Metrics
from sitegate.roster_cache import RosterCache
from sitegate.web import WebContext, WebServer
from sitegate.web.accounts import Accounts
from sitegate.web.sessions import COOKIE
from tests.web.web_helpers import IDS, PASSWORD, Client, ManualClock, make_config, roster_rows

SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
PUBLIC = ("/login", "/healthz", "/metrics", "/static/", "/favicon.ico", "/api/login", "/api/clockin")
PATHS = ["/", "/login", "/logout", "/onsite", "/attendance", "/roster", f"/worker/{IDS[0]}", "/reviews",
         "/reviews/1", "/uplink", "/dead-letters", "/dead-letters/x", "/devices", "/manual", "/healthz", "/metrics",
         "/static/app.css", "/static/../../etc/passwd", "/favicon.ico", "/api/onsite", "/api/me", "/api/login",
         "/api/logout", "/api/manual", "/api/reviews/1/accept", "/api/dead-letters/x/retry", "/api/clockin",
         "/%00", "/%ff", "//", "/roster?q=%ff"]


class Site:
    def __init__(self, root):
        self.store = Store.open(root / "data", uplinks=["national"])
        Roster(self.store).upsert_many(roster_rows())
        Accounts(self.store).add("clerk", PASSWORD, display_name="王会计")
        ctx = WebContext(cfg=make_config(root / "data"), store=self.store, roster=RosterCache(self.store),
                         metrics=Metrics(self.store, lambda: []), devices=lambda: [], healthy=lambda: True,
                         uplink_name="national", clock=ManualClock())
        self.server = WebServer(ctx, "127.0.0.1:0")
        self.port = self.server.start()
        self.base = f"http://127.0.0.1:{self.port}"

    def state(self) -> tuple:
        """What a forged POST could change: events, reviews, dead letters, sessions, users."""
        q = self.store.query
        return (self.store.count_events(), q("SELECT count(*), group_concat(status) FROM reviews")[0][:],
                q("SELECT count(*), group_concat(coalesce(resolved_ts, '')) FROM dead_letters")[0][:],
                q("SELECT count(*) FROM users")[0][0])

    def close(self) -> None:
        self.server.stop()
        self.store.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = Site(tmp_path_factory.mktemp("web-fuzz"))
    yield s
    s.close()


def status_line(answer: bytes) -> int | None:
    first = answer.split(b"\r\n", 1)[0].split()
    return int(first[1]) if len(first) >= 2 and first[0].startswith(b"HTTP/") and first[1].isdigit() else None


printable = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


@SETTINGS
@given(st.binary(max_size=2000))
@example(b"POST /login HTTP/1.1\r\nContent-Length: \xb2\r\n\r\n")   # "²" isdigit(), not int() (fixed in server.py)
@example(b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n")
@example(b"POST /login HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
def test_random_bytes_never_get_a_500(site, raw):
    answer = exchange(site.port, raw)
    assert status_line(answer) != 500, answer[:300]


@SETTINGS
@given(st.sampled_from(["GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"]),
       st.one_of(st.sampled_from(PATHS), printable.map(lambda t: "/" + t)),
       st.dictionaries(st.sampled_from(["Content-Type", "Origin", "Sec-Fetch-Site", "X-CSRF-Token", "Accept",
                                        "Cookie", "Host", "Content-Length", "Transfer-Encoding"]),
                       printable, max_size=5),
       st.one_of(st.none(), printable), st.binary(max_size=300))
def test_random_requests_without_a_session_never_get_a_500_or_a_private_page(site, method, path, headers,
                                                                             cookie, body):
    before = site.state()
    headers = {k: v for k, v in headers.items() if k not in ("Content-Length", "Host")}
    if cookie is not None:
        headers["Cookie"] = f"{COOKIE}={cookie}"
    try:
        r = requests.request(method, site.base + path, headers=headers, data=body, timeout=20,
                             allow_redirects=False)
    except requests.exceptions.RequestException:      # e.g. a header value requests will not send
        return
    assert r.status_code != 500, r.text[:300]
    public = path.split("?")[0].startswith(PUBLIC) or path in ("/", "//")
    if not public and r.status_code == 200:
        pytest.fail(f"{method} {path} served without a login: {r.text[:200]}")
    assert IDS[0] not in r.text                        # never an unmasked ID number
    if path.split("?")[0] not in ("/login", "/api/login"):
        assert site.state()[:3] == before[:3]


@pytest.fixture(scope="module")
def login_site(tmp_path_factory):
    """A site of its own: the wrong passwords below lock the account and this address (as they should)."""
    s = Site(tmp_path_factory.mktemp("web-login-fuzz"))
    yield s
    s.close()


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.one_of(st.just("clerk"), printable), st.one_of(printable, st.text(max_size=2000)),
       st.one_of(st.none(), printable))
def test_a_wrong_password_never_opens_a_session(login_site, username, password, next_path):
    site = login_site
    data = {"username": username, "password": password}
    if next_path is not None:
        data["next"] = next_path
    r = requests.post(site.base + "/login", data=data, timeout=30, allow_redirects=False)
    assert r.status_code != 500
    if (username, password) != ("clerk", PASSWORD):
        assert r.status_code in (400, 401, 413, 429), r.status_code
        assert COOKIE not in r.headers.get("Set-Cookie", "")


@pytest.fixture(scope="module")
def clerk(site):
    c = Client(site.base)
    assert c.login("clerk").status_code == 303 and c.csrf
    yield c
    c.close()


state_changing = st.sampled_from([("POST", "/manual"), ("POST", "/reviews/1"), ("POST", "/dead-letters/x"),
                                  ("POST", "/api/manual"), ("POST", "/api/reviews/1/accept"),
                                  ("POST", "/api/dead-letters/x/retry"), ("POST", "/logout"),
                                  ("POST", "/api/logout")])


@SETTINGS
@given(state_changing, st.one_of(st.none(), printable, st.just("")),
       st.dictionaries(st.sampled_from(["id_card_number", "direction", "time", "reason", "decision", "note"]),
                       printable, max_size=4))
def test_a_post_without_the_sessions_csrf_token_changes_nothing(site, clerk, route, token, fields):
    method, path = route
    before = site.state()
    if path.startswith("/api/"):
        headers = {} if token is None else {"X-CSRF-Token": token}
        r = clerk.post(path, json=fields, headers=headers)
    else:
        r = clerk.post(path, data=fields if token is None else {**fields, "csrf": token})
    assert token != clerk.csrf
    assert r.status_code == 403, (path, r.status_code, r.text[:200])
    assert site.state() == before
    assert clerk.get("/api/me").status_code == 200        # still logged in: a forged logout did nothing


@SETTINGS
@given(st.one_of(st.sampled_from(["\u00b2", "\u00b9\u00b2", "-1", "1e3", " ", "0x10", "99999999999999999999"]),
                 st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), min_size=1, max_size=12)))
@example("\u00b2")          # "²": isdigit() but not int(); the handler died without an answer (fixed in server.py)
def test_an_odd_content_length_is_answered_not_dropped(site, length):
    raw = b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: " + length.encode("latin-1") + b"\r\n\r\nusername=a"
    status = status_line(exchange(site.port, raw))
    declared = length.strip()
    if declared.isascii() and declared.isdigit():
        assert status in (400, 401, 413, 415, 429) or status is None     # a number: read (or cut short), answered
    else:
        assert status == 400
