"""The camera engine on real frames: one decision per person passing, re-checks, splits, liveness."""
from __future__ import annotations

import numpy as np
import pytest

from sitegate.drivers.camera_face import CameraFaceEngine, FaceInputError, Gallery
from sitegate.drivers.camera_face.box import Box

pytestmark = pytest.mark.face


def paste_face(dst: np.ndarray, dst_box: Box, src: np.ndarray, src_box: Box, margin: float = 0.4) -> np.ndarray:
    """``dst`` with the face of ``src`` pasted over its own face (someone else in the same place)."""
    import cv2

    d = dst_box.expanded(margin, *dst.shape[:2])
    s = src_box.expanded(margin, *src.shape[:2])
    out = dst.copy()
    out[d.top:d.bottom, d.left:d.right] = cv2.resize(src[s.top:s.bottom, s.left:s.right], (d.width, d.height),
                                                     interpolation=cv2.INTER_AREA)
    return out


@pytest.fixture(scope="module")
def scenes(photos):
    """RGB 853×480 frames: Obama, and Biden's face pasted at the same place."""
    obama = photos["obama-480p.jpg"]
    biden = photos["biden.jpg"]
    return {"obama": obama.rgb, "biden": paste_face(obama.rgb, obama.faces[0].box, biden.rgb, biden.faces[0].box),
            "empty": np.full_like(obama.rgb, 90)}


def run(engine: CameraFaceEngine, frames: list[np.ndarray], fps: float = 30.0) -> list:
    decisions = []
    for i, frame in enumerate(frames):
        decisions += engine.process(frame, i / fps)
    return decisions + engine.flush(len(frames) / fps)


def test_a_standing_person_is_decided_once(gallery, scenes):
    engine = CameraFaceEngine(gallery, 0.5, input_order="rgb")
    first = engine.process(scenes["obama"], 0.0)
    assert [(d.worker_id, d.encodings, d.t_decided) for d in first] == [("obama", 1, 0.0)]
    assert run(engine, [scenes["obama"]] * 20) == []  # same track: no second decision, no encoding
    assert engine.counters["encodings"] == 1 and engine.counters["tracks"] == 1


def test_someone_stepping_into_a_lost_track_gets_a_decision(gallery, scenes):
    engine = CameraFaceEngine(gallery, 0.5, input_order="rgb")
    frames = [scenes["obama"]] * 3 + [scenes["empty"]] * 2 + [scenes["biden"]] * 3
    decisions = run(engine, frames)
    assert [d.worker_id for d in decisions] == ["obama", "biden"]
    assert decisions[0].track_id != decisions[1].track_id
    assert engine.counters["split_tracks"] == 1


def test_the_same_person_after_a_missed_detection_is_not_decided_again(gallery, scenes):
    engine = CameraFaceEngine(gallery, 0.5, input_order="rgb")
    decisions = run(engine, [scenes["obama"]] * 3 + [scenes["empty"]] * 2 + [scenes["obama"]] * 3)
    assert [d.worker_id for d in decisions] == ["obama"]
    assert engine.counters["encodings"] == 2  # the look, and the check after the gap


def test_a_poor_first_look_is_rechecked_on_a_sharp_frame(gallery, scenes):
    import cv2

    blurred = cv2.GaussianBlur(scenes["obama"], (0, 0), 2.5)  # its face box comes out 115 px
    engine = CameraFaceEngine(gallery, 0.5, min_face_px=100, input_order="rgb")
    assert engine.process(blurred, 0.0) == []  # poor look: wait for a better one
    decisions = engine.process(scenes["obama"], 1 / 30)
    assert [(d.worker_id, d.encodings) for d in decisions] == [("obama", 2)]
    assert decisions[0].sharpness > 100


def test_poor_looks_only_still_decide_in_time(gallery, scenes):
    import cv2

    blurred = cv2.GaussianBlur(scenes["obama"], (0, 0), 2.5)
    engine = CameraFaceEngine(gallery, 0.5, min_face_px=100, input_order="rgb", settle_frames=5)
    decisions = run(engine, [blurred] * 8)
    assert len(decisions) == 1 and decisions[0].t_decided == pytest.approx(5 / 30)


def test_strangers_and_an_empty_gallery(scenes, gallery):
    engine = CameraFaceEngine(Gallery(), input_order="rgb")
    [decision] = engine.process(scenes["obama"], 0.0)
    assert decision.worker_id is None and decision.distance is None
    gallery.remove("obama")
    engine = CameraFaceEngine(gallery, input_order="rgb")
    [decision] = engine.process(scenes["obama"], 0.0)
    assert decision.worker_id is None and decision.distance > 0.6


def test_a_still_photo_fails_blink_liveness(gallery, scenes):
    """A printed photo held up to the camera never blinks: decided, flagged not live, after the window."""
    engine = CameraFaceEngine(gallery, 0.5, input_order="rgb", liveness=True, liveness_window_s=0.5)
    decisions = []
    for i in range(12):
        decisions += [(i, d) for d in engine.process(scenes["obama"], i / 10)]
    assert [(i, d.worker_id, d.live) for i, d in decisions] == [(5, "obama", False)]


def test_open_eyes_measure_open_on_a_real_face(photos):
    from sitegate.drivers.camera_face.encode import FaceEncoder
    from sitegate.drivers.camera_face.liveness import MAX_OPEN_EAR, MIN_OPEN_EAR, eye_aspect_ratio

    for name in ("obama.jpg", "biden.jpg", "knn_examples/train/rose_leslie/img2.jpg"):
        photo = photos[name]
        [(left, right)] = FaceEncoder.eyes(photo.rgb, [photo.faces[0].box])
        assert MIN_OPEN_EAR < eye_aspect_ratio(left) < MAX_OPEN_EAR, name
        assert MIN_OPEN_EAR < eye_aspect_ratio(right) < MAX_OPEN_EAR, name


@pytest.mark.parametrize(
    "frame, t, words",
    [
        (np.zeros((10, 10, 3), np.uint8), 0.0, "too small"),
        (np.zeros((480, 640), np.uint8), 0.0, "H×W×3"),
        (np.zeros((480, 640, 3), np.float32), 0.0, "uint8"),
        ("not an image", 0.0, "numpy array"),
        (np.zeros((480, 640, 3), np.uint8), float("nan"), "finite"),
        (np.zeros((480, 640, 3), np.uint8), "0", "finite"),
    ],
)
def test_bad_frames_are_refused_counted_and_lose_nothing(gallery, scenes, frame, t, words):
    engine = CameraFaceEngine(gallery, 0.5, input_order="rgb")
    with pytest.raises(FaceInputError, match=words):
        engine.process(frame, t)
    assert engine.counters["bad_frames"] == 1
    assert [d.worker_id for d in engine.process(scenes["obama"], 1.0)] == ["obama"]


def test_worker_id_numbers_are_masked_in_the_log(train_encodings, scenes, caplog):
    import logging

    from sitegate.drivers.camera_face import Gallery

    gallery = Gallery()
    gallery.add("370102198511200011", np.stack(train_encodings["obama"]))
    caplog.set_level(logging.DEBUG, logger="sitegate.drivers.camera_face")
    [decision] = CameraFaceEngine(gallery, 0.5, input_order="rgb").process(scenes["obama"], 0.0)
    assert decision.worker_id == "370102198511200011"
    assert "370102198511200011" not in caplog.text and "370102********0011" in caplog.text
