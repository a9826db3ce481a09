"""Login, logout, lockouts, session expiry, cookies and CSRF against the real server."""
from __future__ import annotations

import hashlib

import pytest
from web_helpers import PASSWORD

from sitegate.web.accounts import LOCK_SECONDS, MAX_FAILURES, Accounts
from sitegate.web.logins import IP_MAX_FAILURES, MSG_BAD, MSG_IP, MSG_LOCKED
from sitegate.web.sessions import COOKIE


def test_login_sets_a_strict_httponly_cookie_and_keeps_only_its_hash(gw):
    c = gw.client()
    r = c.login()
    assert r.status_code == 303 and r.headers["Location"] == "/onsite"
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    for flag in ("HttpOnly", "SameSite=Strict", "Path=/"):
        assert flag in cookie
    assert "Secure" not in cookie            # plain HTTP here; see the TLS test
    token = c.cookies[COOKIE]
    assert len(token) >= 43                  # 32 random bytes, base64url
    rows = gw.store.query("SELECT token_hash FROM sessions")
    assert [r["token_hash"] for r in rows] == [hashlib.sha256(token.encode()).hexdigest()]
    assert token not in {r["token_hash"] for r in rows}
    page = c.get("/onsite")
    assert page.status_code == 200 and "王会计" in page.text


def test_root_redirects_to_onsite_after_login(gw):
    c = gw.logged_in()
    r = c.get("/")
    assert r.status_code == 302 and r.headers["Location"] == "/onsite"


def test_login_redirects_back_to_the_page_asked_for_but_never_off_site(gw):
    c = gw.client()
    r = c.get("/roster?q=%E5%BC%A0")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=/roster")
    r = c.post("/login", data={"username": "clerk", "password": PASSWORD, "next": "/roster?q=张"})
    assert r.headers["Location"] == "/roster?q=%E5%BC%A0"
    for evil in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        c2 = gw.client()
        r = c2.post("/login", data={"username": "clerk", "password": PASSWORD, "next": evil})
        assert r.headers["Location"] == "/onsite", evil


def test_wrong_password_and_unknown_user_get_the_same_answer(gw):
    c = gw.client()
    wrong = c.post("/login", data={"username": "clerk", "password": "wrong password!!"})
    unknown = c.post("/login", data={"username": "nobody", "password": "wrong password!!"})
    assert wrong.status_code == unknown.status_code == 401
    assert MSG_BAD in wrong.text and MSG_BAD in unknown.text
    assert COOKIE not in c.cookies
    assert gw.ctx.metrics.value("sitegate_rejected_input_total", {"source": "web", "reason": "login_failed"}) == 2


def test_disabled_account_cannot_log_in_and_loses_its_sessions(gw):
    c = gw.logged_in()
    Accounts(gw.store).set_disabled("clerk", True)
    assert c.get("/onsite").status_code == 302
    r = gw.client().post("/login", data={"username": "clerk", "password": PASSWORD})
    assert r.status_code == 401 and MSG_BAD in r.text


def test_lockout_after_five_failures_for_fifteen_minutes(gw):
    c = gw.client()
    for i in range(MAX_FAILURES - 1):
        assert c.post("/login", data={"username": "clerk", "password": f"wrong-{i}-xxxxxx"}).status_code == 401
    r = c.post("/login", data={"username": "clerk", "password": "wrong-last-xxxx"})
    assert r.status_code == 429 and MSG_LOCKED in r.text
    # the right password does not help while locked
    r = c.post("/login", data={"username": "clerk", "password": PASSWORD})
    assert r.status_code == 429 and MSG_LOCKED in r.text
    assert gw.store.query("SELECT locked_until FROM users WHERE username = 'clerk'")[0][0] > gw.clock.t
    # other accounts are not affected
    assert gw.client().login("boss").status_code == 303
    gw.clock.advance(LOCK_SECONDS - 5)
    assert c.post("/login", data={"username": "clerk", "password": PASSWORD}).status_code == 429
    gw.clock.advance(10)
    assert c.login().status_code == 303
    assert gw.store.query("SELECT failed_logins, locked_until FROM users WHERE username = 'clerk'")[0][:] == (0, 0)


def test_unknown_names_lock_the_same_way_so_the_lock_reveals_nothing(gw):
    c = gw.client()
    answers = [c.post("/login", data={"username": "ghost", "password": "wrong password!!"}) for _ in range(MAX_FAILURES)]
    assert [a.status_code for a in answers] == [401] * (MAX_FAILURES - 1) + [429]
    assert MSG_LOCKED in answers[-1].text


def test_one_address_guessing_many_names_is_throttled(gw):
    c = gw.client()
    for i in range(IP_MAX_FAILURES):
        r = c.post("/login", data={"username": f"guess{i}", "password": "wrong password!!"})
        assert r.status_code == 401
    r = c.post("/login", data={"username": "clerk", "password": PASSWORD})
    assert r.status_code == 429 and MSG_IP in r.text


