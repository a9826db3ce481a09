"""The JSON attendance record the ``mqtt`` and ``webhook`` profiles send (docs/platform.md).

One record per event, keyed by ``event_id`` (the UUIDv7 made at the edge): receivers de-duplicate
on it. Personal data never travels in clear: the ID number and the name are AES-256-GCM encrypted
for the receiver with a key both sides hold (``[uplink] payload_key_file``, 64 hex characters),
and the masked ID number (``370102********1234``) is sent beside it for display.

The record is a pure function of the stored event and the key: the GCM nonce is derived from the
message (HMAC of the associated data and the plaintext under a key derived from the shared key —
the synthetic-IV idea of RFC 5297 §1 / RFC 8452 §1), so a record sent again after a lost
acknowledgement is byte-identical, and a nonce can only repeat for an identical message, which
reveals nothing but that equality. Receivers need nothing special: the nonce travels in the token.

Sources: NIST SP 800-38D (GCM, 96-bit nonce, 128-bit tag); RFC 5869 (HKDF); RFC 8259 (JSON).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sqlite3
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sitegate.clock import beijing
from sitegate.errors import ProtocolError, SitegateError, UsageError
from sitegate.idcard import mask, mask_text
from sitegate.model import AttendanceEvent

SCHEMA = "sitegate.attendance/1"
NONCE_BYTES = 12
TAG_BYTES = 16
_NONCE_INFO = b"sitegate/payload-nonce/v1"


class PayloadKeyError(UsageError):
    """The payload key file is missing, unreadable, too open or not 64 hex characters."""


class PayloadDecryptError(ProtocolError):
    """A token that does not decrypt under this key (wrong key, wrong record, or tampered)."""


class UnreadableEvent(SitegateError):
    """A stored event that cannot be turned into a record (decryption failed, bad column)."""


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: the same object always gives the same bytes."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("utf-8")


@dataclass(frozen=True)
class PayloadKey:
    """The shared AES-256 key and the two things derived from it."""

    key: bytes

    def __post_init__(self) -> None:
        if len(self.key) != 32:
            raise PayloadKeyError(f"payload key must be 32 bytes (64 hex characters), got {len(self.key)} bytes")

    def __repr__(self) -> str:  # never the key
        return f"PayloadKey(key_id={self.key_id!r})"

    @classmethod
    def from_hex(cls, text: str, where: str = "payload key") -> "PayloadKey":
        text = text.strip()
        if len(text) != 64:
            raise PayloadKeyError(f"{where} must hold 64 hex characters (openssl rand -hex 32), has {len(text)}")
        try:
            return cls(bytes.fromhex(text))
        except ValueError:
            raise PayloadKeyError(f"{where} must hold 64 hex characters (0-9, a-f) only") from None

    @classmethod
    def from_file(cls, path: str) -> "PayloadKey":
        from sitegate.secrets import SecretFileError, read_secret

        if not path:
            raise PayloadKeyError("[uplink] payload_key_file is not set: mqtt and webhook records carry ID numbers "
                                  "encrypted for the receiver and need the shared key (openssl rand -hex 32)")
        try:
            return cls.from_hex(read_secret(path), f"payload key file {path}")
        except SecretFileError as exc:
            raise PayloadKeyError(str(exc)) from None

    @cached_property
    def key_id(self) -> str:
        """First 16 hex characters of SHA-256(key): tells receivers which key to use after a rotation."""
        return hashlib.sha256(self.key).hexdigest()[:16]

    @cached_property
    def nonce_key(self) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_NONCE_INFO).derive(self.key)


def field_aad(event_id: str, field: str) -> bytes:
    """What a token is bound to: the record and the field, so it cannot be moved to another."""
    return f"{event_id}|{field}".encode("utf-8")


def encrypt_field(key: PayloadKey, plain: str, aad: bytes) -> str:
    """base64(nonce(12) || ciphertext || tag(16)); deterministic for the same (key, aad, plain)."""
    data = plain.encode("utf-8")
    nonce = hmac.new(key.nonce_key, aad + b"\x00" + data, hashlib.sha256).digest()[:NONCE_BYTES]
    return base64.b64encode(nonce + AESGCM(key.key).encrypt(nonce, data, aad)).decode("ascii")


def decrypt_field(key: PayloadKey, token: str, aad: bytes) -> str:
    """The receiver's side of ``encrypt_field`` (also what docs/platform.md describes)."""
    try:
        raw = base64.b64decode(token, validate=True)
    except (ValueError, TypeError):
        raise PayloadDecryptError("token is not base64") from None
    if len(raw) < NONCE_BYTES + TAG_BYTES:
        raise PayloadDecryptError(f"token of {len(raw)} bytes is shorter than nonce and tag ({NONCE_BYTES + TAG_BYTES})")
    try:
        plain = AESGCM(key.key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
    except InvalidTag:
        raise PayloadDecryptError("token failed authentication (wrong key, wrong record or tampered)") from None
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadDecryptError("decrypted field is not UTF-8") from None


def _time(dt) -> str | None:
    return beijing(dt).isoformat(timespec="milliseconds") if dt is not None else None


def attendance_record(ev: AttendanceEvent, *, project_code: str, gateway_id: str, key: PayloadKey) -> dict[str, Any]:
    """The record for one event (docs/platform.md, "## mqtt profile" lists every field)."""
    w = ev.worker
    idn = w.id_card_number
    loc = ev.location
    return {
        "schema": SCHEMA,
        "event_id": ev.event_id,
        "project_code": project_code,
        "gateway_id": gateway_id,
        "key_id": key.key_id,
        "id_card_type": w.id_card_type,
        "id_card_number_masked": mask(idn),
        "id_card_number_enc": encrypt_field(key, idn, field_aad(ev.event_id, "id_card_number")) if idn else None,
        "name_enc": encrypt_field(key, w.name, field_aad(ev.event_id, "name")) if w.name else None,
        "team_sys_no": w.team_sys_no,
        "team_name": w.team_name,
        "direction": ev.direction.value,
        "method": ev.method.value,
        "time": _time(ev.time.wall),
        "clock_synced": ev.time.synced,
        "time_corrected": bool(ev.extra.get("wall_time_corrected")),
        "device_time": _time(ev.time.device_time),
        "device_id": ev.source.device_id,
        "lane": ev.source.lane,
        "driver": ev.source.driver,
        "location": ({"lng": loc.lng, "lat": loc.lat, "accuracy_m": loc.accuracy_m, "crs": "WGS-84"}
                     if loc is not None else None),
        "has_photo": ev.photo_id is not None,
        "note": mask_text(ev.note),
    }


class RecordBuilder:
    """Rows from ``DeliveryQueue.due`` -> records; what cannot be read is reported, not raised."""

    def __init__(self, *, cipher, project_code: str, gateway_id: str, key: PayloadKey):
        self.cipher = cipher
        self.project_code = project_code
        self.gateway_id = gateway_id
        self.key = key

    def record(self, row: sqlite3.Row) -> dict[str, Any]:
        from sitegate.buffer.rows import row_to_event

        try:
            ev = row_to_event(row, self.cipher)
            return attendance_record(ev, project_code=self.project_code, gateway_id=self.gateway_id, key=self.key)
        except (SitegateError, ValueError, KeyError, TypeError) as exc:
            raise UnreadableEvent(f"event {row['event_id']} cannot be read from the store: {mask_text(str(exc))}") from exc

    def records(self, rows: list[sqlite3.Row]) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
        """(records, [(event_id, why)] for rows that cannot be read)."""
        good, bad = [], []
        for row in rows:
            try:
                good.append(self.record(row))
            except UnreadableEvent as exc:
                bad.append((row["event_id"], str(exc)))
        return good, bad
