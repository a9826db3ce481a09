"""The camera-face driver under the real gate: Store, RosterCache, GatePolicy and Pipeline as the daemon
wires them (gateway/daemon/runtime.py), fed by video files as the camera.

Videos: the public sample clip (a person nobody enrolled) and a gate video made here from
obama-720p.jpg (a few grey frames, the face moving slowly across, grey frames again).
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from sitegate.drivers.api import DriverContext, HealthState
from sitegate.model import DenyReason, Method, Outcome
from tests.conftest import make_id

from .conftest import CLIP

pytestmark = pytest.mark.face

OBAMA = make_id(21)
BIDEN = make_id(22)
DEVICE = {"id": "north-camera", "driver": "camera-face", "lane": "北门摄像头", "direction": "in"}


# ---- videos -----------------------------------------------------------------------------------
def write_video(path: Path, frames_rgb: list[np.ndarray], fps: float = 10.0) -> Path:
    import cv2

    h, w = frames_rgb[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert writer.isOpened(), "OpenCV cannot write MJPG video here"
    for rgb in frames_rgb:
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def gate_frames(faces_dir: Path) -> list[np.ndarray]:
    """A person walking slowly through a 720p gate camera's view: grey, 12 frames of face, grey."""
    import cv2

    from sitegate.drivers.camera_face import load_image

    rgb = load_image(faces_dir / "obama-720p.jpg")
    h, w = rgb.shape[:2]
    empty = np.full_like(rgb, 90)
    moving = [cv2.warpAffine(rgb, np.float32([[1, 0, 4 * i], [0, 1, i]]), (w, h), borderMode=cv2.BORDER_REPLICATE)
              for i in range(12)]
    return [empty] * 3 + moving + [empty] * 12   # > the tracker's 10 missed frames: the track ends


@pytest.fixture(scope="session")
def gate_video(tmp_path_factory, faces_dir, face_stack) -> Path:
    return write_video(tmp_path_factory.mktemp("video") / "gate.avi", gate_frames(faces_dir))


@pytest.fixture(scope="session")
def grey_video(tmp_path_factory, face_stack) -> Path:
    return write_video(tmp_path_factory.mktemp("video") / "grey.avi", [np.full((240, 320, 3), 90, np.uint8)] * 5)


# ---- the gate as the daemon builds it ------------------------------------------------------------
class Gate:
    def __init__(self, root: Path):
        from sitegate.buffer import Roster, Store, Worker
        from sitegate.buffer.faces import FaceStore
        from sitegate.pipeline import Pipeline
        from sitegate.policy import GatePolicy
        from sitegate.roster_cache import RosterCache

        self.store = Store.open(root / "data", uplinks=["national"])
        Roster(self.store).upsert_many([Worker(OBAMA, "张三", team_name="钢筋班"), Worker(BIDEN, "王强")])
        self.roster = RosterCache(self.store)
        self.policy = GatePolicy(self.roster)
        self.pipeline = Pipeline(self.store, self.policy, devices={DEVICE["id"]: DEVICE})
        self.faces = FaceStore(self.store)
        self.observations: list = []
        self.on_emit = None        # called with each observation before it is recorded (driver thread)

    def emit(self, obs):
        self.observations.append(obs)
        if self.on_emit is not None:
            self.on_emit(obs)
        return self.pipeline.emit(obs)

    def events(self):
        return self.store.events()

    @contextmanager
    def camera(self, tune: dict | None = None, **options):
        """The driver running in its own thread, as the supervisor runs it; closed on exit.
        ``tune``: class settings (NO_FRAMES_S, …) overridden on this instance before it starts."""
        from sitegate.drivers.camera_face.driver import CameraFaceDriver

        ctx = DriverContext(device_id=DEVICE["id"], lane=DEVICE["lane"], direction="in",
                            options={**DEVICE, "min_face_px": 120, **options}, emit=self.emit,
                            state_get=self.store.kv_get, state_set=self.store.kv_set, roster=self.roster.admitted)
        ctx.faces = self.faces     # what the gateway hands the driver: the encrypted face store
        driver = CameraFaceDriver(ctx)
        for name, value in (tune or {}).items():
            setattr(driver, name, value)
        stop = threading.Event()
        result: dict = {}

        def run():
            try:
                driver.run(stop)
            except Exception as exc:  # noqa: BLE001 - recorded for the test to look at
                result["error"] = exc

        thread = threading.Thread(target=run, name="camera-under-test", daemon=True)
        driver.thread, driver.result = thread, result
        thread.start()
        try:
            yield driver
        finally:
            driver.close()
            thread.join(30)
            assert not thread.is_alive(), "the driver did not end after close()"


