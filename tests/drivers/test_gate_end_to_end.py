"""The gate as a site runs it: ``sitegate run`` as a real process with an ID-card reader on a
pseudo-terminal, one WG turnstile in online mode (the gateway decides) and one in controller mode
(it decides from the privileges the daemon keeps on it); the roster comes from ``sitegate roster
import`` and changes while the daemon runs."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from sitegate.drivers.ga467_serial.card import card_from_dict
from sitegate.drivers.ga467_serial.simulator import Ga467Simulator
from sitegate.drivers.wg_udp.simulator import WgSimulator
from tests.conftest import make_id
from tests.drivers.gate_fixtures import wait_for

REPO = Path(__file__).resolve().parents[2]
EAST, WEST = 223000123, 223000456
ZHANG, LI = make_id(31), make_id(32)


def write_roster(path: Path, li_blacklisted: bool) -> None:
    path.write_text("身份证号,姓名,班组编号,班组名称,卡号,黑名单\n"
                    f"{ZHANG},张三,100156750,钢筋班,1001,否\n"
                    f"{LI},李四,100156750,钢筋班,1002,{'是' if li_blacklisted else '否'}\n", encoding="utf-8")


def events(site) -> list[tuple]:
    conn = sqlite3.connect(site.data_dir / "sitegate.db")
    try:
        return conn.execute("SELECT device_id, lane, method, direction, outcome, deny_reason, source_key "
                            "FROM events ORDER BY seq").fetchall()
    finally:
        conn.close()


def privileges(sim: WgSimulator) -> set[int]:
    with sim._lock:
        return set(sim.controller.privileges)


@pytest.fixture
def gate_site(site, tmp_path):
    reader = Ga467Simulator(tmp_path / "ttyIDCARD", seed=1).start()
    east, west = WgSimulator(EAST).start(), WgSimulator(WEST).start()
    site.write_config(f"""
[http]
listen = "127.0.0.1:0"

[[devices]]
id = "east-idcard"
driver = "ga467-serial"
lane = "东门1号闸"
direction = "in"
port = "{reader.link}"
poll_interval = 0.1

[[devices]]
id = "east-turnstile"
driver = "wg-udp"
lane = "东门2号闸"
direction = "device"
host = "127.0.0.1"
port = {east.address[1]}
serial = {EAST}
mode = "online"
poll_interval = 0.5

[[devices]]
id = "west-turnstile"
driver = "wg-udp"
lane = "西门"
direction = "device"
host = "127.0.0.1"
port = {west.address[1]}
serial = {WEST}
mode = "controller"
poll_interval = 0.5
""")
    yield site, reader, east, west
    for sim in (reader, east, west):
        sim.stop()


@pytest.mark.slow
def test_a_site_day_through_the_daemon(gate_site, tmp_path):
    site, reader, east, west = gate_site
    roster_csv = tmp_path / "roster.csv"
    write_roster(roster_csv, li_blacklisted=False)
    code, out, err = site.cli("roster", "import", "-c", str(site.config), str(roster_csv))
    assert code == 0, out + err
    code, _, err = site.cli("config", "check", "-c", str(site.config))
    assert code == 0, err

    on_disk_at_open: list = []
    east.controller.on_open = lambda _opened: on_disk_at_open.append(events(site))
    proc = subprocess.Popen([sys.executable, "-m", "sitegate", "run", "-c", str(site.config)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # controller mode: the daemon puts the roster's cards on the west controller
        assert wait_for(lambda: privileges(west) == {1001, 1002}), proc.poll()
        # ID card at the east reader
        reader.present(card_from_dict({"name": "张三", "id_number": ZHANG, "valid_to": "长期"}))
        assert wait_for(lambda: len(events(site)) == 1)
        # online mode: the gateway decides, and opens only once the event is on disk (Li: Zhang's
        # own swipe here now would be the same passage as his ID card, one event, within 10 s)
        east.swipe(4242, direction="in")
        east.swipe(1002, direction="in")
        assert wait_for(lambda: len(east.opens) == 1)
        assert len(on_disk_at_open) == 1
        assert on_disk_at_open[0][-1][4:6] == ("admitted", None) and on_disk_at_open[0][-1][6].startswith(f"{EAST}:2:")
        # controller mode: the controller decides
        west.swipe(1001, direction="out")
        assert wait_for(lambda: len(events(site)) == 4)
        # Li is blacklisted while the daemon runs: his card leaves the west controller
        write_roster(roster_csv, li_blacklisted=True)
        code, out, err = site.cli("roster", "import", "-c", str(site.config), str(roster_csv))
        assert code == 0, out + err
        assert wait_for(lambda: privileges(west) == {1001})
        west.swipe(1002, direction="in")
        assert wait_for(lambda: len(events(site)) == 5)
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert [e[:6] for e in events(site)] == [
        ("east-idcard", "东门1号闸", "idcard", "in", "admitted", None),
        ("east-turnstile", "东门2号闸", "card", "in", "denied", "unknown"),
        ("east-turnstile", "东门2号闸", "card", "in", "admitted", None),
        ("west-turnstile", "西门", "card", "out", "admitted", None),
        ("west-turnstile", "西门", "card", "in", "denied", "device_denied"),
    ]
    assert [e[6].rsplit(":", 1)[0] for e in events(site)[1:]] == [f"{EAST}:1", f"{EAST}:2", f"{WEST}:1", f"{WEST}:2"]
    assert len(east.opens) == 1
    err = proc.stderr.read().decode()
    assert ZHANG not in err and LI not in err        # ID numbers never in the log


def test_bench_gate_runs_and_counts_every_swipe(tmp_path):
    """The benchmark's own bookkeeping (its speed is never asserted): every swipe opened, stored once."""
    import argparse

    from sitegate.bench import gate

    args = argparse.Namespace(swipes=40, lanes=2, workers=10, dir=str(tmp_path))
    figures = {f.name.split(" (")[0]: f for f in gate.run(args)}
    assert figures["swipes without an open within 5 s"].value == 0
    assert figures["events stored"].met
    assert figures["SAM frames parsed/s, 4 KiB reads"].baseline > 0
