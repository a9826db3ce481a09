"""``sitegate receiver`` as a command and as its own process (stopped and killed by its pid)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import requests
from receiver_helpers import APPID, SECRET, resident_id

from sitegate.cli import main
from sitegate.uplink.national import NationalClient
from sitegate.uplink.national.codec import attendance_item, beijing_time

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "appsecret"
    path.write_text(SECRET + "\n")
    path.chmod(0o600)
    return path


def _args(secret_file, tmp_path, *extra):
    return ["receiver", "--appid", APPID, "--appsecret-file", str(secret_file),
            "--db", str(tmp_path / "rx.db"), *extra]


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_a_group_or_world_readable_secret_is_refused(secret_file, tmp_path, capsys, mode):
    secret_file.chmod(mode)
    assert main(_args(secret_file, tmp_path)) == 2
    err = capsys.readouterr().err
    assert "chmod 600" in err and SECRET not in err


@pytest.mark.parametrize("extra, problem", [
    (["--listen", "nohost"], "--listen"),
    (["--listen", "127.0.0.1:99999"], "--listen"),
    (["--error-rate", "2"], "error_rate"),
    (["--latency-ms", "-5"], "latency_ms"),
    (["--async-delay-s", "-1"], "--async-delay-s"),
    (["--db", "/nonexistent/dir/rx.db"], "--db"),
])
def test_bad_flags_exit_2_naming_the_flag(secret_file, tmp_path, capsys, extra, problem):
    assert main(_args(secret_file, tmp_path) + extra) == 2
    assert problem in capsys.readouterr().err


def test_a_short_secret_is_refused(secret_file, tmp_path, capsys):
    secret_file.write_text("tooshort")
    assert main(_args(secret_file, tmp_path)) == 2
    assert "32 bytes" in capsys.readouterr().err


def test_a_missing_roster_is_refused(secret_file, tmp_path, capsys):
    assert main(_args(secret_file, tmp_path, "--roster", str(tmp_path / "none.csv"))) == 2
    assert "roster" in capsys.readouterr().err


def _spawn(secret_file, tmp_path, *extra):
    proc = subprocess.Popen(
        [sys.executable, "-m", "sitegate.receiver", *_args(secret_file, tmp_path, *extra)[1:]],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        raise AssertionError(f"receiver did not start: {line!r} {proc.stderr.read()}")
    return proc, line.rsplit(" ", 1)[1].strip()


def _send_one(url, when=None):
    from datetime import datetime, timedelta, timezone

    when = when or datetime.now(timezone.utc) - timedelta(minutes=1)
    item = attendance_item(resident_id(1), beijing_time(when.replace(microsecond=0)), "01", "001", "东门")
    with NationalClient(url, APPID, SECRET) as client:
        return client.attendance_add("P001", 100, [item])


def test_runs_as_a_process_stops_on_sigterm_and_keeps_records_after_sigkill(secret_file, tmp_path):
    from datetime import datetime, timedelta, timezone

    # one fixed time for both sends: the same record twice must be the same bytes, whatever second it is
    when = datetime.now(timezone.utc) - timedelta(minutes=1)
    proc, url = _spawn(secret_file, tmp_path, "--reject-id-card", resident_id(9))
    try:
        assert url.startswith("http://127.0.0.1:") and url.endswith("/open.api")
        assert _send_one(url, when)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    proc, url = _spawn(secret_file, tmp_path)
    try:
        _send_one(url, when)  # the same record again
        os.kill(proc.pid, signal.SIGKILL)  # no clean shutdown: what was answered must be on disk
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    proc, url = _spawn(secret_file, tmp_path)
    try:
        stats = requests.get(url.replace("/open.api", "/stats"), timeout=5).json()
        assert stats["records"] == 1 and stats["duplicates"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
