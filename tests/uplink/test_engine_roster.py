"""Roster download: ``sitegate roster sync`` and the engine's ``sync_roster()`` against the reference
platform's ProjectWorker.Query (paged, ID numbers encrypted)."""
from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import replace

import pytest
from engine_fixtures import receiver  # noqa: F401  (a pytest fixture)
from engine_helpers import (
    APPID, ROSTER, SECRET, TEAM_B, load_site, make_engine, open_store, resident_id, write_site,
)

from sitegate.buffer import Roster, Worker
from sitegate.receiver import Receiver, RosterWorker


def cli(*argv: str) -> tuple[int, str, str]:
    from sitegate.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def config(tmp_path, receiver):
    return write_site(tmp_path / "site", receiver.url)


def restart_with(receiver, roster, port: int | None = None) -> Receiver:
    """The platform's roster changed: the same address now serves ``roster``."""
    port = port or receiver.port
    receiver.stop()
    rx = Receiver(APPID, SECRET, receiver.db_path, port=port, roster=roster)
    rx.start()
    return rx


def test_sync_adds_changes_and_marks_left(receiver, config):
    code, out, _ = cli("roster", "sync", "-c", str(config), "--json")
    first = json.loads(out)
    assert code == 0 and (first["listed"], first["added"], first["removed"]) == (60, 60, 0)

    cfg = load_site(config)
    with open_store(cfg) as store:
        roster = Roster(store)
        w1 = roster.get(resident_id(1))
        assert (w1.name, w1.source, w1.card_no, w1.status) == ("工人1", "platform", "C0001", "active")
        roster.upsert_many([replace(roster.get(resident_id(3)), blacklisted=True, valid_to="2026-06-30")])
        roster.upsert_many([Worker("110101199003074514", "本地工人", team_sys_no=TEAM_B)])    # from a CSV

    changed = [replace(w, team_sys_no=TEAM_B, team_name="木工班") if w.id_card_number == resident_id(1) else w
               for w in ROSTER if w.id_card_number != resident_id(2)]
    changed.append(RosterWorker(resident_id(99), "新工人", TEAM_B))
    rx = restart_with(receiver, changed)
    try:
        code, out, _ = cli("roster", "sync", "-c", str(config))
    finally:
        rx.stop()
    assert code == 0
    assert "60 worker(s) on the platform roster: 1 added, 1 changed, 58 unchanged, 1 marked left" in out

    with open_store(cfg) as store:
        roster = Roster(store)
        assert roster.get(resident_id(1)).team_sys_no == TEAM_B
        assert roster.get(resident_id(2)).status == "left"
        assert roster.get(resident_id(99)).status == "active"
        w3 = roster.get(resident_id(3))
        assert w3.blacklisted and w3.valid_to == "2026-06-30"          # what only the site knows stays
        assert roster.get("110101199003074514").status == "active"      # not from the platform: kept
        assert store.query("SELECT count(*) FROM audit WHERE action = 'roster.sync'")[0][0] == 2


def test_a_worker_who_comes_back_is_active_again(receiver, config):
    port = receiver.port
    assert cli("roster", "sync", "-c", str(config))[0] == 0
    rx = restart_with(receiver, [w for w in ROSTER if w.id_card_number != resident_id(5)])
    try:
        assert cli("roster", "sync", "-c", str(config))[0] == 0
    finally:
        rx.stop()
    rx = restart_with(rx, ROSTER, port)
    try:
        code, out, _ = cli("roster", "sync", "-c", str(config), "--json")
    finally:
        rx.stop()
    assert json.loads(out)["changed"] == 1
    with open_store(load_site(config)) as store:
        assert Roster(store).get(resident_id(5)).status == "active"


def test_unreadable_rows_or_an_empty_roster_never_mark_anyone_left(receiver, config):
    port = receiver.port
    assert cli("roster", "sync", "-c", str(config))[0] == 0
    broken = [replace(w, extra={"idCardNumber": "not-base64!"}) if w.id_card_number == resident_id(7) else w
              for w in ROSTER if w.id_card_number != resident_id(8)]
    rx = restart_with(receiver, broken)
    try:
        code, out, _ = cli("roster", "sync", "-c", str(config), "--json")
    finally:
        rx.stop()
    report = json.loads(out)
    assert code == 0 and report["skipped"] == 1 and report["removed"] == 0
    assert "NOT marked left" in report["removal_held"]
    rx = restart_with(rx, [], port)
    try:
        report = json.loads(cli("roster", "sync", "-c", str(config), "--json")[1])
    finally:
        rx.stop()
    assert report["removed"] == 0 and "listed nobody" in report["removal_held"]
    with open_store(load_site(config)) as store:
        assert Roster(store).count() == 60


def test_sync_errors_exit_1_with_the_platform_message(receiver, tmp_path):
    from engine_helpers import WRONG_SECRET

    config = write_site(tmp_path / "bad", receiver.url, secret=WRONG_SECRET)
    code, _out, err = cli("roster", "sync", "-c", str(config))
    assert code == 1 and "-2" in err


def test_the_daemon_path_sync_roster_uses_a_client_of_its_own(receiver, config):
    cfg = load_site(config)
    with open_store(cfg) as store:
        engine = make_engine(cfg, store)
        seen = []
        report = engine.sync_roster(progress=seen.append)
        engine.close()
        assert (report.added, len(seen)) == (60, 60) and Roster(store).count() == 60


def test_a_lost_page_is_fetched_again_but_a_configuration_fault_is_not(receiver):
    from engine_helpers import PROJECT, WRONG_SECRET

    from sitegate.uplink.national import NationalClient, PlatformError
    from sitegate.uplink.national.roster_sync import _download

    receiver.set_faults(drop_rate=1.0)
    pauses: list[float] = []

    def pause(seconds: float) -> None:          # the platform recovers while we wait
        pauses.append(seconds)
        receiver.set_faults(drop_rate=0.0)

    with NationalClient(receiver.url, APPID, SECRET, timeout=(2.0, 5.0)) as client:
        rows = _download(client, PROJECT, 50, None, sleep=pause)
    assert len(rows) == 60 and pauses == [1.0]
    with NationalClient(receiver.url, APPID, WRONG_SECRET, timeout=(2.0, 5.0)) as client:
        with pytest.raises(PlatformError) as info:
            _download(client, PROJECT, 50, None, sleep=pause)
    assert info.value.code == -2 and pauses == [1.0]
