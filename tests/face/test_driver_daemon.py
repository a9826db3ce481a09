"""The camera-face driver inside the daemon: a missing face stack leaves the rest running, the vendor
conformance run (`sitegate drivers test`) passes against a video source, the keys are validated."""
from __future__ import annotations

import json
import os
import threading
import time

import pytest

from .conftest import CLIP

CAMERA = """
[[devices]]
id = "north-camera"
driver = "camera-face"
lane = "北门摄像头"
direction = "in"
source = "{source}"
{more}
"""


def wait_for(condition, what: str, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def steady_driver(monkeypatch):
    """A second lane: the supervisor tests' steady card reader (a card every 50 ms)."""
    from sitegate.drivers import registry

    monkeypatch.setitem(registry.BUILTIN, "test-steady", "tests.daemon.bad_drivers:SteadyDriver")
    registry.refresh()
    yield "test-steady"
    registry.refresh()


def test_a_missing_face_stack_is_down_with_the_fix_and_the_daemon_runs_on(site, steady_driver, monkeypatch, faces_dir):
    import requests

    from sitegate.config import load
    from sitegate.daemon.runtime import Runtime
    from sitegate.drivers.camera_face import INSTALL_HINT, FaceStackMissing, _stack

    def missing() -> None:   # what _stack raises when dlib is not installed (see test_face_import.py)
        raise FaceStackMissing(f"the face engine needs dlib (No module named 'dlib'); {INSTALL_HINT}")

    monkeypatch.setattr(_stack, "require_face_stack", missing)
    site.write_config('[http]\nlisten = "127.0.0.1:0"\n' + CAMERA.format(source=faces_dir / CLIP, more="")
                      + '\n[[devices]]\nid = "east-reader"\ndriver = "test-steady"\ndirection = "in"\n')
    runtime = Runtime(load(str(site.config)), config_path=str(site.config))
    runtime.start()
    loop = threading.Thread(target=runtime.loop, name="main-loop", daemon=True)
    loop.start()
    try:
        camera = runtime.runners["north-camera"]
        wait_for(lambda: camera.restarts >= 2, "two restarts of the camera with backoff")
        health = {d["id"]: d for d in runtime.devices()}
        assert health["north-camera"]["state"] == "down"
        reason = health["north-camera"]["reason"]
        assert "dlib" in reason and "pip install 'sitegate[face]'" in reason
        assert health["east-reader"]["state"] == "up"
        before = runtime.store.count_events()
        wait_for(lambda: runtime.store.count_events() > before + 5, "the other lane's events")
        assert runtime.healthy()
        answer = requests.get(f"{runtime.url}healthz", timeout=10)
        assert answer.status_code == 200 and answer.json() == {"ok": True}
    finally:
        runtime.stop_event.set()
        loop.join(10)
        runtime.stop()
    assert not loop.is_alive()


def test_conformance_run_passes_against_a_video_source(site, faces_dir, face_stack):
    site.write_config(CAMERA.format(source=faces_dir / CLIP, more="min_face_px = 80"))
    code, out, err = site.cli("drivers", "test", "north-camera", "-c", str(site.config), "--no-prompt",
                              "--timeout", "60", "--json")
    steps = {s["name"]: s for s in json.loads(out)}
    assert code == 0, out + err
    assert all(s["passed"] for s in steps.values())
    assert steps["produces an observation"]["detail"].startswith("face track:") and \
        steps["produces an observation"]["detail"].endswith("via face")
    assert "restarted 1 time(s), up" in steps["survives disconnect and reconnects"]["detail"]


def test_the_drivers_keys_are_checked_and_shown(site, faces_dir):
    site.write_config(CAMERA.format(source=faces_dir / CLIP, more='liveness = "maybe"\ntolerance = 0.95\nloop = "yes"'))
    code, _, err = site.cli("config", "check", "-c", str(site.config))
    assert code == 2
    assert "devices[0].liveness: 'maybe' is not allowed (expected one of 'off', 'blink')" in err
    assert "devices[0].tolerance: 0.95 must be between 0.2 and 0.8" in err
    assert "devices[0].loop: has the wrong type str (expected true or false)" in err
    site.write_config(CAMERA.format(source=faces_dir / CLIP, more=""))
    assert site.cli("config", "check", "-c", str(site.config))[0] == 0
    code, out, _ = site.cli("drivers", "show", "camera-face", "--json")
    keys = json.loads(out)["keys"]
    assert keys["source"]["required"] and keys["tolerance"]["default"] == 0.5 and keys["min_face_px"]["default"] == 120
    assert keys["liveness"]["choices"] == ["off", "blink"] and keys["loop"]["default"] is False


def test_an_rtsp_password_comes_from_a_file_not_the_configuration(tmp_path):
    from sitegate.drivers.camera_face.driver import source_target
    from sitegate.errors import UsageError

    secret = tmp_path / "rtsp-password"
    secret.write_text("p@ss:w/rd\n")
    os.chmod(secret, 0o600)
    url = "rtsp://admin@127.0.0.1:554/Streaming/Channels/101"
    assert source_target({"source": url, "password_file": str(secret)}) == \
        "rtsp://admin:p%40ss%3Aw%2Frd@127.0.0.1:554/Streaming/Channels/101"
    assert source_target({"source": url}) == url and source_target({"source": "0"}) == "0"
    with pytest.raises(UsageError, match="needs a source URL with a user name"):
        source_target({"source": "rtsp://127.0.0.1/ch1", "password_file": str(secret)})
    os.chmod(secret, 0o644)
    with pytest.raises(UsageError, match="must be 0600"):
        source_target({"source": url, "password_file": str(secret)})
