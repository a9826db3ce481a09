"""FaceStore: the encrypted ``faces`` table — enrol, replace, remove, change detection, the in-memory
gallery, photos for terminals, and refusal of bad encodings / photos / tampered rows.
No face stack needed: encodings here are plain numbers."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from sitegate.buffer import Roster, Store, Worker
from sitegate.buffer.faces import (
    ENCODING_BYTES, FaceExists, FaceRecordError, FaceStore, encoding_from_bytes, encoding_to_bytes,
)
from sitegate.errors import StoreError
from tests.conftest import make_id

A, B, C, D, NOT_ON_ROSTER = (make_id(i) for i in (31, 32, 33, 34, 35))
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4


def encoding(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return v / np.linalg.norm(v) * 0.9   # dlib encodings have norms of about 0.9


@pytest.fixture
def faces(tmp_path):
    store = Store.open(tmp_path / "data")
    Roster(store).upsert_many([Worker(A, "张三"), Worker(B, "李四"), Worker(C, "王五", blacklisted=True),
                               Worker(D, "赵六")])
    Roster(store).mark_left([D])
    yield FaceStore(store)
    store.close()


def test_enrol_replace_and_remove(faces):
    assert faces.enrol(A, encoding(1), JPEG, "photo") is False
    assert faces.has_face(A) and faces.has_face(f"  {A.lower()} ") and not faces.has_face(B)
    np.testing.assert_array_equal(faces.encoding(A), encoding(1))
    assert faces.photo(A) == JPEG
    [before] = faces.entries()

    with pytest.raises(FaceExists, match=A[:6] + r"\*{8}" + A[-4:]):
        faces.enrol(A, encoding(2), None, "camera", replace=False)
    np.testing.assert_array_equal(faces.encoding(A), encoding(1))   # the refusal changed nothing

    assert faces.enrol(A, encoding(2), None, "camera") is True
    np.testing.assert_array_equal(faces.encoding(A), encoding(2))
    [after] = faces.entries()
    assert faces.photo(A) is None and after.source == "camera"
    assert after.created_ts == before.created_ts and after.updated_ts >= before.updated_ts

    assert faces.remove(A) is True and faces.remove(A) is False
    assert not faces.has_face(A) and faces.count() == 0


def test_version_changes_with_every_change_and_only_then(faces):
    from sitegate.buffer.forget import forget_worker

    seen = [faces.version()]
    faces.enrol(A, encoding(1), JPEG, "photo")
    faces.enrol(B, encoding(2), JPEG, "photo")
    seen.append(faces.version())
    assert faces.version() == seen[-1]            # nothing changed: same version
    faces.enrol(A, encoding(3), JPEG, "photo")    # replaced: same count, same second perhaps
    seen.append(faces.version())
    faces.remove(B)
    seen.append(faces.version())
    forget_worker(faces.store, A, "test")          # rows deleted elsewhere (sitegate purge) are noticed too
    seen.append(faces.version())
    assert len(set(seen)) == len(seen), seen


def test_the_gallery_holds_roster_workers_by_id_number(faces):
    for i, who in enumerate((A, B, C, D, NOT_ON_ROSTER)):
        faces.enrol(who, encoding(i), JPEG, "photo")
    gallery = faces.gallery()
    # blacklisted and left workers stay: recognising them gives the right denial, not "unknown"
    assert sorted(gallery.snapshot()[0]) == sorted([A, B, C, D])
    assert faces.counters["not_on_roster"] == 1
    assert gallery.match_one(encoding(1) + 0.001, 0.5).worker_id == B
    assert gallery.match_one(encoding(99), 0.5).worker_id is None
    listed = {e.name: e for e in faces.entries()}
    assert set(listed) == {"张三", "李四", "王五", "赵六", None}
    assert listed[None].masked_id.startswith("(not on the roster")
    assert listed["张三"].masked_id == A[:6] + "*" * 8 + A[-4:]


def test_a_blob_moved_to_another_row_fails_authentication(faces):
    faces.enrol(A, encoding(1), JPEG, "photo")
    faces.enrol(B, encoding(2), JPEG[:-1] + b"\x00", "photo")
    h_a, h_b = faces.cipher.index(A), faces.cipher.index(B)
    # someone with database access copies A's encoding and photo onto B's row
    faces.store.write(lambda c: c.execute(
        "UPDATE faces SET encoding_enc = (SELECT encoding_enc FROM faces WHERE id_hash = ?), "
        "photo_enc = (SELECT photo_enc FROM faces WHERE id_hash = ?) WHERE id_hash = ?", (h_a, h_a, h_b)))
    assert faces.gallery().snapshot()[0] == [A]       # B is skipped, A is kept
    assert faces.counters["unreadable"] == 1
    with pytest.raises(StoreError, match="failed authentication"):
        faces.encoding(B)
    pins = {w.id_card_number: w.pin for w in Roster(faces.store).all()}
    assert faces.photos() == {pins[A]: JPEG} and faces.counters["unreadable"] == 2


def test_photos_for_terminals_are_keyed_by_pin(faces):
    for i, who in enumerate((A, B, C, D)):
        faces.enrol(who, encoding(i), JPEG + bytes([i]), "photo")
    faces.enrol(make_id(36), encoding(9), None, "photo")  # no photo: nothing to push
    pins = {w.id_card_number: w.pin for w in Roster(faces.store).all()}
    assert faces.photos() == {pins[A]: JPEG + b"\x00", pins[B]: JPEG + b"\x01"}   # admitted workers only
    assert set(faces.photos(active_only=False)) == {pins[A], pins[B], pins[C], pins[D]}


@pytest.mark.parametrize("bad, words", [
    (np.zeros(127), "shape (128,)"),
    (np.zeros((2, 128)), "shape (128,)"),
    (np.full(128, np.nan), "NaN"),
    (["x"] * 128, "must be numbers"),
])
def test_bad_encodings_are_refused(faces, bad, words):
    with pytest.raises(FaceRecordError, match=words.replace("(", r"\(").replace(")", r"\)")):
        faces.enrol(A, bad, JPEG, "photo")
    assert faces.count() == 0


def test_bad_photos_are_refused(faces):
    with pytest.raises(FaceRecordError, match="must be a JPEG"):
        faces.enrol(A, encoding(1), b"\x89PNG\r\n\x1a\n", "photo")
    with pytest.raises(FaceRecordError, match="at most 200 KB"):
        faces.enrol(A, encoding(1), JPEG + b"\x00" * 205_000, "photo")
    assert faces.count() == 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hnp.arrays(dtype=st.sampled_from([np.float32, np.float64, np.int16]),
                  shape=st.one_of(st.just((128,)), hnp.array_shapes(min_dims=1, max_dims=2, max_side=130))))
def test_encoding_bytes_round_trip_or_a_clear_refusal(arr):
    try:
        data = encoding_to_bytes(arr)
    except FaceRecordError as exc:
        with np.errstate(over="ignore"):
            assert arr.shape != (128,) or not np.isfinite(arr.astype(np.float32)).all(), exc
        return
    assert len(data) == ENCODING_BYTES
    decoded = encoding_from_bytes(data)
    assert decoded.dtype == np.float32 and np.isfinite(decoded).all()
    np.testing.assert_array_equal(decoded, arr.astype(np.float32))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=1100))
def test_stored_encoding_bytes_of_the_wrong_length_are_refused(data):
    if len(data) == ENCODING_BYTES:
        assert encoding_from_bytes(data).shape == (128,)
    else:
        with pytest.raises(StoreError, match="expected 512"):
            encoding_from_bytes(data)
