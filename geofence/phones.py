"""Workers' phones and their clock-in keys, in the store's ``phones`` table.

A key is issued once (``sitegate phones add``), shown once, and kept only encrypted: AES-GCM with
the store's key, the phone id bound in as associated data so a key cannot be moved to another
row. Revoking sets ``revoked_ts``; the row stays for the audit trail. Every change bumps a version
number in the ``kv`` table in the same transaction, so the daemon's key cache notices a new or
revoked phone on its next request with one primary-key read (the CLI runs in another process).
"""
from __future__ import annotations

import logging
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass

from sitegate.buffer.roster import Roster, Worker
from sitegate.errors import UsageError
from sitegate.geofence.phonekeys import KEY_BYTES, new_phone_key
from sitegate.idcard import mask, normalise

log = logging.getLogger(__name__)

VERSION_KEY = "geofence.phones.version"
PHONE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")     # the clock-in request's phone_id format


@dataclass(frozen=True)
class PhoneRecord:
    """One row of ``phones``, without its key (for lists)."""

    phone_id: str
    id_hash: str
    id_masked: str
    created_ts: float
    revoked_ts: float | None

    @property
    def active(self) -> bool:
        return self.revoked_ts is None

    def public_dict(self) -> dict:
        return {"phone_id": self.phone_id, "id_card_number": self.id_masked, "created_ts": self.created_ts,
                "revoked_ts": self.revoked_ts, "status": "active" if self.active else "revoked"}


@dataclass(frozen=True)
class ActivePhone:
    """What the intake needs of a registered phone: its key and its worker."""

    phone_id: str
    key: bytes
    id_hash: str                 # blind index of the worker's ID number (never the number itself)
    id_number: str               # decrypted from the roster, for the Observation's credential


def _key_context(phone_id: str) -> bytes:
    return b"phone-key:" + phone_id.encode("utf-8")


def _bump_version(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT INTO kv(key, value, updated_ts) VALUES (?, '1', ?) ON CONFLICT(key) DO UPDATE SET "
                 "value = CAST(CAST(kv.value AS INTEGER) + 1 AS TEXT), updated_ts = excluded.updated_ts",
                 (VERSION_KEY, time.time()))


