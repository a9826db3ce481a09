"""Server-side digest authentication (RFC 7616, MD5, qop=auth) against ``requests``' client and
a hand-computed RFC 2617 example, over a real HTTP server on 127.0.0.1."""
from __future__ import annotations

import hashlib

import pytest
import requests
from requests.auth import HTTPDigestAuth

from sitegate.drivers.hik_isapi.digest import DigestAuthority
from sitegate.drivers.hik_isapi.server import HttpListener, Reply


class Echo:
    def __init__(self, authority: DigestAuthority):
        self.authority = authority
        self.reasons: list[str] = []

    def handle(self, method, target, headers, body, peer):
        verdict = self.authority.verify(method, target, headers.get("Authorization"))
        if not verdict.ok:
            self.reasons.append(verdict.reason)
            return Reply(401, b"", headers={"WWW-Authenticate": self.authority.challenge(verdict.stale)})
        return Reply(200, b'{"ok":true}')


@pytest.fixture
def server():
    app = Echo(DigestAuthority("admin", "s3cret", realm="DS-TEST"))
    listener = HttpListener("127.0.0.1", 0, app)
    host, port = listener.address
    yield app, f"http://{host}:{port}"
    listener.close()


def test_requests_digest_auth_passes_and_keeps_passing(server):
    app, url = server
    with requests.Session() as s:
        s.auth = HTTPDigestAuth("admin", "s3cret")
        for _ in range(3):
            assert s.post(f"{url}/ISAPI/AccessControl/AcsEvent?format=json", json={}, timeout=5).status_code == 200
    assert app.reasons == ["no digest credentials"]     # one challenge, then the nonce is reused with nc 2, 3


@pytest.mark.parametrize("user, password", [("admin", "wrong"), ("root", "s3cret")])
def test_wrong_credentials_are_refused(server, user, password):
    app, url = server
    resp = requests.get(f"{url}/ISAPI/System/deviceInfo", auth=HTTPDigestAuth(user, password), timeout=5)
    assert resp.status_code == 401 and app.reasons[-1] == "wrong username or password"


def _md5(s: str) -> str:
    return hashlib.md5(s.encode()).hexdigest()


def test_hand_computed_response_replay_and_wrong_uri():
    authority = DigestAuthority("admin", "s3cret", realm="DS-TEST")
    challenge = authority.challenge()
    nonce = challenge.split('nonce="')[1].split('"')[0]
    ha1, ha2 = _md5("admin:DS-TEST:s3cret"), _md5("GET:/ISAPI/x?format=json")
    response = _md5(f"{ha1}:{nonce}:00000001:abcdef:auth:{ha2}")
    header = (f'Digest username="admin", realm="DS-TEST", nonce="{nonce}", uri="/ISAPI/x?format=json", '
              f'response="{response}", qop=auth, nc=00000001, cnonce="abcdef", algorithm=MD5')
    assert authority.verify("GET", "/ISAPI/x?format=json", header).ok
    assert authority.verify("GET", "/ISAPI/x?format=json", header).reason == "nonce count replayed"
    assert authority.verify("GET", "/ISAPI/y", header).reason == "digest uri does not match the request"
    assert not authority.verify("POST", "/ISAPI/x?format=json", header.replace("00000001", "00000002")).ok
    assert authority.verify("GET", "/ISAPI/x?format=json", header.replace(nonce, "0" * 32)).reason == "unknown nonce"
    assert authority.verify("GET", "/", "Basic YWRtaW46czNjcmV0").reason == "no digest credentials"
    assert "lacks" in authority.verify("GET", "/", 'Digest username="admin"').reason


def test_expired_nonce_is_stale_so_clients_retry_quietly():
    authority = DigestAuthority("admin", "s3cret", nonce_ttl_s=-1)
    nonce = authority.challenge().split('nonce="')[1].split('"')[0]
    ha1, ha2 = _md5(f"admin:{authority.realm}:s3cret"), _md5("GET:/")
    response = _md5(f"{ha1}:{nonce}:00000001:c:auth:{ha2}")
    verdict = authority.verify("GET", "/", f'Digest username="admin", realm="{authority.realm}", nonce="{nonce}", '
                                          f'uri="/", response="{response}", qop=auth, nc=00000001, cnonce="c"')
    assert not verdict.ok and verdict.stale and verdict.reason == "nonce expired"
