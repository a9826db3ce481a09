"""The pieces without sockets: escaping, passwords, routing, parsing outside input (property tests)."""
from __future__ import annotations

import base64
import html
import json
from email.message import Message

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitegate.errors import UsageError
from sitegate.web.http import HttpError, Request, parse_pairs, safe_next
from sitegate.web.layout import Frame, page, table
from sitegate.web.logins import IP_MAX_FAILURES, LoginGuard
from sitegate.web.markup import Markup, attrs, escape
from sitegate.web.passwords import DUMMY_HASH, MIN_LENGTH, PasswordError, hash_password, verify_password
from sitegate.web.router import API, PAGE, Router

FAST = settings(max_examples=200, deadline=None)


# -- escaping --------------------------------------------------------------------------------
def test_markup_format_escapes_arguments_but_keeps_markup():
    out = Markup("<td>{}</td><td>{name}</td>").format("<b>&\"'", name=Markup("<i>ok</i>"))
    assert out == "<td>&lt;b&gt;&amp;&quot;&#x27;</td><td><i>ok</i></td>"
    assert isinstance(out, Markup)


def test_markup_concatenation_and_join_escape_plain_strings():
    assert Markup("<p>") + "<x>" == "<p>&lt;x&gt;"
    assert "<x>" + Markup("<p>") == "&lt;x&gt;<p>"
    assert Markup("<br>").join(["<a>", Markup("<b>")]) == "&lt;a&gt;<br><b>"
    assert escape(None) == "" and escape(3) == "3"


def test_markup_conversions_and_format_specs_are_escaped_too():
    assert Markup("{!r}").format("<x>") == "&#x27;&lt;x&gt;&#x27;"
    assert Markup("{:>5}").format("<") == "    &lt;"
    with pytest.raises(TypeError):
        Markup("%s") % "<x>"


def test_attrs_escape_values_and_drop_false():
    assert attrs(value='"><script>', checked=True, selected=False, class_="a", aria_current=None) == \
        ' value="&quot;&gt;&lt;script&gt;" checked class="a"'


def test_pages_refuse_a_plain_string_body():
    with pytest.raises(TypeError):
        page(Frame("site"), "t", "<p>unescaped</p>")  # type: ignore[arg-type]


@given(st.text())
@FAST
def test_escape_round_trips_and_leaves_no_markup(text):
    out = escape(text)
    assert not any(ch in out for ch in "<>\"'")
    assert html.unescape(out) == text


@given(st.lists(st.text(max_size=30), max_size=5))
@FAST
def test_table_cells_never_carry_raw_markup(cells):
    t = table([("c", lambda r: r)], cells)
    body = t.split("<tbody>")[1] if cells else t
    for cell in cells:
        assert html.escape(cell, quote=True) in body
    assert "<script" not in body.replace("&lt;script", "")


# -- passwords -------------------------------------------------------------------------------
def test_hash_carries_its_parameters_and_verifies():
    h = hash_password("correct horse battery")
    _, scheme, params, salt, digest = h.split("$")
    assert (scheme, params) == ("scrypt", "ln=14,r=8,p=1")
    assert len(base64.b64decode(salt)) == 16 and len(base64.b64decode(digest)) == 32
    assert verify_password("correct horse battery", h)
    assert not verify_password("correct horse batterY", h)
    assert hash_password("correct horse battery") != h        # a fresh salt each time


def test_password_rules():
    with pytest.raises(PasswordError, match=str(MIN_LENGTH)):
        hash_password("short")
    with pytest.raises(PasswordError):
        hash_password(" padded password ")
    assert issubclass(PasswordError, UsageError)


@pytest.mark.parametrize("stored", ["", "plain", "$scrypt$ln=30,r=8,p=1$AAAA$AAAA", "$scrypt$ln=14,r=99,p=1$AAAA$AAAA",
                                    "$bcrypt$whatever", DUMMY_HASH])
