"""``sitegate sim ga467`` as a separate process: a vendor's or the demo's view of the simulator."""
from __future__ import annotations

import json
import os
import select
import subprocess
import sys

import pytest
import serial

from sitegate.cli import build_parser
from sitegate.drivers.ga467_serial.reader import Ga467Reader, ReaderError

WAIT = 30.0  # upper bound for a line from the child; only reached when something is broken


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sitegate", "sim", "ga467", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def next_line(proc: subprocess.Popen) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], WAIT)
    assert ready, "simulator printed nothing"
    return proc.stdout.readline()


def stop(proc: subprocess.Popen) -> int:
    proc.terminate()  # by its own process id
    try:
        return proc.wait(timeout=WAIT)
    finally:
        if proc.poll() is None:
            proc.kill()


def read_one_card(link: str) -> str:
    with serial.Serial(link, 115200) as port:
        reader = Ga467Reader(port, find_timeout=3, select_timeout=3, read_timeout=5)
        reader.initialise()
        for _ in range(200):
            try:
                card = reader.poll_once()
            except ReaderError:
                continue
            if card is not None:
                return card.id_number
    raise AssertionError("no card read")


def test_sim_command_lists_the_simulators():
    sub = next(a for a in build_parser()._subparsers._group_actions if a.dest == "command")
    sims = next(a for a in sub.choices["sim"]._subparsers._group_actions if a.dest == "sim")
    assert {"ga467", "wg"} <= set(sims.choices)


def test_card_from_command_line_is_read_and_sigterm_ends_cleanly(tmp_path, vectors):
    link = str(tmp_path / "ttyID")
    proc = start("--link", link, "--card", json.dumps(vectors["sam"]["read_reply"]["expect"], ensure_ascii=False))
    try:
        assert f"{link} -> /dev/pts/" in next_line(proc)
        assert read_one_card(link) == "37010219720124281X"
    finally:
        rc = stop(proc)
    assert rc == 0, proc.stderr.read()
    assert not os.path.lexists(link)


def test_cards_file_and_unplug(tmp_path, vectors):
    cards = tmp_path / "cards.json"
    cards.write_text(json.dumps([{**vectors["sam"]["read_reply"]["expect"], "present_for": 60}], ensure_ascii=False),
                     encoding="utf-8")
    link = str(tmp_path / "ttyID")
    proc = start("--link", link, "--cards", str(cards), "--unplug-after", "0.5", "--down-for", "0.5")
    try:
        assert "1 card(s)" in next_line(proc)
        assert "unplugged" in next_line(proc)
        assert "back on" in next_line(proc)
        assert read_one_card(link) == "37010219720124281X"
    finally:
        assert stop(proc) == 0


@pytest.mark.parametrize("args, message", [
    (["--card", '{"colour": "red"}'], "unknown card field(s): colour"),
    (["--card", "{not json"], "--card:1: not valid JSON"),
    (["--cards", "/nonexistent/cards.json"], "No such file"),
    (["--garbage-rate", "2"], "not between 0 and 1"),
])
def test_bad_input_exits_2_naming_the_problem(tmp_path, args, message):
    proc = subprocess.run([sys.executable, "-m", "sitegate", "sim", "ga467", "--link", str(tmp_path / "x"), *args],
                          capture_output=True, text=True, timeout=WAIT)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert not os.path.lexists(tmp_path / "x")
