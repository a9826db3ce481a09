"""Server-side HTTP Digest authentication as Hikvision terminals do it: RFC 7616 with MD5 and
qop=auth (RFC 2617-compatible), which ``requests.auth.HTTPDigestAuth`` speaks.

    response = MD5(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2)
    HA1 = MD5(username ":" realm ":" password),  HA2 = MD5(method ":" digest-uri)

Nonces are random, issued by this object and expire after ``nonce_ttl_s``; a nonce-count must
grow for each nonce (a replayed request is refused). The header is parsed with the stdlib's
``urllib.request.parse_http_list`` / ``parse_keqv_list``.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.request import parse_http_list, parse_keqv_list

MAX_NONCES = 1024


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""
    stale: bool = False          # the nonce expired: the client may retry with the new one silently


class DigestAuthority:
    def __init__(self, username: str, password: str, realm: str = "DS-K1T671", nonce_ttl_s: float = 300.0):
        self.username = username
        self.password = password
        self.realm = realm
        self.nonce_ttl_s = nonce_ttl_s
        self.opaque = secrets.token_hex(16)
        self._nonces: dict[str, tuple[float, int]] = {}    # nonce -> (issued, last nc)
        self._lock = threading.Lock()

    def challenge(self, stale: bool = False) -> str:
        """The WWW-Authenticate value for a 401."""
        nonce = secrets.token_hex(16)
        with self._lock:
            if len(self._nonces) >= MAX_NONCES:
                for old in sorted(self._nonces, key=lambda n: self._nonces[n][0])[: MAX_NONCES // 4]:
                    del self._nonces[old]
            self._nonces[nonce] = (time.monotonic(), 0)
        return (f'Digest realm="{self.realm}", qop="auth", nonce="{nonce}", opaque="{self.opaque}", '
                f'algorithm=MD5, stale={"TRUE" if stale else "FALSE"}')

    def verify(self, method: str, uri: str, header: str | None) -> Verdict:
        """Check an Authorization header for a request of ``method`` on ``uri`` (path?query)."""
        if not header or not header[:7].lower() == "digest ":
            return Verdict(False, "no digest credentials")
        try:
            fields = parse_keqv_list(parse_http_list(header[7:]))
        except (ValueError, IndexError):    # IndexError: an empty value (``nc=``) in parse_keqv_list
            return Verdict(False, "unreadable Authorization header")
        need = ("username", "realm", "nonce", "uri", "response", "qop", "nc", "cnonce")
        missing = [k for k in need if not fields.get(k)]
        if missing:
            return Verdict(False, "Authorization lacks " + ", ".join(missing))
        if fields.get("algorithm", "MD5").upper() != "MD5" or fields["qop"] != "auth":
            return Verdict(False, "only MD5 with qop=auth is supported")
        if fields["realm"] != self.realm:
            return Verdict(False, "wrong realm")
        if fields["uri"] != uri:
            return Verdict(False, "digest uri does not match the request")
        try:
            nc = int(fields["nc"], 16)
        except ValueError:
            return Verdict(False, "nc is not hexadecimal")
        ha1 = _md5(f"{self.username}:{self.realm}:{self.password}")
        ha2 = _md5(f"{method}:{fields['uri']}")
        expected = _md5(f"{ha1}:{fields['nonce']}:{fields['nc']}:{fields['cnonce']}:auth:{ha2}")
        good = hmac.compare_digest(fields["username"].encode(), self.username.encode()) and \
            hmac.compare_digest(fields["response"].encode(), expected.encode())
        with self._lock:
            issued = self._nonces.get(fields["nonce"])
            if issued is None:
                return Verdict(False, "unknown nonce", stale=good)
            if time.monotonic() - issued[0] > self.nonce_ttl_s:
                del self._nonces[fields["nonce"]]
                return Verdict(False, "nonce expired", stale=good)
            if not good:
                return Verdict(False, "wrong username or password")
            if nc <= issued[1]:
                return Verdict(False, "nonce count replayed")
            self._nonces[fields["nonce"]] = (issued[0], nc)
        return Verdict(True)
