"""The Digest check of the Hikvision terminal simulator (drivers/hik_isapi/digest.py): whatever
Authorization header arrives, the answer is a Verdict, never an exception; a forged or replayed
request is refused. RFC 7616 §3.4 (response), §3.3 (nonce count must grow)."""
from __future__ import annotations

import hashlib

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sitegate.drivers.hik_isapi.digest import DigestAuthority
from urllib.request import parse_http_list, parse_keqv_list

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
AUTH = DigestAuthority("admin", "pw-123")


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _answer(authority: DigestAuthority, method: str, uri: str, nc: str, password: str = "pw-123") -> str:
    """An Authorization header computed here from RFC 7616, not by the code under test."""
    fields = parse_keqv_list(parse_http_list(authority.challenge()[len("Digest "):]))
    ha1 = _md5(f"admin:{fields['realm']}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    response = _md5(f"{ha1}:{fields['nonce']}:{nc}:c0ffee:auth:{ha2}")
    return (f'Digest username="admin", realm="{fields["realm"]}", nonce="{fields["nonce"]}", uri="{uri}", '
            f'response="{response}", qop=auth, nc={nc}, cnonce="c0ffee", algorithm=MD5')


header_pieces = st.lists(st.one_of(
    st.sampled_from(['username="admin"', 'realm="DS-K1T671"', 'qop=auth', 'nc=00000001', 'cnonce="x"',
                     'uri="/ISAPI"', 'response="00"', 'nonce="ab"', 'algorithm=MD5', 'algorithm=SHA-256',
                     'nc=zz', '=', '"', ',', 'a=', '=b', 'qop="auth-int"']),
    st.text(max_size=30)), max_size=12)


@SETTINGS
@given(st.one_of(st.none(), st.text(max_size=400), header_pieces.map(lambda p: "Digest " + ", ".join(p))))
@example("Digest a")                    # a list element without '=': parse_keqv_list raises ValueError
@example('Digest username="admin", nc=, qop=auth')   # crashed: IndexError in parse_keqv_list (fixed)
def test_any_authorization_header_gives_a_verdict(header):
    verdict = AUTH.verify("GET", "/ISAPI", header)
    assert verdict.ok is False and verdict.reason


@SETTINGS
@given(st.sampled_from(["GET", "POST", "PUT"]), st.text(alphabet="/?=&abcISAP", min_size=1, max_size=30),
       st.text(min_size=1, max_size=20))
def test_a_wrong_password_is_refused_and_the_right_one_passes_once(method, uri, wrong):
    authority = DigestAuthority("admin", "pw-123")
    if wrong != "pw-123":
        assert not authority.verify(method, uri, _answer(authority, method, uri, "00000001", wrong)).ok
    good = _answer(authority, method, uri, "00000001")
    assert authority.verify(method, uri, good).ok
    replay = authority.verify(method, uri, good)
    assert not replay.ok and replay.reason == "nonce count replayed"


@SETTINGS
@given(st.data())
def test_a_corrupted_good_header_never_raises(data):
    authority = DigestAuthority("admin", "pw-123")
    good = _answer(authority, "GET", "/ISAPI/AccessControl/UserInfo/Record", "00000001")
    i = data.draw(st.integers(0, len(good) - 1))
    bad = good[:i] + data.draw(st.text(min_size=0, max_size=3)) + good[i + 1:]
    verdict = authority.verify("GET", "/ISAPI/AccessControl/UserInfo/Record", bad)
    if verdict.ok:      # only a change that leaves every signed field as it was may pass
        fields = parse_keqv_list(parse_http_list(bad[len("Digest "):]))
        wanted = parse_keqv_list(parse_http_list(good[len("Digest "):]))
        assert all(fields[k] == wanted[k] for k in ("username", "nonce", "uri", "response", "nc", "cnonce"))
    else:
        assert verdict.reason
