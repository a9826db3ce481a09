"""``sitegate sim wg`` as a separate process, driven over UDP like a real controller."""
from __future__ import annotations

import re
import select
import socket
import subprocess
import sys

import pytest

from sitegate.drivers.wg_udp.client import WgClient
from sitegate.drivers.wg_udp.push import PushListener

WAIT = 30.0
SERIAL = 423000123


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sitegate", "sim", "wg", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def bound_address(proc: subprocess.Popen) -> tuple[str, int]:
    ready, _, _ = select.select([proc.stdout], [], [], WAIT)
    assert ready, "simulator printed nothing"
    line = proc.stdout.readline()
    match = re.search(r"serial (\d+) on (127\.0\.0\.1):(\d+)", line)
    assert match, line
    return match.group(2), int(match.group(3))


def stop(proc: subprocess.Popen) -> int:
    proc.terminate()
    try:
        return proc.wait(timeout=WAIT)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_periodic_swipes_pushed_and_downloadable():
    with PushListener() as listener:
        host, port = listener.address
        proc = start("--listen", "127.0.0.1:0", "--serial", str(SERIAL), "--allow", "1001", "--swipe", "1001",
                     "--swipe", "2002", "--swipe-every", "0.1", "--push", f"{host}:{port}")
        try:
            address = bound_address(proc)
            first = listener.poll_once(WAIT)
            second = listener.poll_once(WAIT)
            assert (first.record.card, first.record.granted) == (1001, True)
            assert (second.record.card, second.record.granted, second.record.reason) == (2002, False, 6)
            with WgClient(*address, serial=SERIAL, timeout=2.0) as client:
                records = list(client.download_records())
                assert [r.index for r in records[:2]] == [1, 2]
                assert client.get_read_index() == records[-1].index
        finally:
            assert stop(proc) == 0, proc.stderr.read()


def test_port_in_use_is_a_failure_with_a_message():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "sitegate", "sim", "wg", "--listen", f"127.0.0.1:{port}",
                               "--serial", str(SERIAL)], capture_output=True, text=True, timeout=WAIT)
    assert proc.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["--serial", "0"], "--serial 0 is not a controller serial number"),
    (["--serial", "1", "--listen", "nowhere"], "'nowhere' is not HOST:PORT"),
    (["--serial", "1", "--drop-rate", "-1"], "not between 0 and 1"),
    (["--serial", "1", "--capacity", "0"], "--capacity must be at least 1"),
    ([], "--serial"),
])
def test_bad_input_exits_2(args, message):
    proc = subprocess.run([sys.executable, "-m", "sitegate", "sim", "wg", "--listen", "127.0.0.1:0", *args],
                          capture_output=True, text=True, timeout=WAIT)
    assert proc.returncode == 2
    assert message in proc.stderr
