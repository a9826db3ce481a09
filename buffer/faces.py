"""Enrolled faces, encrypted at rest: one 128-d encoding and one enrolment photo per worker.

    faces = FaceStore(store)
    faces.enrol(id_number, encoding, photo_jpeg, source="cli-photo")   # durable when it returns
    gallery = faces.gallery()          # sitegate.drivers.camera_face.Gallery, ids = ID numbers
    if faces.version() != seen: ...    # cheap change check for a running camera
    faces.photos()                     # {PIN (or ID number): JPEG} for terminals that need photos

A face encoding is biometric data, sensitive personal information under PIPL art. 28: the row
keeps only the blind index of the ID number (``id_hash``), and the encoding and photo are AES-GCM
encrypted with that index as associated data, so a blob copied onto another worker's row fails
authentication instead of silently enrolling someone else's face. The ID number itself comes from
the roster row with the same index (a face is enrolled only for a worker on the roster).

The gallery lives in memory only; it is rebuilt from here when ``version()`` changes. ``version``
combines a counter bumped in the same transaction as every change made here with the row count
and the newest update time, so a row deleted elsewhere (``sitegate purge``) is noticed too.
"""
from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sitegate.errors import StoreError, UsageError
from sitegate.idcard import mask, normalise

if TYPE_CHECKING:
    import numpy as np
    from sitegate.drivers.camera_face.gallery import Gallery

log = logging.getLogger(__name__)

ENCODING_DIM = 128
ENCODING_BYTES = ENCODING_DIM * 4          # float32, little-endian
PHOTO_MAX_BYTES = 200 * 1024               # what face terminals accept (Hikvision: ≤ 200 KB)
JPEG_MAGIC = b"\xff\xd8\xff"
VERSION_KEY = "faces.version"


class FaceExists(UsageError):
    """A face is already enrolled for this worker and ``replace`` was not asked for."""


class FaceRecordError(UsageError):
    """An encoding or photo handed to ``enrol`` is not what it must be."""


@dataclass(frozen=True)
class EnrolledFace:
    """One row of ``faces``, joined with the roster (``None`` fields: the worker is not on it)."""

    id_hash: str
    id_card_number: str | None
    name: str | None
    pin: int | None
    status: str | None
    source: str
    created_ts: float
    updated_ts: float

    @property
    def masked_id(self) -> str:
        return mask(self.id_card_number) if self.id_card_number else f"(not on the roster: {self.id_hash[:8]}…)"

    def public_dict(self) -> dict:
        return {"id_card_number": self.masked_id, "name": self.name, "pin": self.pin, "status": self.status,
                "source": self.source, "created_ts": self.created_ts, "updated_ts": self.updated_ts}


