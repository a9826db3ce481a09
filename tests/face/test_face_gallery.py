"""Gallery: vectorised 1:N match agrees with a brute-force loop; add/remove/replace keep ids right."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from sitegate.drivers.camera_face import FaceInputError, Gallery, Match

DIM = 128
IDS = st.sampled_from([f"w{i}" for i in range(6)])


def brute_force(rows: list[tuple[str, np.ndarray]], query: np.ndarray) -> tuple[float, str | None]:
    """The nearest distance and its id, by a plain Python loop in float64."""
    best, who = math.inf, None
    for wid, enc in rows:
        d = math.sqrt(sum((float(a) - float(b)) ** 2 for a, b in zip(enc, query)))
        if d < best:
            best, who = d, wid
    return best, who


def encodings(n: int, seed: int) -> np.ndarray:
    # dlib encodings are ~unit-norm vectors with components of ±0.2; mimic the scale
    return np.random.default_rng(seed).normal(0, 0.09, size=(n, DIM)).astype(np.float32)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 40), m=st.integers(1, 4), seed=st.integers(0, 2**32 - 1),
       tolerance=st.floats(0.05, 1.5))
def test_match_equals_brute_force(n, m, seed, tolerance):
    data = encodings(n + m, seed)
    ids = [f"w{i % 7}" for i in range(n)]
    gallery = Gallery(capacity=4)  # small capacity: growth is exercised too
    gallery.add_many(ids, data[:n])
    queries = data[n:]
    if n:
        queries[0] = data[0] + 0.001  # one query very near an enrolled row
    rows = list(zip(ids, data[:n]))
    for query, result in zip(queries, gallery.match(queries, tolerance)):
        if not rows:
            assert result == Match(None, None)
            continue
        best, _ = brute_force(rows, query)
        assert result.distance == pytest.approx(best, abs=1e-5)
        nearest_id = gallery.nearest(query)[0][0]
        # the id returned owns a row at the nearest distance (ties may go to any of them)
        assert brute_force([r for r in rows if r[0] == nearest_id], query)[0] == pytest.approx(best, abs=1e-5)
        if best <= tolerance - 1e-5:
            assert result.worker_id == nearest_id
        elif best > tolerance + 1e-5:
            assert result.worker_id is None


class GalleryModel(RuleBasedStateMachine):
    """Random add/remove/replace sequences against a plain list of (id, encoding) rows."""

    def __init__(self):
        super().__init__()
        self.gallery = Gallery(capacity=2)
        self.rows: list[tuple[str, np.ndarray]] = []
        self.seed = 0

    def _new(self, k: int) -> np.ndarray:
        self.seed += 1
        return encodings(k, self.seed)

    @rule(wid=IDS, k=st.integers(1, 3))
    def add(self, wid, k):
        enc = self._new(k)
        self.gallery.add(wid, enc)
        self.rows += [(wid, e) for e in enc]

    @rule(wid=IDS)
    def remove(self, wid):
        expected = sum(1 for r in self.rows if r[0] == wid)
        assert self.gallery.remove(wid) == expected
        self.rows = [r for r in self.rows if r[0] != wid]

    @rule(wid=IDS, k=st.integers(1, 2))
    def replace(self, wid, k):
        enc = self._new(k)
        self.gallery.replace(wid, enc)
        self.rows = [r for r in self.rows if r[0] != wid] + [(wid, e) for e in enc]

    @rule(pick=st.integers(0, 1000))
    def enrolled_row_matches_its_owner(self, pick):
        if not self.rows:
            assert self.gallery.match_one(np.zeros(DIM)) == Match(None, None)
            return
        wid, enc = self.rows[pick % len(self.rows)]
        result = self.gallery.match_one(enc, tolerance=0.01)
        assert result.worker_id == wid and result.distance == pytest.approx(0.0, abs=1e-4)

    @invariant()
    def same_contents(self):
        assert len(self.gallery) == len(self.rows)
        assert self.gallery.worker_count == len({r[0] for r in self.rows})
        for wid in {r[0] for r in self.rows}:
            got = self.gallery.encodings_of(wid)
            want = np.stack([e for w, e in self.rows if w == wid])
            # same rows, order aside
            assert sorted(map(tuple, got.tolist())) == sorted(map(tuple, want.tolist()))


TestGalleryModel = GalleryModel.TestCase
TestGalleryModel.settings = settings(max_examples=30, stateful_step_count=25, deadline=None)


def test_fifty_thousand_rows_match_like_numpy_brute_force():
    data = encodings(50_001, 7)
    gallery = Gallery()
    gallery.add_many([f"w{i}" for i in range(50_000)], data[:50_000])
    query = data[50_000]
    plain = np.linalg.norm(data[:50_000].astype(np.float64) - query.astype(np.float64), axis=1)
    result = gallery.match_one(query, tolerance=10.0)
    assert result.worker_id == f"w{int(np.argmin(plain))}"
    assert result.distance == pytest.approx(float(plain.min()), abs=1e-6)
    # an enrolled row is found among 50,000
    assert gallery.match_one(data[31_337]) == Match("w31337", pytest.approx(0.0, abs=1e-4))


def test_snapshot_round_trip():
    data = encodings(5, 3)
    gallery = Gallery()
    gallery.add_many(["a", "b", "a", "c", "b"], data)
    ids, matrix = gallery.snapshot()
    again = Gallery.from_arrays(ids, matrix)
    assert again.match(data, 0.01) == gallery.match(data, 0.01)
    assert again.worker_count == 3 and len(again) == 5


@pytest.mark.parametrize(
    "bad, words",
    [
        (np.zeros(127), "128 values"),
        (np.zeros((2, 3, 128)), "128 values"),
        (np.full(128, np.nan), "NaN"),
        (["x"] * 128, "numbers"),
    ],
)
def test_bad_encodings_are_refused_and_change_nothing(bad, words):
    gallery = Gallery()
    gallery.add("a", encodings(1, 1))
    with pytest.raises(FaceInputError, match=words):
        gallery.add("b", bad)
    with pytest.raises(FaceInputError, match=words):
        gallery.match(bad)
    with pytest.raises(FaceInputError):
        gallery.replace("a", bad)
    assert len(gallery) == 1 and "a" in gallery and "b" not in gallery


def test_bad_worker_ids_and_counts():
    gallery = Gallery()
    with pytest.raises(FaceInputError, match="non-empty string"):
        gallery.add("", encodings(1, 1))
    with pytest.raises(FaceInputError, match="2 worker ids for 1 encodings"):
        gallery.add_many(["a", "b"], encodings(1, 1))
    with pytest.raises(ValueError, match="tolerance"):
        gallery.match(encodings(1, 1), tolerance=0)
    assert len(gallery) == 0
