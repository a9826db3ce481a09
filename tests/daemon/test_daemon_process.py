"""`sitegate run` as systemd runs it: a real process, a real pseudo-terminal reader, the notify
socket, SIGHUP and SIGTERM."""
import os
import pty
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def config(site, tty: str, lane: str = "east-1", extra_device: str = "") -> None:
    site.config.write_text(f"""[site]
project_code = "370102202300001"
gateway_id = "gw-test"
data_dir = "{site.data_dir}"

[uplink]
enabled = false

[http]
listen = "127.0.0.1:0"

[[devices]]
id = "east-reader"
driver = "wiegand-lines"
lane = "{lane}"
direction = "in"
port = "{tty}"
{extra_device}
""", encoding="utf-8")


def events(site) -> list[tuple]:
    conn = sqlite3.connect(site.data_dir / "sitegate.db")
    try:
        return conn.execute("SELECT outcome, lane, deny_reason FROM events ORDER BY seq").fetchall()
    finally:
        conn.close()


def wait_for(cond, timeout=15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def notify_socket(tmp_path):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.2)
    yield sock, str(path)
    sock.close()


def messages(sock) -> list[str]:
    out = []
    while True:
        try:
            out.append(sock.recv(4096).decode())
        except (socket.timeout, BlockingIOError):
            return out


@pytest.mark.slow
def test_daemon_records_reloads_and_stops_cleanly(site, example_driver, notify_socket):
    sock, sock_path = notify_socket
    master, slave = pty.openpty()
    tty = os.ttyname(slave)
    config(site, tty)
    env = {**os.environ, "NOTIFY_SOCKET": sock_path, "WATCHDOG_USEC": "400000", "WATCHDOG_PID": ""}
    proc = subprocess.Popen([sys.executable, "-m", "sitegate", "run", "-c", str(site.config)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    got: list[str] = []
    try:
        assert wait_for(lambda: got.extend(messages(sock)) or "READY=1" in got), \
            proc.stderr.read1().decode() if proc.poll() is not None else got
        assert wait_for(lambda: got.extend(messages(sock)) or "WATCHDOG=1" in got)
        assert any(m.startswith("STATUS=backlog") for m in got)

        os.write(master, b"3659533\n")             # an unknown card: a denied attempt, recorded
        assert wait_for(lambda: len(events(site)) == 1)
        assert events(site)[0] == ("denied", "east-1", "unknown")

        # SIGHUP with a broken file: refused, the old one keeps running
        good = site.config.read_text()
        site.config.write_text(good + "\nbogus_key = 1\n")
        os.kill(proc.pid, signal.SIGHUP)
        time.sleep(1.0)
        os.write(master, b"1234567\n")
        assert wait_for(lambda: len(events(site)) == 2)
        # SIGHUP with a changed lane: the device restarts with it
        config(site, tty, lane="east-2")
        os.kill(proc.pid, signal.SIGHUP)
        assert wait_for(lambda: got.extend(messages(sock)) or "RELOADING=1" in got)
        time.sleep(1.0)
        os.write(master, b"7654321\n")
        assert wait_for(lambda: len(events(site)) == 3)
        assert events(site)[2][1] == "east-2"

        started = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        assert time.monotonic() - started < 10
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)
        os.close(slave)
    err = proc.stderr.read().decode()
    assert "configuration reload refused" in err and "bogus_key" in err
    assert len(events(site)) == 3