def encoding_to_bytes(encoding: object) -> bytes:
    """A (128,) encoding as 512 little-endian float32 bytes; FaceRecordError if it is not one."""
    import numpy as np   # here, not at the top: the daemon imports this module, numpy costs ~15 MB RSS

    try:
        arr = np.asarray(encoding, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise FaceRecordError(f"a face encoding must be numbers: {exc}") from None
    if arr.shape != (ENCODING_DIM,):
        raise FaceRecordError(f"a face encoding must have shape ({ENCODING_DIM},), got {arr.shape}")
    with np.errstate(over="ignore"):
        f32 = arr.astype("<f4")       # a finite float64 beyond float32's range becomes inf here
    if not np.isfinite(f32).all():
        raise FaceRecordError("a face encoding holds NaN, infinite or out-of-range values")
    return f32.tobytes()


def encoding_from_bytes(data: bytes) -> np.ndarray:
    if len(data) != ENCODING_BYTES:
        raise StoreError(f"a stored face encoding has {len(data)} bytes, expected {ENCODING_BYTES}")
    import numpy as np

    return np.frombuffer(data, dtype="<f4").astype(np.float32)


def _aad(purpose: bytes, id_hash: str) -> bytes:
    return b"sitegate/face/" + purpose + b"/" + id_hash.encode("ascii")


class FaceStore:
    """The ``faces`` table of one store. Thread-safe as the store is (one writer, readers per thread)."""

    def __init__(self, store):
        self.store = store
        self.cipher = store.cipher
        self.counters: dict[str, int] = {"unreadable": 0, "not_on_roster": 0}

    def _hash(self, id_number: str) -> str:
        return self.cipher.index(normalise(id_number))

    # -- writes ------------------------------------------------------------------------------
    def enrol(self, id_number: str, encoding: object, photo_jpeg: bytes | None, source: str = "",
              *, replace: bool = True) -> bool:
        """Store (or, with ``replace``, overwrite) the worker's face; True when one was replaced.

        Raises FaceExists when a face is enrolled and ``replace`` is False (checked in the same
        transaction as the write), FaceRecordError for a bad encoding or photo.
        """
        idn = normalise(id_number)
        h = self.cipher.index(idn)
        enc_blob = self.cipher.encrypt(encoding_to_bytes(encoding), _aad(b"encoding", h))
        photo_blob = None
        if photo_jpeg is not None:
            if not bytes(photo_jpeg[:3]) == JPEG_MAGIC:
                raise FaceRecordError("the enrolment photo must be a JPEG")
            if len(photo_jpeg) > PHOTO_MAX_BYTES:
                raise FaceRecordError(f"the enrolment photo is {len(photo_jpeg) // 1024} KB, "
                                      f"at most {PHOTO_MAX_BYTES // 1024} KB")
            photo_blob = self.cipher.encrypt(bytes(photo_jpeg), _aad(b"photo", h))

        def job(conn: sqlite3.Connection) -> bool:
            now = time.time()
            existed = conn.execute("SELECT 1 FROM faces WHERE id_hash = ?", (h,)).fetchone() is not None
            if existed and not replace:
                raise FaceExists(f"a face is already enrolled for {mask(idn)}")
            conn.execute(
                "INSERT INTO faces(id_hash, encoding_enc, photo_enc, source, created_ts, updated_ts) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id_hash) DO UPDATE SET encoding_enc = excluded.encoding_enc, "
                "photo_enc = excluded.photo_enc, source = excluded.source, updated_ts = excluded.updated_ts",
                (h, enc_blob, photo_blob, source, now, now))
            _bump_version(conn, now)
            return existed

        return self.store.write(job)

    def remove(self, id_number: str) -> bool:
        """Delete the worker's face; False when none was enrolled."""
        h = self._hash(id_number)

        def job(conn: sqlite3.Connection) -> bool:
            gone = conn.execute("DELETE FROM faces WHERE id_hash = ?", (h,)).rowcount > 0
            if gone:
                _bump_version(conn, time.time())
            return gone

        return self.store.write(job)

    # -- reads -------------------------------------------------------------------------------
    def has_face(self, id_number: str) -> bool:
        return bool(self.store.query("SELECT 1 FROM faces WHERE id_hash = ?", (self._hash(id_number),)))

    def count(self) -> int:
        return self.store.query("SELECT count(*) FROM faces")[0][0]

    def version(self) -> tuple:
        """Changes whenever the enrolled faces do; one small query (a camera asks every few seconds)."""
        row = self.store.query(
            "SELECT (SELECT value FROM kv WHERE key = ?), count(*), max(updated_ts) FROM faces", (VERSION_KEY,))[0]
        return (row[0], row[1], row[2])

    def encoding(self, id_number: str) -> np.ndarray | None:
        """The worker's decrypted encoding (128 float32), or None."""
        h = self._hash(id_number)
        rows = self.store.query("SELECT encoding_enc FROM faces WHERE id_hash = ?", (h,))
        if not rows:
            return None
        return encoding_from_bytes(self.cipher.decrypt(rows[0][0], _aad(b"encoding", h)))

    def photo(self, id_number: str) -> bytes | None:
        """The worker's decrypted enrolment photo (JPEG), or None."""
        h = self._hash(id_number)
        rows = self.store.query("SELECT photo_enc FROM faces WHERE id_hash = ?", (h,))
        if not rows or rows[0][0] is None:
            return None
        return self.cipher.decrypt(rows[0][0], _aad(b"photo", h))

    def gallery(self) -> "Gallery":
        """Every enrolled face whose worker is on the roster, as an in-memory Gallery keyed by ID number.

        Workers who left or are blacklisted stay in it: recognising them gives the gate the right
        denial instead of "unknown". A row that fails to decrypt is skipped, counted and logged.
        """
        import numpy as np

        from sitegate.drivers.camera_face.gallery import Gallery

        rows = self.store.query("SELECT f.id_hash, f.encoding_enc, w.id_enc FROM faces f "
                                "LEFT JOIN workers w ON w.id_hash = f.id_hash")
        ids: list[str] = []
        matrix = np.empty((len(rows), ENCODING_DIM), dtype=np.float32)
        for r in rows:
            h = r["id_hash"]
            if r["id_enc"] is None:
                self._skip("not_on_roster", h, "its worker is not on the roster")
                continue
            try:
                matrix[len(ids)] = encoding_from_bytes(self.cipher.decrypt(r["encoding_enc"], _aad(b"encoding", h)))
                ids.append(self.cipher.decrypt_text(r["id_enc"]))
            except StoreError as exc:
                self._skip("unreadable", h, str(exc))
        return Gallery.from_arrays(ids, matrix[: len(ids)])

    def entries(self) -> list[EnrolledFace]:
        """Every enrolled face with who it is (for ``sitegate faces list``), oldest enrolment first."""
        rows = self.store.query(
            "SELECT f.id_hash, f.source, f.created_ts, f.updated_ts, w.id_enc, w.name_enc, w.pin, w.status "
            "FROM faces f LEFT JOIN workers w ON w.id_hash = f.id_hash ORDER BY f.created_ts, f.id_hash")
        out = []
        for r in rows:
            on_roster = r["id_enc"] is not None
            out.append(EnrolledFace(
                id_hash=r["id_hash"],
                id_card_number=self.cipher.decrypt_text(r["id_enc"]) if on_roster else None,
                name=self.cipher.decrypt_text(r["name_enc"]) if on_roster else None,
                pin=r["pin"], status=r["status"], source=r["source"],
                created_ts=r["created_ts"], updated_ts=r["updated_ts"]))
        return out

    def photos(self, *, active_only: bool = True) -> dict[int | str, bytes]:
        """Enrolment photos for terminals that keep their own face library (``push_faces``):
        keyed by the worker's device PIN, or by the ID number for a worker without one.
        ``active_only``: only workers the gate admits (active, not blacklisted)."""
        sql = ("SELECT f.id_hash, f.photo_enc, w.id_enc, w.pin FROM faces f JOIN workers w ON w.id_hash = f.id_hash "
               "WHERE f.photo_enc IS NOT NULL")
        if active_only:
            sql += " AND w.status = 'active' AND w.blacklisted = 0"
        out: dict[int | str, bytes] = {}
        for r in self.store.query(sql):
            try:
                jpeg = self.cipher.decrypt(r["photo_enc"], _aad(b"photo", r["id_hash"]))
                key = r["pin"] if r["pin"] is not None else self.cipher.decrypt_text(r["id_enc"])
            except StoreError as exc:
                self._skip("unreadable", r["id_hash"], str(exc))
                continue
            out[key] = jpeg
        return out

    def _skip(self, counter: str, id_hash: str, why: str) -> None:
        self.counters[counter] += 1
        log.warning("enrolled face %s… skipped: %s", id_hash[:8], why)


def _bump_version(conn: sqlite3.Connection, now: float) -> None:
    conn.execute(
        "INSERT INTO kv(key, value, updated_ts) VALUES (?, '1', ?) ON CONFLICT(key) DO UPDATE SET "
        "value = CAST(CAST(kv.value AS INTEGER) + 1 AS TEXT), updated_ts = excluded.updated_ts",
        (VERSION_KEY, now))