@pytest.fixture
def gate(tmp_path):
    g = Gate(tmp_path)
    yield g
    g.store.close()


def wait_for(condition, what: str, limit: float = 120.0) -> None:
    """Poll until ``condition()``: a guard against a hang, not a speed test."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.02)


def at_end_of_file(driver) -> bool:
    return driver.health.reason == "end of file"


# ---- tests ----------------------------------------------------------------------------------------
def test_a_stranger_passing_is_one_denied_unknown_event_with_a_photo(gate, faces_dir, train_encodings):
    for person, idn in (("obama", OBAMA), ("biden", BIDEN)):
        gate.faces.enrol(idn, train_encodings[person][0], None, "test")
    with gate.camera(source=str(faces_dir / CLIP), min_face_px=80, realtime=False) as driver:
        wait_for(lambda: at_end_of_file(driver), "the end of the clip")
        assert driver.health.state == HealthState.DEGRADED and driver.thread.is_alive()  # waits, does not end
    [event] = gate.events()
    assert event.decision.outcome == Outcome.DENIED and event.decision.reason == DenyReason.UNKNOWN
    assert event.method == Method.FACE and not event.worker.id_card_number
    assert event.source.device_id == "north-camera" and event.source.lane == "北门摄像头"
    assert event.extra["face_distance"] > 0.5
    assert gate.store.photo(event.photo_id)[:3] == b"\xff\xd8\xff"
    [obs] = gate.observations
    assert obs.credential.kind.value == "face" and obs.credential.value.startswith("track:")
    assert driver.counters["frames"] == 275 and driver.counters["unknown"] == 1
    assert driver.engine.counters["faces"] > 100     # seen on >100 frames, recorded once


def test_an_enrolled_worker_passing_is_admitted_once(gate, gate_video, train_encodings):
    gate.faces.enrol(OBAMA, train_encodings["obama"][1], None, "test")   # obama2.jpg, not the video's photo
    with gate.camera(source=str(gate_video), realtime=False) as driver:
        wait_for(lambda: at_end_of_file(driver), "the end of the gate video")
    [event] = gate.events()
    assert event.decision.outcome == Outcome.ADMITTED
    assert event.worker.id_card_number == OBAMA and event.worker.name == "张三"
    assert event.method == Method.FACE and event.direction.value == "in"
    assert event.extra["face_distance"] <= 0.5 and "liveness" not in event.extra
    assert gate.store.photo(event.photo_id)[:3] == b"\xff\xd8\xff"
    assert driver.result == {} and driver.protocol_errors == 0


def test_a_worker_enrolled_while_the_camera_runs_is_recognised(gate, gate_video, train_encodings):
    def enrol_after_the_first_stranger(obs):
        if obs.credential.kind.value == "face" and not gate.faces.has_face(OBAMA):
            gate.faces.enrol(OBAMA, train_encodings["obama"][1], None, "test")

    gate.on_emit = enrol_after_the_first_stranger
    with gate.camera({"GALLERY_CHECK_S": 0.0}, source=str(gate_video), realtime=False, loop=True) as driver:
        wait_for(lambda: any(e.decision.admitted for e in gate.events()), "an admitted passage")
    events = gate.events()
    assert events[0].decision.reason == DenyReason.UNKNOWN                      # before the enrolment
    assert [e.worker.id_card_number for e in events if e.decision.admitted] == [OBAMA]
    assert driver.counters["gallery_reloads"] >= 1


def test_a_still_photo_fails_blink_liveness_and_the_event_says_so(gate, gate_video, train_encodings):
    gate.faces.enrol(OBAMA, train_encodings["obama"][1], None, "test")
    with gate.camera(source=str(gate_video), realtime=False, liveness="blink") as driver:
        wait_for(lambda: at_end_of_file(driver), "the end of the gate video")
    [event] = gate.events()
    assert event.worker.id_card_number == OBAMA and event.extra["liveness"] == "failed"
    assert driver.counters["liveness_failed"] == 1


def test_a_missing_file_is_down_with_the_reason(gate, tmp_path):
    from sitegate.drivers.camera_face import CaptureError

    with gate.camera(source=str(tmp_path / "gone.mp4")) as driver:
        wait_for(lambda: not driver.thread.is_alive(), "the driver to give up")
    assert isinstance(driver.result["error"], CaptureError)
    assert driver.health.state == HealthState.DOWN and "video file not found" in driver.health.reason


def test_no_frames_is_degraded_and_the_capture_comes_back(gate, grey_video, tmp_path):
    import shutil

    path = tmp_path / "camera.avi"
    shutil.copy(grey_video, path)
    tune = {"NO_FRAMES_S": 0.3, "BACKOFF_INITIAL_S": 0.05, "BACKOFF_MAX_S": 0.2}
    with gate.camera(tune, source=str(path), realtime=False, loop=True) as driver:
        wait_for(lambda: driver.health.state == HealthState.UP, "the first frames")
        path.unlink()                  # the camera goes away: the next loop cannot reopen it
        wait_for(lambda: driver.health.state == HealthState.DEGRADED, "health DEGRADED")
        assert driver.health.reason.startswith("no frames for ")
        frames = driver.counters["frames"]
        shutil.copy(grey_video, path)  # back
        wait_for(lambda: driver.counters["frames"] > frames and driver.health.state == HealthState.UP,
                 "frames again")
        assert driver.source.reconnects >= 1 and driver.source.failures >= 1


def test_probe_reads_one_frame_or_says_what_is_wrong(faces_dir, tmp_path, monkeypatch):
    from sitegate.drivers.camera_face import FaceStackMissing, _stack
    from sitegate.drivers.camera_face.driver import CameraFaceDriver

    assert CameraFaceDriver.probe({"source": str(faces_dir / CLIP)}) is None
    assert "video file not found" in CameraFaceDriver.probe({"source": str(tmp_path / "none.mp4")})

    def missing():
        raise FaceStackMissing("the face engine needs dlib (No module named 'dlib'); " + _stack.INSTALL_HINT)

    monkeypatch.setattr(_stack, "require_face_stack", missing)
    assert "pip install 'sitegate[face]'" in CameraFaceDriver.probe({"source": str(faces_dir / CLIP)})


def test_a_failed_record_is_counted_and_the_camera_keeps_watching(gate, gate_video, train_encodings):
    from sitegate.errors import StoreFull

    gate.faces.enrol(OBAMA, train_encodings["obama"][1], None, "test")
    failures = []

    def disk_full_once(obs):
        if not failures:
            failures.append(obs)
            raise StoreFull("only 3 MB free (test)")

    gate.on_emit = disk_full_once
    with gate.camera(source=str(gate_video), realtime=False, loop=True) as driver:
        wait_for(lambda: gate.events(), "the next passage to be recorded")
        assert driver.counters["emit_failures"] == 1 and driver.thread.is_alive()
    [event] = gate.events()
    assert event.worker.id_card_number == OBAMA and len(failures) == 1
