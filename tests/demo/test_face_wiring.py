"""Enrolled faces reach the devices through the gateway (issue 7, problem 1): the daemon hands
every driver the site's face store as ``ctx.faces``; the Hikvision driver uploads the enrolment
photos of admitted workers to the terminal's face library from it. Real daemon, real terminal
simulator over HTTP on 127.0.0.1, real encrypted store.
"""
from __future__ import annotations

import io
import time

import numpy as np
from PIL import Image

from sitegate.buffer import Roster, Store
from sitegate.buffer.faces import FaceStore
from sitegate.buffer.roster import Worker
from sitegate.config import load
from sitegate.daemon.runtime import Runtime
from sitegate.drivers.hik_isapi.simulator import HikTerminalSim
from sitegate.secrets import write_secret

from tests.conftest import make_id

CONFIG = """[site]
project_code = "370102202300001"
gateway_id   = "gw-test"
data_dir     = "{data_dir}"

[uplink]
enabled = false

[http]
listen = "127.0.0.1:0"

[[devices]]
id        = "west-face-hik"
driver    = "hik-isapi"
direction = "device"
host      = "{host}"
password_file = "{password_file}"
listen    = "127.0.0.1:0"
"""


def small_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 160), (180, 150, 130)).save(out, format="JPEG", quality=80)
    return out.getvalue()


def wait_until(condition, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {timeout:.0f} s"
        time.sleep(0.05)


def test_the_daemon_gives_drivers_the_face_store_and_the_hik_terminal_gets_the_enrolled_photos(tmp_path):
    enrolled, not_enrolled, left = make_id(11), make_id(12), make_id(13)
    write_secret(tmp_path / "hik-password", "secret")
    sim = HikTerminalSim("admin", "secret", port=0).start()
    try:
        (tmp_path / "sitegate.toml").write_text(CONFIG.format(
            data_dir=tmp_path / "data", host=sim.base_url, password_file=tmp_path / "hik-password"), encoding="utf-8")
        cfg = load(tmp_path / "sitegate.toml")
        photo = small_jpeg()
        with Store.from_config(cfg) as store:
            Roster(store).upsert_many([Worker(id_card_number=enrolled, name="张三"),
                                       Worker(id_card_number=not_enrolled, name="李四"),
                                       Worker(id_card_number=left, name="王五", status="left")])
            faces = FaceStore(store)
            faces.enrol(enrolled, np.full(128, 0.1), photo, "test")
            faces.enrol(left, np.full(128, 0.2), small_jpeg(), "test")     # left the project: not sent
            pins = {w.id_card_number: w.pin for w in Roster(store).all(include_left=True)}
        runtime = Runtime(cfg)
        runtime.start()
        try:
            wait_until(lambda: runtime.runners["west-face-hik"].ctx is not None, "driver context")
            ctx = runtime.runners["west-face-hik"].ctx
            assert isinstance(ctx.faces, FaceStore) and ctx.faces.count() == 2
            wait_until(lambda: sim.faces, "face uploaded to the terminal")
        finally:
            runtime.stop()
        assert sim.faces == {str(pins[enrolled]): photo}
        assert set(sim.users) == {str(pins[enrolled]), str(pins[not_enrolled])}
    finally:
        sim.stop()
