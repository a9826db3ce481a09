"""Phone key material: 32 random bytes per phone, shown to people as base32 text.

Base32 (RFC 4648, upper case, no padding, 52 characters) because it survives being read aloud or
typed from a printout: no 0/O or 1/l/I confusion in its alphabet. Hex (64 characters) is accepted
too. Spaces and dashes are ignored when reading, so keys may be written in groups.
"""
from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
import stat
from pathlib import Path

from sitegate.errors import UsageError

KEY_BYTES = 32


class KeyFormatError(UsageError):
    """A phone key text or key file that is not a 32-byte key in base32 or hex."""


def new_phone_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def key_to_text(key: bytes) -> str:
    if len(key) != KEY_BYTES:
        raise KeyFormatError(f"a phone key is {KEY_BYTES} bytes, got {len(key)}")
    return base64.b32encode(key).decode("ascii").rstrip("=")


def key_from_text(text: str) -> bytes:
    """Read a key written as base32 (52 chars) or hex (64 chars); spaces and dashes ignored."""
    clean = re.sub(r"[\s-]+", "", text)
    if re.fullmatch(r"[0-9a-fA-F]{64}", clean):
        return bytes.fromhex(clean)
    if re.fullmatch(r"[A-Za-z2-7]{52}", clean):
        try:
            key = base64.b32decode(clean.upper() + "====")
        except binascii.Error as exc:  # pragma: no cover - the pattern above already excludes this
            raise KeyFormatError(f"not a base32 key: {exc}") from None
        if len(key) == KEY_BYTES:
            return key
    raise KeyFormatError(
        f"a phone key is {KEY_BYTES} bytes written as 52 base32 or 64 hex characters; "
        f"got {len(clean)} characters")


def read_key_file(path: str | os.PathLike[str]) -> tuple[bytes, bool]:
    """Read a key file. Returns ``(key, private)`` where ``private`` is False when group or
    others may read the file (secrets belong in 0600 files; the caller warns)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
        mode = p.stat().st_mode
    except OSError as exc:
        raise KeyFormatError(f"cannot read key file {p}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise KeyFormatError(f"key file {p} is not text (expected base32 or hex)") from None
    try:
        key = key_from_text(text)
    except KeyFormatError as exc:
        raise KeyFormatError(f"key file {p}: {exc}") from None
    return key, not (mode & (stat.S_IRWXG | stat.S_IRWXO))