def test_damaged_or_foreign_hashes_never_match(stored):
    assert verify_password("correct horse battery", stored) is False


# -- routing and parsing -------------------------------------------------------------------------
def test_router_matches_patterns_and_reports_allowed_methods():
    r = Router()
    r.add("GET", "/workers/<int:pin>", "w", PAGE)
    r.add("POST", "/api/reviews/<int:id>/<decision>", "d", API)
    route, params, _ = r.match("GET", "/workers/1001")
    assert route.handler == "w" and params == {"pin": 1001}
    route, params, _ = r.match("HEAD", "/workers/1001")
    assert route.handler == "w"
    assert r.match("GET", "/workers/abc")[0] is None
    assert r.match("GET", "/workers/1001/x")[0] is None
    route, params, allowed = r.match("GET", "/api/reviews/3/accept")
    assert route is None and allowed == ["POST"]
    assert r.match("POST", "/api/reviews/3/accept")[1] == {"id": 3, "decision": "accept"}
    assert r.match("POST", "/api/reviews/3/a%2Fb")[0] is None


def test_parse_pairs():
    assert parse_pairs("a=1&b=%E5%BC%A0&a=2&c=") == {"a": "1", "b": "张", "c": ""}
    with pytest.raises(HttpError):
        parse_pairs("a=%ff")
    with pytest.raises(HttpError):
        parse_pairs("&".join(f"k{i}=1" for i in range(200)))
    with pytest.raises(HttpError):
        parse_pairs("a=%00")


@given(st.binary(max_size=300))
@FAST
def test_query_and_form_parsing_never_raise_anything_but_http_error(raw):
    try:
        out = parse_pairs(raw.decode("latin-1"))
    except HttpError as exc:
        assert exc.status == 400
    else:
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in out.items())


def _req(body: bytes, ctype: str = "application/json", cookie: str = "") -> Request:
    h = Message()
    h["Content-Type"] = ctype
    if cookie:
        h["Cookie"] = cookie
    return Request("POST", "/api/x", {}, h, body)


@given(st.one_of(st.binary(max_size=200), st.builds(lambda v: json.dumps(v).encode(), st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids, max_size=3), max_leaves=10))))
@FAST
def test_json_bodies_give_a_dict_or_a_400(raw):
    try:
        value = _req(raw).json()
    except HttpError as exc:
        assert exc.status == 400 and exc.message
    else:
        assert isinstance(value, dict)


@given(st.binary(max_size=200))
@FAST
def test_form_bodies_give_a_dict_or_a_4xx(raw):
    try:
        value = _req(raw, "application/x-www-form-urlencoded").form()
    except HttpError as exc:
        assert exc.status == 400
    else:
        assert isinstance(value, dict)


@given(st.text(max_size=200))
@FAST
def test_cookie_headers_never_break_the_request(header):
    header = header.encode("latin-1", "replace").decode("latin-1").replace("\n", "").replace("\r", "")
    value = _req(b"", cookie=header).cookie("sitegate_session")
    assert value is None or isinstance(value, str)


@given(st.text(max_size=100))
@FAST
def test_safe_next_only_ever_gives_a_local_path(target):
    out = safe_next(target)
    assert out.startswith("/") and not out.startswith("//") and "\\" not in out
    assert out == target or out == "/onsite"


# -- the in-memory limiter ---------------------------------------------------------------------
def test_ip_limiter_window_slides():
    g = LoginGuard()
    for i in range(IP_MAX_FAILURES):
        assert not g.ip_blocked("10.0.0.1", 1000.0 + i)
        g.ip_failed("10.0.0.1", 1000.0 + i)
    assert g.ip_blocked("10.0.0.1", 1100.0)
    assert not g.ip_blocked("10.0.0.2", 1100.0)
    assert not g.ip_blocked("10.0.0.1", 1000.0 + 15 * 60 + IP_MAX_FAILURES)
