"""SIGKILL of a child process running the webhook uplink mid-upload, then a restart: every event ends
up exactly once in the receiver's de-duplicated store, none missing, and delivered in ours."""
from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from sitegate.buffer import Store
from sitegate.config import loads
from tests.conftest import make_id
from tests.foundation.helpers import event
from tests.uplink.webhook_receiver import Receiver, webhook_config_text

REPO = Path(__file__).resolve().parents[2]
SECRET = "crash-secret-0123456789"
EVENTS = 400
KILLS = 6


def delivered(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM deliveries WHERE uplink = 'webhook' AND state = 'delivered'").fetchone()[0]
    finally:
        conn.close()


def start_child(config: Path) -> subprocess.Popen:
    child = subprocess.Popen([sys.executable, "-m", "tests.uplink.webhook_child", str(config)], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout.readline() == b"up\n", child.stderr.read().decode()
    return child


def test_sigkill_mid_upload_then_restart_delivers_every_event_exactly_once(tmp_path):
    # each request waits a little after storing, so kills land between "received" and "marked delivered"
    receiver = Receiver(SECRET, delay_s=0.01).start()
    receiver.error_rate = 0.1
    receiver.error_kinds = ["500-after-storing", "503"]
    rng = random.Random(20261128)
    try:
        text = webhook_config_text(tmp_path, receiver.url, SECRET, batch_size=10, timeout_s=2.0)
        config = tmp_path / "sitegate.toml"
        config.write_text(text)
        cfg = loads(text, str(config))
        with Store.from_config(cfg) as store:
            ids = [store.append(event(make_id(i))) for i in range(EVENTS)]
        db = tmp_path / "data" / "sitegate.db"

        kills = 0
        while kills < KILLS:
            child = start_child(config)
            target = min(EVENTS, sum(receiver.receipts.values()) + rng.randint(20, 60))
            deadline = time.monotonic() + 60
            while sum(receiver.receipts.values()) < target and child.poll() is None and time.monotonic() < deadline:
                time.sleep(0.002)
            os.kill(child.pid, signal.SIGKILL)               # our own child, by pid
            child.communicate(timeout=30)
            kills += 1
            if delivered(db) == EVENTS:
                break

        child = start_child(config)                          # the last restart finishes the job
        try:
            deadline = time.monotonic() + 90
            while delivered(db) < EVENTS and time.monotonic() < deadline and child.poll() is None:
                time.sleep(0.05)
        finally:
            os.kill(child.pid, signal.SIGKILL)
            _out, err = child.communicate(timeout=30)
        assert delivered(db) == EVENTS, err.decode()[-2000:]
        assert set(receiver.records) == set(ids)            # none missing, none foreign
        assert len(receiver.records) == EVENTS               # exactly once in the de-duplicated store
        assert receiver.bad_signatures == 0
        assert kills >= 2
        # every POSTed batch was resumed under its own key after a kill, never rebuilt under a new one
        assert len(receiver.batch_keys) == EVENTS // 10
        assert all(len(hashes) == 1 for hashes in receiver.bodies.values())
    finally:
        receiver.stop()
