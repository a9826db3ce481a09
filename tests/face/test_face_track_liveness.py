"""Tracker, box geometry and blink detection: pure logic, no images."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitegate.drivers.camera_face.box import Box, iou
from sitegate.drivers.camera_face.liveness import BlinkDetector, eye_aspect_ratio
from sitegate.drivers.camera_face.track import FaceTracker


def box_at(x: int, y: int, side: int = 100) -> Box:
    return Box(top=y, right=x + side, bottom=y + side, left=x)


def test_iou_and_geometry():
    a = box_at(0, 0)
    assert iou(a, a) == 1.0
    assert iou(a, box_at(200, 0)) == 0.0
    assert iou(a, box_at(50, 0)) == pytest.approx(5000 / 15000)
    assert a.scaled(2.0) == Box(0, 200, 200, 0)
    assert Box(-5, 50, 40, -3).clipped(30, 20) == Box(0, 20, 30, 0)
    assert box_at(0, 10).touches_edge(480, 640) and not box_at(100, 100).touches_edge(480, 640)
    assert box_at(100, 100).expanded(0.5, 480, 640) == Box(50, 250, 250, 50)


def test_a_walking_face_is_one_track():
    tracker = FaceTracker()
    ids = set()
    for i in range(30):  # 15 px per frame: a brisk walk past a 640 px wide camera
        update = tracker.update([box_at(20 + 15 * i, 100 + 2 * i)], i, i / 30)
        ids |= {t.track_id for t, _ in update.seen}
    assert ids == {1}


def test_two_faces_two_tracks_kept_apart():
    tracker = FaceTracker()
    for i in range(10):
        update = tracker.update([box_at(50 + 5 * i, 100), box_at(400 - 5 * i, 100)], i, i / 30)
        by_box = {j: t.track_id for t, j in update.seen}
        assert by_box == {0: 1, 1: 2}


def test_missed_frames_continue_then_expire():
    tracker = FaceTracker(max_missed=3)
    tracker.update([box_at(100, 100)], 0, 0.0)
    for i in range(1, 4):  # three frames without the face: still the same track
        assert tracker.update([], i, i / 30).expired == []
    update = tracker.update([box_at(130, 100)], 4, 4 / 30)
    assert [t.track_id for t, _ in update.seen] == [1] and update.seen[0][0].resumed_after == 3
    for i in range(5, 9):
        update = tracker.update([], i, i / 30)
    assert [t.track_id for t in update.expired] == [1]
    assert tracker.update([box_at(130, 100)], 9, 0.3).started[0].track_id == 2


def test_far_jump_or_size_jump_is_a_new_face():
    tracker = FaceTracker()
    tracker.update([box_at(100, 100)], 0, 0.0)
    assert tracker.update([box_at(400, 100)], 1, 0.03).started  # 300 px away: someone else
    tracker = FaceTracker()
    tracker.update([box_at(100, 100, side=80)], 0, 0.0)
    assert tracker.update([box_at(90, 90, side=200)], 1, 0.03).started  # 2.5× the size


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(-50, 700), st.integers(-50, 500), st.integers(1, 300)),
                         max_size=5), max_size=20))
def test_tracker_invariants_on_random_boxes(frames):
    tracker = FaceTracker(max_missed=2)
    for i, boxes in enumerate(frames):
        update = tracker.update([box_at(*b) for b in boxes], i, float(i))
        # every detection belongs to exactly one track, no track takes two detections
        assert sorted(j for _, j in update.seen) == list(range(len(boxes)))
        assert len({t.track_id for t, _ in update.seen}) == len(boxes)
        assert not {t.track_id for t in update.expired} & {t.track_id for t in tracker.tracks}


def eye(ear: float) -> list[tuple[float, float]]:
    """Six landmarks of an eye 30 px wide whose aspect ratio is ``ear``."""
    h = ear * 30 / 2
    return [(0, 0), (10, -h), (20, -h), (30, 0), (20, h), (10, h)]


def test_eye_aspect_ratio():
    assert eye_aspect_ratio(eye(0.3)) == pytest.approx(0.3)
    assert eye_aspect_ratio(eye(0.05)) == pytest.approx(0.05)
    # by hand: (12 + 12) / (2 × √(38² + 1)) = 0.31568
    assert eye_aspect_ratio([(388, 232), (400, 225), (414, 225), (426, 233), (414, 237), (400, 237)]) \
        == pytest.approx(0.31568, abs=1e-5)
    with pytest.raises(ValueError):
        eye_aspect_ratio(eye(0.3)[:5])


@pytest.mark.parametrize(
    "ears, blinked",
    [
        ([0.30, 0.30, 0.12, 0.30], True),           # open, closed, open
        ([0.30, 0.12, 0.11, 0.10, 0.31], True),     # a slower blink
        ([0.22, 0.21, 0.13, 0.20], True),           # a smiling face: narrower open eyes, still a blink
        ([0.30, 0.30, 0.30, 0.30], False),          # a photo: never closes
        ([0.30, 0.29, 0.31, 0.28, 0.30], False),    # landmark jitter on a photo
        ([0.10, 0.10, 0.10], False),                # closed all along (under the open minimum)
        ([0.12, 0.30], False),                      # opens once: no closing seen after an open eye
        ([0.30, 0.22, 0.30, 0.23, 0.30], False),    # dips between the two ratios (hysteresis)
        ([0.30, 0.12], False),                      # closed, not yet reopened
        ([0.30] * 5 + [0.90, 0.30, 0.30], False),   # one landmark outlier does not make 0.30 "closed"
    ],
)
def test_blink_sequences(ears, blinked):
    detector = BlinkDetector()
    for ear in ears:
        detector.update_eyes(eye(ear), eye(ear))
    assert detector.blinked is blinked


@pytest.mark.parametrize(
    "shape, min_face, scale",
    [
        ((720, 1280), 120, 80 / 120),    # the face minimum, not the 360 px short side, limits the shrink
        ((1080, 1920), 120, 80 / 120),
        ((2160, 3840), 240, 1 / 3),      # 4K with large faces
        ((480, 853), 120, 0.75),         # the 360 px short side
        ((360, 640), 80, 1.0),           # never upscaled
        ((1080, 1920), 400, 1 / 3),
    ],
)
def test_detection_scale_keeps_the_smallest_wanted_face_detectable(shape, min_face, scale):
    from sitegate.drivers.camera_face.detect import HOG_MIN_FACE_PX, FaceDetector

    detector = FaceDetector(min_face_px=min_face)
    got = detector.scale_for(*shape)
    assert got == pytest.approx(scale)
    assert min_face * got >= HOG_MIN_FACE_PX - 1e-9 or got == 1.0
    assert FaceDetector(detect_scale=0.25, min_face_px=min_face).scale_for(*shape) == 0.25
