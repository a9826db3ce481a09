"""Clerk passwords: scrypt (RFC 7914) with its parameters kept in the stored string.

Stored form (the PHC string format, https://github.com/P-H-C/phc-string-format):

    $scrypt$ln=14,r=8,p=1$<salt, base64>$<hash, base64>

n = 2**14, r = 8, p = 1 are the parameters RFC 7914 section 2 and OWASP's Password Storage Cheat
Sheet give for interactive logins (about 16 MiB and tens of milliseconds per check). Because the
parameters travel with the hash, raising them later only affects new and changed passwords.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

from sitegate.errors import UsageError

MIN_LENGTH = 10
MAX_LENGTH = 1024          # scrypt hashes any length; a cap keeps a pasted file from being "a password"
LOG2_N, R, P = 14, 8, 1
SALT_BYTES = 16
HASH_BYTES = 32
_MAXMEM = 64 * 1024 * 1024  # OpenSSL refuses scrypt above maxmem; 128*r*n for our parameters is 16 MiB

_PHC = re.compile(r"^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$")


class PasswordError(UsageError):
    """A password that does not meet the rules (too short, too long, not text)."""


def check_rules(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordError(f"the password must have at least {MIN_LENGTH} characters (got {len(password)})")
    if len(password) > MAX_LENGTH:
        raise PasswordError(f"the password must have at most {MAX_LENGTH} characters")
    if password != password.strip():
        raise PasswordError("the password must not start or end with blanks")


def _scrypt(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=2 ** log2_n, r=r, p=p,
                          maxmem=_MAXMEM, dklen=HASH_BYTES)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """The stored form of a new password (rules checked first)."""
    check_rules(password)
    salt = os.urandom(SALT_BYTES)
    digest = _scrypt(password, salt, LOG2_N, R, P)
    return f"$scrypt$ln={LOG2_N},r={R},p={P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored``; compared in constant time. A stored string that is
    not ours (damaged row, other scheme) never matches."""
    m = _PHC.match(stored or "")
    if not m or len(password) > MAX_LENGTH:
        # still spend the time a real check takes: the answer must not tell which case this was
        _scrypt(password[:MAX_LENGTH], b"\0" * SALT_BYTES, LOG2_N, R, P)
        return False
    log2_n, r, p = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if not (10 <= log2_n <= 20 and 1 <= r <= 16 and 1 <= p <= 4) or 128 * r * 2 ** log2_n > _MAXMEM // 2:
        return False    # parameters we would never write: refuse rather than burn memory
    salt = base64.b64decode(m.group(4))
    expected = base64.b64decode(m.group(5))
    return hmac.compare_digest(_scrypt(password, salt, log2_n, r, p), expected)


# Checked against when the user name is unknown, so that answer takes as long as a wrong password.
DUMMY_HASH = f"$scrypt$ln={LOG2_N},r={R},p={P}${_b64(b'sitegate-dummy!!')}${_b64(bytes(HASH_BYTES))}"
