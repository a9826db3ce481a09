"""Issue 7: long operations show a tqdm bar on stderr when it is a terminal, and nothing otherwise.

``sitegate roster import`` and ``sitegate roster sync`` run as real processes: once under a real
pseudo-terminal (pty.fork: stdin, stdout and stderr are the terminal), once with pipes.
"""
from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios

import pytest

from sitegate.demo.people import roster_csv, workers
from sitegate.secrets import write_secret

APPID = "PROGRESSAPP01"
SECRET = "prog0123456789abcdef0123456789AB"     # 32 characters, as the platform issues
# what tqdm draws: "import:  40%|████      | 480/1200 [00:00<00:00, 2400.00 worker/s]"
BAR = re.compile(rb"\d+%\|.*\| *\d+/\d+ \[")
SYNC_BAR = re.compile(rb"roster sync: \d+ worker")


def run_in_pty(argv: list[str], cwd) -> tuple[int, bytes]:
    """``python -m sitegate ARGV`` with a pseudo-terminal as its controlling terminal; all it wrote."""
    pid, fd = pty.fork()
    if pid == 0:                                   # the child: exec at once, nothing of pytest runs
        try:
            # a terminal window has a size (a fresh pty says 0x0, where tqdm draws nothing)
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
            os.chdir(cwd)
            os.execv(sys.executable, [sys.executable, "-m", "sitegate", *argv])
        finally:
            os._exit(127)
    chunks = []
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:                            # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks)


def run_piped(argv: list[str], cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sitegate", *argv], cwd=cwd, capture_output=True, timeout=120)


@pytest.fixture
def roster_file(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text(roster_csv(workers(1200, seed=7)), encoding="utf-8")
    return path


def test_roster_import_shows_a_bar_on_a_terminal(site, roster_file):
    code, out = run_in_pty(["roster", "import", "-c", str(site.config), str(roster_file)], site.root)
    assert code == 0, out.decode(errors="replace")
    assert BAR.search(out), out.decode(errors="replace")
    assert b"import:" in out
    assert b"imported 1200 worker(s)" in out


def test_roster_import_piped_shows_no_bar(site, roster_file):
    done = run_piped(["roster", "import", "-c", str(site.config), str(roster_file)], site.root)
    assert done.returncode == 0, done.stderr
    assert b"imported 1200 worker(s)" in done.stdout
    assert not BAR.search(done.stderr) and not BAR.search(done.stdout)
    assert b"\r" not in done.stderr and b"import:" not in done.stderr


def test_roster_import_in_chunks_counts_every_row(site, roster_file):
    """The bar needs the import split into transactions; the counts must still add up."""
    import json

    done = run_piped(["roster", "import", "-c", str(site.config), str(roster_file), "--json"], site.root)
    assert json.loads(done.stdout)["added"] == 1200
    again = run_piped(["roster", "import", "-c", str(site.config), str(roster_file), "--json"], site.root)
    assert json.loads(again.stdout)["unchanged"] == 1200
    from sitegate.buffer import Roster

    with site.store() as store:
        pins = [w.pin for w in Roster(store).all()]
    assert len(pins) == len(set(pins)) == 1200       # PINs stay unique across chunks


@pytest.fixture
def platform(tmp_path):
    from sitegate.receiver import Receiver, parse_roster

    rx = Receiver(APPID, SECRET, str(tmp_path / "platform.db"),
                  roster=parse_roster(roster_csv(workers(300, seed=11)), "roster.csv"))
    rx.start()
    yield rx
    rx.stop()


@pytest.fixture
def sync_site(site, platform):
    write_secret(site.root / "appsecret", SECRET)
    site.config.write_text(f"""[site]
project_code = "370102202300001"
gateway_id = "gw-test"
data_dir = "{site.data_dir}"

[uplink]
profile = "national"
url = "{platform.url}"
appid = "{APPID}"
appsecret_file = "{site.root / 'appsecret'}"
default_team = 100156750
""", encoding="utf-8")
    return site


def test_roster_sync_shows_a_bar_on_a_terminal(sync_site):
    code, out = run_in_pty(["roster", "sync", "-c", str(sync_site.config)], sync_site.root)
    assert code == 0, out.decode(errors="replace")
    assert SYNC_BAR.search(out), out.decode(errors="replace")


def test_roster_sync_piped_shows_no_bar(sync_site):
    done = run_piped(["roster", "sync", "-c", str(sync_site.config)], sync_site.root)
    assert done.returncode == 0, done.stderr
    assert b"300" in done.stdout                    # the summary names the workers downloaded
    assert not SYNC_BAR.search(done.stderr) and b"\r" not in done.stderr
