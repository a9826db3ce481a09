"""The sample clip fed as a camera: observations come out once per person, not once per frame."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from sitegate.drivers.camera_face import CameraFaceEngine, CameraRunner, FrameSource, check_enrolment_photo

from .conftest import CLIP
from .test_face_engine import paste_face

pytestmark = pytest.mark.face


def run_camera(source: FrameSource, engine: CameraFaceEngine, on_decision=None) -> tuple[CameraRunner, list]:
    decisions: list = []

    def collect(decision):
        decisions.append(decision)
        if on_decision is not None:
            on_decision(decision)

    runner = CameraRunner(source, engine, collect)
    runner.start()
    try:
        assert runner.join(300), "the camera loop did not reach the end of the file"
    finally:
        runner.stop()
    assert runner.error is None
    return runner, decisions


def test_an_unknown_person_on_camera_is_one_track_and_one_decision(faces_dir, gallery):
    import cv2

    engine = CameraFaceEngine(gallery, min_face_px=80)  # a stage video: smaller faces than at a gate
    runner, decisions = run_camera(FrameSource(faces_dir / CLIP, realtime=False), engine)
    assert runner.frames == 275 and runner.frame_errors == 0
    assert engine.counters["tracks"] == 1 and engine.counters["decisions"] == 1
    [decision] = decisions
    assert decision.worker_id is None and decision.distance > engine.tolerance
    # decided within the re-check window of the face's first appearance, not at the end of the clip
    assert decision.t_decided - decision.t_first_seen <= 15 / 29.97 + 1e-9
    photo = cv2.imdecode(np.frombuffer(decision.photo_jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert photo is not None and decision.box.side >= 80
    # a handful of encodings for 121 face detections: encode once per track (+ checks after gaps)
    assert engine.counters["faces"] > 100 and engine.counters["encodings"] <= 5


def test_an_enrolled_person_on_camera_is_recognised_once(faces_dir, gallery):
    """Enrolled from one sharp frame of the clip itself (the only photo of him in the data set)."""
    import cv2

    with FrameSource(faces_dir / CLIP, realtime=False) as source:
        frames = [source.read() for _ in range(191)]
    gallery.add("lin", check_enrolment_photo(cv2.cvtColor(frames[190].image, cv2.COLOR_BGR2RGB)).encoding)
    engine = CameraFaceEngine(gallery, min_face_px=80)
    _, decisions = run_camera(FrameSource(faces_dir / CLIP, realtime=False), engine)
    assert [d.worker_id for d in decisions] == ["lin"]
    assert decisions[0].distance <= engine.tolerance and decisions[0].encodings <= 3


def test_the_runner_survives_a_failing_consumer_and_a_stop(tmp_path, photos, gallery):
    """A short video written here (Obama, nobody, Biden) through a real file; the first callback fails."""
    import cv2

    obama, biden = photos["obama-480p.jpg"], photos["biden.jpg"]
    scenes = [obama.rgb] * 5 + [np.full_like(obama.rgb, 90)] * 3 + \
        [paste_face(obama.rgb, obama.faces[0].box, biden.rgb, biden.faces[0].box)] * 5
    path = tmp_path / "gate.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (853, 480))
    assert writer.isOpened()
    for rgb in scenes:
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()

    calls = []

    def flaky(decision):
        calls.append(decision.worker_id)
        if len(calls) == 1:
            raise RuntimeError("the consumer's own bug")

    runner, decisions = run_camera(FrameSource(path, realtime=False), CameraFaceEngine(gallery, 0.5), flaky)
    assert calls == ["obama", "biden"] and runner.callback_errors == 1 and runner.frames == 13

    # an endless source (a camera) ends by stop(), which also closes the source
    source = FrameSource(path, realtime=True, reconnect=True, backoff_initial_s=0.01)
    seen = threading.Event()
    runner = CameraRunner(source, CameraFaceEngine(gallery, 0.5), lambda d: None,
                          on_frame=lambda i, t: seen.set() if i >= 3 else None)
    runner.start()
    assert seen.wait(60), "no frames from the looping source"
    runner.stop()
    assert not runner.running and runner.error is None and not source.is_open
