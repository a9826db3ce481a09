"""Personal data at rest: AES-256-GCM for ID numbers, names, photos and face encodings, and a keyed
blind index so a worker can be found by ID number without decrypting every row.

One 32-byte master key lives in ``<data_dir>/keys/master.key`` (created 0600 on first start).
Sub-keys for encryption and for the blind index are derived from it with HKDF, so the index
cannot be used to decrypt and rotating one purpose does not touch the other.
"""
from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sitegate.errors import StoreError
from sitegate.secrets import secret_file_problem, write_secret

_NONCE = 12
_VERSION = b"\x01"  # leading byte of every ciphertext, so the format can change later


class KeyFileError(StoreError):
    pass


def load_or_create_key(data_dir: str | os.PathLike) -> bytes:
    keydir = Path(data_dir) / "keys"
    keydir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = keydir / "master.key"
    if not path.exists():
        write_secret(path, os.urandom(32))
    problem = secret_file_problem(path)
    if problem:
        raise KeyFileError(problem)
    key = path.read_bytes()
    if len(key) != 32:
        raise KeyFileError(f"key file {path} must hold 32 bytes, has {len(key)}")
    return key


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"sitegate/" + purpose).derive(master)


class FieldCipher:
    """Encrypt/decrypt small fields; ``index`` gives the blind index of a lookup key."""

    def __init__(self, master_key: bytes):
        self._aead = AESGCM(_derive(master_key, b"aead"))
        self._index_key = _derive(master_key, b"blind-index")

    def encrypt(self, plain: bytes | str, context: bytes = b"") -> bytes:
        data = plain.encode("utf-8") if isinstance(plain, str) else plain
        nonce = os.urandom(_NONCE)
        return _VERSION + nonce + self._aead.encrypt(nonce, data, context)

    def decrypt(self, blob: bytes, context: bytes = b"") -> bytes:
        if not blob or blob[:1] != _VERSION:
            raise StoreError("encrypted field has an unknown format")
        try:
            return self._aead.decrypt(blob[1 : 1 + _NONCE], blob[1 + _NONCE :], context)
        except InvalidTag:
            raise StoreError("encrypted field failed authentication (wrong key or tampered)") from None

    def encrypt_text(self, text: str | None) -> bytes | None:
        return None if text is None else self.encrypt(text)

    def decrypt_text(self, blob: bytes | None) -> str:
        return "" if blob is None else self.decrypt(blob).decode("utf-8")

    def index(self, value: str) -> str:
        """Deterministic keyed hash (HMAC-SHA256, hex) for equality look-ups."""
        return hmac.new(self._index_key, value.encode("utf-8"), hashlib.sha256).hexdigest()
