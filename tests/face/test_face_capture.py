"""Video capture through OpenCV: files as camera simulators, reconnect with capped backoff, stop."""
from __future__ import annotations

import logging
import shutil
import socket
import threading
import time

import pytest

from sitegate.drivers.camera_face import CaptureError, FrameSource
from sitegate.drivers.camera_face.capture import describe_source

from .conftest import CLIP

pytestmark = pytest.mark.face


@pytest.fixture(scope="module")
def clip(faces_dir):
    pytest.importorskip("cv2", reason="opencv-python-headless (the face extra) is not installed")
    return faces_dir / CLIP


def wait_for(condition, what: str, limit: float = 30.0) -> None:
    """Poll until ``condition()``; fail naming ``what`` if it never happens (a hang, not a speed test)."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.01)


def read_in_thread(source: FrameSource, stop: threading.Event):
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("frame", source.read(stop)), daemon=True)
    thread.start()
    return thread, result


def test_describe_source():
    assert describe_source(0) == ("device", 0)
    assert describe_source(" 2") == ("device", 2)
    assert describe_source("rtsp://127.0.0.1:554/ch1") == ("stream", "rtsp://127.0.0.1:554/ch1")
    assert describe_source("gate.mp4") == ("file", "gate.mp4")


def test_a_missing_file_is_a_clear_error(tmp_path, clip):
    with pytest.raises(CaptureError, match="video file not found: .*nothing.mp4"):
        FrameSource(tmp_path / "nothing.mp4", realtime=False).read()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 1000)
    with pytest.raises(CaptureError, match="cannot open"):
        FrameSource(bad, realtime=False).read()


def test_a_file_played_fast_yields_every_frame_with_its_media_time(clip):
    with FrameSource(clip, realtime=False) as source:
        frames = []
        while (frame := source.read()) is not None:
            frames.append((frame.index, frame.t, frame.image.shape))
        assert source.read() is None  # stays at the end
    assert len(frames) == 275 and source.fps == pytest.approx(29.97, abs=0.01)
    assert [i for i, _, _ in frames] == list(range(275))
    assert frames[100][1] == pytest.approx(100 / 29.97)
    assert {shape for _, _, shape in frames} == {(360, 640, 3)}


def test_frames_can_be_scaled_to_a_camera_resolution(clip):
    with FrameSource(clip, realtime=False, resize_to=(1280, 720)) as source:
        assert source.read().image.shape == (720, 1280, 3)


def test_a_file_played_at_its_rate_skips_what_a_slow_consumer_missed(clip):
    with FrameSource(clip, realtime=True) as source:
        first = source.read()
        time.sleep(0.3)  # busy for ~9 frame periods: a camera would have dropped those frames
        second = source.read()
    assert second.index - first.index >= 5 and source.skipped >= 4
    assert second.t - first.t == pytest.approx((second.index - first.index) / source.fps)


def test_a_lost_source_reconnects_with_capped_backoff(tmp_path, clip, caplog):
    path = tmp_path / "camera.mp4"
    source = FrameSource(path, realtime=False, reconnect=True, backoff_initial_s=0.02, backoff_max_s=0.1)
    stop = threading.Event()
    caplog.set_level(logging.INFO, logger="sitegate.drivers.camera_face.capture")
    thread, result = read_in_thread(source, stop)
    try:
        wait_for(lambda: source.failures >= 4, "four failed opens")
        assert source.backoff_s == 0.1  # 0.02 doubled, capped at 0.1
        shutil.copy(clip, tmp_path / "part")
        (tmp_path / "part").replace(path)  # the camera comes back
        thread.join(30)
        assert not thread.is_alive()
    finally:
        stop.set()
        source.close()
    assert result["frame"] is not None and result["frame"].index == 0
    assert source.reconnects == 1 and source.backoff_s == 0.02  # reset after a frame was read
    messages = [r.getMessage() for r in caplog.records]
    assert sum(" lost (" in m for m in messages) == 1 and sum(m.endswith(" back") for m in messages) == 1


def test_a_reconnecting_file_plays_in_a_loop_without_alarms(clip, caplog):
    caplog.set_level(logging.INFO, logger="sitegate.drivers.camera_face.capture")
    with FrameSource(clip, realtime=False, reconnect=True) as source:
        frames = [source.read() for _ in range(280)]
    assert [f.index for f in frames[274:]] == [274, 0, 1, 2, 3, 4] and source.loops == 1
    assert frames[275].t == pytest.approx(275 / source.fps)  # time keeps running across the loop
    assert source.failures == 0 and caplog.records == []


def test_stop_interrupts_a_long_backoff(tmp_path, clip):
    source = FrameSource(tmp_path / "never.mp4", reconnect=True, backoff_initial_s=60, backoff_max_s=60)
    stop = threading.Event()
    thread, result = read_in_thread(source, stop)
    wait_for(lambda: source.failures >= 1, "the first failed open")
    stop.set()
    thread.join(10)  # far less than the 60 s backoff: the sleep noticed the stop
    assert not thread.is_alive() and result["frame"] is None


def test_stream_credentials_stay_out_of_the_log(clip, caplog):
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"rtsp://admin:s3cret@127.0.0.1:{port}/ch1"
    source = FrameSource(url, timeout_s=2, backoff_initial_s=0.05, backoff_max_s=0.05)
    assert source.kind == "stream" and source.reconnect and "s3cret" not in repr(source)
    stop = threading.Event()
    caplog.set_level(logging.WARNING, logger="sitegate.drivers.camera_face.capture")
    thread, _ = read_in_thread(source, stop)
    wait_for(lambda: source.failures >= 2, "two failed connections")
    stop.set()
    thread.join(30)
    assert not thread.is_alive()
    assert "s3cret" not in caplog.text and f"rtsp://***@127.0.0.1:{port}/ch1" in caplog.text