def test_session_expires_after_idle_minutes_and_stays_alive_while_used(gw):
    idle = gw.ctx.cfg["http"]["session_minutes"] * 60
    c = gw.logged_in()
    gw.clock.advance(idle - 60)
    assert c.get("/onsite").status_code == 200          # used: the idle timer starts again
    gw.clock.advance(idle - 60)
    assert c.get("/onsite").status_code == 200
    gw.clock.advance(idle + 1)
    r = c.get("/onsite")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    assert c.get("/api/onsite").status_code == 401
    assert gw.store.query("SELECT count(*) FROM sessions")[0][0] == 0


def test_logout_ends_the_session_on_the_server(gw):
    c = gw.logged_in()
    token = c.cookies[COOKIE]
    r = c.form("/logout", {})
    assert r.status_code == 303 and r.headers["Location"] == "/login"
    assert "Max-Age=0" in r.headers["Set-Cookie"]
    # even a client that kept the old cookie is out
    stale = gw.client()
    stale.cookies.set(COOKIE, token)
    assert stale.get("/onsite").status_code == 302


def test_logout_without_csrf_is_refused(gw):
    c = gw.logged_in()
    assert c.post("/logout", data={}).status_code == 403
    assert c.get("/onsite").status_code == 200


@pytest.mark.parametrize("token", ["", "wrong-token"])
def test_page_post_without_the_right_csrf_token_is_refused(gw, token):
    c = gw.logged_in()
    before = gw.store.count_events()
    r = c.post("/manual", data={"csrf": token, "who": "1001", "direction": "in", "reason": "闸机故障"})
    assert r.status_code == 403
    assert gw.store.count_events() == before
    assert gw.ctx.metrics.value("sitegate_rejected_input_total", {"source": "web", "reason": "csrf"}) == 1


def test_api_post_needs_the_csrf_header(gw):
    c = gw.logged_in()
    body = {"worker": "1001", "direction": "in", "reason": "闸机故障"}
    assert c.post("/api/manual", json=body).status_code == 403
    assert c.post("/api/manual", json=body, headers={"X-CSRF-Token": "x" * 43}).status_code == 403
    assert c.api("/api/manual", body).status_code == 201


def test_a_csrf_token_of_another_session_does_not_work(gw):
    a, b = gw.logged_in(), gw.logged_in("boss")
    r = a.post("/api/manual", json={"worker": "1001", "direction": "in", "reason": "x"},
               headers={"X-CSRF-Token": b.csrf})
    assert r.status_code == 403


def test_cross_site_post_is_refused_even_with_a_token(gw):
    c = gw.logged_in()
    r = c.post("/manual", data={"csrf": c.csrf, "who": "1001", "direction": "in", "reason": "x"},
               headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    r = c.post("/login", data={"username": "clerk", "password": PASSWORD}, headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403


def test_json_login_for_scripts(gw):
    c = gw.client()
    r = c.post("/api/login", json={"username": "clerk", "password": PASSWORD})
    assert r.status_code == 200
    me = r.json()
    assert me["username"] == "clerk" and me["role"] == "clerk" and len(me["csrf"]) >= 43
    assert c.get("/api/me").json()["csrf"] == me["csrf"]
    bad = gw.client().post("/api/login", json={"username": "clerk", "password": "nope nope nope"})
    assert bad.status_code == 401 and bad.json() == {"error": MSG_BAD}
    c.csrf = me["csrf"]
    assert c.api("/api/logout").status_code == 200
    assert c.get("/api/me").status_code == 401


def test_session_cookie_is_secure_over_tls(tmp_path):
    """Served over TLS, the cookie carries Secure (a self-signed certificate made here)."""
    import datetime as dt
    import ssl

    import requests
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    from web_helpers import ManualClock, make_config

    from sitegate.buffer import Store
    from sitegate.metrics import Metrics
    from sitegate.roster_cache import RosterCache
    from sitegate.web import WebContext, WebServer

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    import ipaddress

    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    store = Store.open(tmp_path / "data", uplinks=[])
    Accounts(store).add("clerk", PASSWORD)
    ctx = WebContext(cfg=make_config(tmp_path / "data"), store=store, roster=RosterCache(store),
                     metrics=Metrics(store), clock=ManualClock())
    server = WebServer(ctx, "127.0.0.1:0", ssl_context=tls)
    port = server.start()
    try:
        r = requests.post(f"https://127.0.0.1:{port}/login", data={"username": "clerk", "password": PASSWORD},
                          verify=str(tmp_path / "cert.pem"), allow_redirects=False, timeout=20)
        assert r.status_code == 303
        assert "Secure" in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]
    finally:
        server.stop()
        store.close()
