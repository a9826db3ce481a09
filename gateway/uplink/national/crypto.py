"""Signing and ID-number encryption of the national OpenAPI (reference/protocols.md §5).

Sources: ibisTime/xn-gchf ``GovUtil``/``AesUtils`` and the Fujian and Hangzhou clients, checked
against the worked example in shared/data/vectors/vectors.json (key ``national``).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from sitegate.uplink.national.errors import BadSecret, DecryptError

# The fields the signature covers, in the order the reference sorts them (plain key order).
SIGNED_FIELDS = ("appid", "data", "format", "method", "nonce", "timestamp", "version")


def signing_string(form: Mapping[str, str], appsecret: str) -> str:
    """``appid=…&data=…&…&version=…&appsecret=…``, lower-cased, raw (not URL-encoded) values."""
    missing = [k for k in SIGNED_FIELDS if k not in form]
    if missing:
        raise ValueError(f"form lacks the signed field(s) {', '.join(missing)}")
    joined = "&".join(f"{k}={form[k]}" for k in sorted(SIGNED_FIELDS))
    # The platform lower-cases the WHOLE string, values and secret included.
    return f"{joined}&appsecret={appsecret}".lower()


def sign(form: Mapping[str, str], appsecret: str) -> str:
    """Lower-case hex SHA-256 of the signing string; ``sign`` itself in ``form`` is ignored."""
    return hashlib.sha256(signing_string(form, appsecret).encode("utf-8")).hexdigest()


def sign_matches(form: Mapping[str, str], appsecret: str) -> bool:
    """Constant-time check of ``form["sign"]`` (case-insensitive hex)."""
    given = str(form.get("sign", "")).lower()
    return hmac.compare_digest(given.encode("ascii", "replace"), sign(form, appsecret).encode("ascii"))


def _key(appsecret: str) -> bytes:
    key = appsecret.encode("utf-8") if isinstance(appsecret, str) else b""
    if len(key) != 32:
        # Never echo the secret; its length is enough to see what is wrong.
        raise BadSecret(f"appsecret must be 32 bytes (AES-256 key), got {len(key)}")
    return key


def check_secret(appsecret: str) -> None:
    """Raise BadSecret unless ``appsecret`` can serve as the AES-256 key."""
    _key(appsecret)


def encrypt_id(plain: str, appsecret: str) -> str:
    """AES-256-CBC, key = the secret's UTF-8 bytes, IV = its first 16 bytes, PKCS7, Base64.

    The IV is fixed, so equal plain texts give equal cipher texts: that is what makes a resent
    record byte-for-byte identical (and what the platform expects).
    """
    key = _key(appsecret)
    padder = padding.PKCS7(algorithms.AES.block_size).padder()
    data = padder.update(plain.encode("utf-8")) + padder.finalize()
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(data) + enc.finalize()).decode("ascii")


def decrypt_id(cipher_b64: str, appsecret: str) -> str:
    """The inverse of ``encrypt_id``; DecryptError names what is wrong with the cipher text."""
    key = _key(appsecret)
    if not isinstance(cipher_b64, str):
        raise DecryptError(f"cipher text must be a string, got {type(cipher_b64).__name__}")
    try:
        raw = base64.b64decode(cipher_b64.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise DecryptError("cipher text is not valid Base64") from None
    if not raw or len(raw) % 16:
        raise DecryptError(f"cipher text is {len(raw)} bytes, not a positive multiple of 16")
    dec = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    padded = dec.update(raw) + dec.finalize()
    unpadder = padding.PKCS7(algorithms.AES.block_size).unpadder()
    try:
        data = unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise DecryptError("cipher text has bad PKCS7 padding (wrong appsecret?)") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise DecryptError("decrypted text is not UTF-8 (wrong appsecret?)") from None
