"""The enrolled faces: an (N, 128) float32 matrix with a parallel list of worker ids, matched 1:N
in one vectorised step.

Distance is the Euclidean distance between 128-d dlib encodings, as face_recognition's
``face_distance``/``compare_faces`` use; a query matches the nearest row when that distance is
≤ the tolerance. dlib's documented operating point is 0.6 (99.38 % on LFW pairs) and that is the
default here, as in face_recognition. On the project's test photos (shared/data/faces) the same
person measured 0.33–0.44 and different people ≥ 0.69 (see README.md here), so for a site
gallery — where one query is compared with thousands of people and every false accept is
someone else's pay record — configure a tighter 0.5.

Speed: ||q−g||² = ||q||² + ||g||² − 2 q·g with the row norms kept up to date, so a query is one
matrix-vector product over the gallery (≈0.5 ms for 50,000 rows on one x86 core); the winner's
distance is then recomputed directly in float64, so the reported distance has no cancellation
error. Workers may have several rows (several enrolment photos).
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .encode import ENCODING_DIM
from .errors import FaceInputError

DEFAULT_TOLERANCE = 0.6        # dlib / face_recognition's default
RECOMMENDED_TOLERANCE = 0.5    # what sites should configure (see module docstring)


class Match(NamedTuple):
    worker_id: str | None      # None: nobody within tolerance (or an empty gallery)
    distance: float | None     # distance to the nearest enrolled row; None for an empty gallery


def as_encodings(value: object, dim: int = ENCODING_DIM) -> np.ndarray:
    """``value`` as an (M, dim) float32 matrix, or FaceInputError saying what is wrong with it."""
    try:
        arr = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise FaceInputError(f"an encoding must be numbers: {exc}") from exc
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise FaceInputError(f"an encoding must have {dim} values, got shape {np.shape(value)}")
    if not np.isfinite(arr).all():
        raise FaceInputError("an encoding holds NaN or infinite values")
    return arr


class Gallery:
    """Enrolled encodings of one site. Thread-safe: the roster sync may edit while a camera matches."""

    def __init__(self, dim: int = ENCODING_DIM, capacity: int = 1024):
        self.dim = dim
        self._matrix = np.empty((max(1, capacity), dim), dtype=np.float32)
        self._sqnorm = np.empty(max(1, capacity), dtype=np.float32)
        self._ids: list[str] = []
        self._rows: dict[str, list[int]] = {}
        self._lock = threading.Lock()

    # ---- size and contents -------------------------------------------------------------------
    def __len__(self) -> int:
        """Number of rows (encodings), not of workers."""
        return len(self._ids)

    def __contains__(self, worker_id: object) -> bool:
        return worker_id in self._rows

    @property
    def worker_count(self) -> int:
        return len(self._rows)

    def encodings_of(self, worker_id: str) -> np.ndarray:
        with self._lock:
            rows = self._rows.get(worker_id, [])
            return self._matrix[rows].copy()

    def snapshot(self) -> tuple[list[str], np.ndarray]:
        """(ids, matrix copy): what a store needs to persist the gallery."""
        with self._lock:
            return list(self._ids), self._matrix[: len(self._ids)].copy()

    @classmethod
    def from_arrays(cls, ids: Sequence[str], matrix: object) -> "Gallery":
        enc = as_encodings(matrix) if len(ids) else np.empty((0, ENCODING_DIM), np.float32)
        if len(ids) != len(enc):
            raise FaceInputError(f"{len(ids)} ids for {len(enc)} encodings")
        gallery = cls(dim=enc.shape[1], capacity=max(1024, len(ids)))
        gallery.add_many(ids, enc)
        return gallery

    # ---- editing -----------------------------------------------------------------------------
    def add(self, worker_id: str, encoding: object) -> None:
        """Add one or more encodings (shape (128,) or (k, 128)) for ``worker_id``."""
        enc = as_encodings(encoding, self.dim)
        self.add_many([worker_id] * len(enc), enc)

    def add_many(self, worker_ids: Sequence[str], encodings: object) -> None:
        enc = as_encodings(encodings, self.dim) if len(worker_ids) else np.empty((0, self.dim), np.float32)
        if len(worker_ids) != len(enc):
            raise FaceInputError(f"{len(worker_ids)} worker ids for {len(enc)} encodings")
        for wid in worker_ids:
            if not isinstance(wid, str) or not wid:
                raise FaceInputError(f"a worker id must be a non-empty string, got {wid!r}")
        with self._lock:
            n, k = len(self._ids), len(enc)
            self._reserve(n + k)
            self._matrix[n : n + k] = enc
            self._sqnorm[n : n + k] = np.einsum("ij,ij->i", enc, enc)
            for i, wid in enumerate(worker_ids):
                self._ids.append(wid)
                self._rows.setdefault(wid, []).append(n + i)

    def remove(self, worker_id: str) -> int:
        """Remove every encoding of ``worker_id``; returns how many rows went (0 if unknown)."""
        with self._lock:
            rows = self._rows.pop(worker_id, [])
            # Fill each hole with the last row (O(1) per row, no 25 MB copy at 50,000 rows);
            # descending order keeps rows of the removed worker from being moved into holes.
            for row in sorted(rows, reverse=True):
                last = len(self._ids) - 1
                if row != last:
                    moved = self._ids[last]
                    self._matrix[row] = self._matrix[last]
                    self._sqnorm[row] = self._sqnorm[last]
                    self._ids[row] = moved
                    where = self._rows[moved]
                    where[where.index(last)] = row
                self._ids.pop()
            return len(rows)

    def replace(self, worker_id: str, encodings: object) -> None:
        """Drop the worker's encodings and enrol these instead (validated before anything changes)."""
        enc = as_encodings(encodings, self.dim)
        self.remove(worker_id)
        self.add_many([worker_id] * len(enc), enc)

    def _reserve(self, rows: int) -> None:
        if rows <= len(self._matrix):
            return
        cap = max(rows, 2 * len(self._matrix))
        matrix = np.empty((cap, self.dim), dtype=np.float32)
        sqnorm = np.empty(cap, dtype=np.float32)
        n = len(self._ids)
        matrix[:n], sqnorm[:n] = self._matrix[:n], self._sqnorm[:n]
        self._matrix, self._sqnorm = matrix, sqnorm

    # ---- matching ----------------------------------------------------------------------------
    def _nearest_locked(self, q: np.ndarray) -> tuple[list[int], list[float]]:
        n = len(self._ids)
        if n == 0:
            return [-1] * len(q), [float("inf")] * len(q)
        g = self._matrix[:n]
        # squared distances up to the per-query constant ||q||², which argmin does not need
        partial = self._sqnorm[:n, None] - 2.0 * (g @ q.T)
        best = np.argmin(partial, axis=0)
        diff = g[best].astype(np.float64) - q.astype(np.float64)
        return best.tolist(), np.sqrt(np.einsum("ij,ij->i", diff, diff)).tolist()

    def nearest(self, encodings: object) -> list[tuple[str | None, float]]:
        """(worker id, exact distance) of the nearest row for each query; empty gallery: (None, inf)."""
        q = as_encodings(encodings, self.dim)
        with self._lock:
            rows, dists = self._nearest_locked(q)
            return [(self._ids[r] if r >= 0 else None, d) for r, d in zip(rows, dists)]

    def match(self, encodings: object, tolerance: float = DEFAULT_TOLERANCE) -> list[Match]:
        """For each query encoding ((128,) or (M, 128)): the nearest worker if within ``tolerance``
        (else None) and the distance to the nearest row (None for an empty gallery)."""
        if not (tolerance > 0 and np.isfinite(tolerance)):
            raise ValueError(f"tolerance must be a positive number, got {tolerance}")
        out: list[Match] = []
        for wid, d in self.nearest(encodings):
            if wid is None:
                out.append(Match(None, None))
            else:
                out.append(Match(wid if d <= tolerance else None, d))
        return out

    def match_one(self, encoding: object, tolerance: float = DEFAULT_TOLERANCE) -> Match:
        return self.match(encoding, tolerance)[0]