class PhoneRegistry:
    """Issue, revoke and list phones (the CLI's and the clerk pages' side)."""

    def __init__(self, store):
        self.store = store
        self.cipher = store.cipher

    def issue(self, id_card_number: str, *, phone_id: str | None = None, actor: str = "cli") -> tuple[PhoneRecord, bytes]:
        """A new key for a phone of an active worker on the roster. Returns the record and the key
        (to be shown once, never logged). A revoked phone id may be issued again; an active one not."""
        idn = normalise(id_card_number)
        worker = Roster(self.store).get(idn)
        _check_worker(worker, idn)
        if phone_id is None:
            phone_id = f"P-{secrets.token_hex(4)}"
        elif not PHONE_ID.fullmatch(phone_id):
            raise UsageError(f"phone id {phone_id!r} must be 1-64 of A-Z a-z 0-9 . _ : -")
        key = new_phone_key()
        id_hash = self.cipher.index(idn)
        key_enc = self.cipher.encrypt(key, _key_context(phone_id))
        now = time.time()

        def job(conn: sqlite3.Connection) -> None:
            old = conn.execute("SELECT revoked_ts FROM phones WHERE phone_id = ?", (phone_id,)).fetchone()
            if old is not None and old["revoked_ts"] is None:
                raise UsageError(f"phone {phone_id} is already registered: revoke it first "
                                 f"(sitegate phones revoke --phone-id {phone_id})")
            conn.execute("INSERT INTO phones(phone_id, id_hash, id_masked, key_enc, created_ts, revoked_ts) "
                         "VALUES (?, ?, ?, ?, ?, NULL) ON CONFLICT(phone_id) DO UPDATE SET id_hash = excluded.id_hash, "
                         "id_masked = excluded.id_masked, key_enc = excluded.key_enc, "
                         "created_ts = excluded.created_ts, revoked_ts = NULL",
                         (phone_id, id_hash, mask(idn), key_enc, now))
            conn.execute("INSERT INTO audit(ts, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
                         (now, actor, "phones.add", phone_id, f"key issued for {mask(idn)}"))
            _bump_version(conn)

        self.store.write(job)
        log.info("phone %s registered for %s", phone_id, mask(idn))
        return PhoneRecord(phone_id, id_hash, mask(idn), now, None), key

    def revoke(self, *, phone_id: str | None = None, id_card_number: str | None = None,
               actor: str = "cli") -> list[str]:
        """Revoke one phone, or every active phone of a worker. Returns the phone ids revoked."""
        if (phone_id is None) == (id_card_number is None):
            raise UsageError("name either a phone id or a worker's ID number")
        if phone_id is not None:
            where, arg = "phone_id = ?", phone_id
            nothing = f"phone {phone_id} is not registered or already revoked"
        else:
            idn = normalise(id_card_number or "")
            where, arg = "id_hash = ?", self.cipher.index(idn)
            nothing = f"worker {mask(idn)} has no active phone"

        def job(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(f"SELECT phone_id FROM phones WHERE {where} AND revoked_ts IS NULL", (arg,)).fetchall()
            now = time.time()
            ids = [r["phone_id"] for r in rows]
            for pid in ids:
                conn.execute("UPDATE phones SET revoked_ts = ? WHERE phone_id = ?", (now, pid))
                conn.execute("INSERT INTO audit(ts, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
                             (now, actor, "phones.revoke", pid, ""))
            if ids:
                _bump_version(conn)
            return ids

        ids = self.store.write(job)
        if not ids:
            raise UsageError(nothing)
        log.info("phone(s) %s revoked", ", ".join(ids))
        return ids

    def list(self, *, include_revoked: bool = True) -> list[PhoneRecord]:
        sql = "SELECT phone_id, id_hash, id_masked, created_ts, revoked_ts FROM phones"
        if not include_revoked:
            sql += " WHERE revoked_ts IS NULL"
        rows = self.store.query(sql + " ORDER BY created_ts, phone_id")
        return [PhoneRecord(r["phone_id"], r["id_hash"], r["id_masked"], r["created_ts"], r["revoked_ts"])
                for r in rows]

    def active(self) -> dict[str, ActivePhone]:
        """Every active phone whose worker is on the roster, with its key (decrypted)."""
        rows = self.store.query(
            "SELECT p.phone_id, p.id_hash, p.key_enc, w.id_enc FROM phones p "
            "LEFT JOIN workers w ON w.id_hash = p.id_hash WHERE p.revoked_ts IS NULL")
        out: dict[str, ActivePhone] = {}
        for r in rows:
            if r["id_enc"] is None:     # the worker's roster row is gone: nobody to clock in
                log.warning("phone %s: its worker is no longer on the roster; clock-ins are refused", r["phone_id"])
                continue
            key = self.cipher.decrypt(r["key_enc"], _key_context(r["phone_id"]))
            if len(key) != KEY_BYTES:
                log.error("phone %s: stored key has %d bytes; clock-ins are refused", r["phone_id"], len(key))
                continue
            out[r["phone_id"]] = ActivePhone(r["phone_id"], key, r["id_hash"], self.cipher.decrypt_text(r["id_enc"]))
        return out

    def version(self) -> str:
        return self.store.kv_get(VERSION_KEY, "0") or "0"


def _check_worker(worker: Worker | None, idn: str) -> None:
    if worker is None:
        raise UsageError(f"no worker with ID number {mask(idn)} on the roster (import or sync the roster first)")
    if worker.status != "active":
        raise UsageError(f"worker {mask(idn)} has left the project")
    if worker.blacklisted:
        raise UsageError(f"worker {mask(idn)} is blacklisted")


class PhoneKeyCache:
    """The daemon's view of the active phones: reloaded whenever the registry's version changes
    (checked with one primary-key read per request), so a revocation takes effect at once."""

    def __init__(self, store):
        self._registry = PhoneRegistry(store)
        self._lock = threading.Lock()
        self._version: str | None = None
        self._phones: dict[str, ActivePhone] = {}

    def refresh(self) -> bool:
        """Reload if the registry changed; returns whether it did."""
        version = self._registry.version()
        if version == self._version:
            return False
        phones = self._registry.active()
        with self._lock:
            self._phones, self._version = phones, version
        log.info("phone keys loaded: %d active phone(s)", len(phones))
        return True

    def key(self, phone_id: str) -> bytes | None:
        """For ``parse_and_verify``: the key, or None for an unknown or revoked phone."""
        phone = self._phones.get(phone_id)
        return phone.key if phone else None

    def get(self, phone_id: str) -> ActivePhone | None:
        return self._phones.get(phone_id)

    def __len__(self) -> int:
        return len(self._phones)
