"""The national engine against the real reference platform over loopback HTTP: what it sends, in
which batches, and that every admitted event arrives exactly once."""
from __future__ import annotations

import random
import sqlite3
from datetime import timedelta

from engine_fixtures import engine, receiver, site_cfg, store  # noqa: F401  (pytest fixtures)
from engine_helpers import (
    PROJECT, TEAM_A, TEAM_B, EVENT_BASE, drain, event, natural_key, received_keys, resident_id, states,
)

from sitegate.buffer import Roster, Worker, release_held
from sitegate.clock import BEIJING, Stamp
from sitegate.model import Direction, Location, Method


def receiver_batches(receiver) -> list[dict]:
    """The platform's own view: each call it got (in arrival order) with its team and records."""
    conn = sqlite3.connect(receiver.db_path)
    conn.row_factory = sqlite3.Row
    try:
        calls = conn.execute("SELECT serial, team_sys_no, items FROM batches ORDER BY rowid").fetchall()
        out = []
        for c in calls:
            rows = conn.execute("SELECT date, team_sys_no FROM records WHERE serial = ?", (c["serial"],)).fetchall()
            out.append({"team": c["team_sys_no"], "items": c["items"], "dates": sorted(r["date"] for r in rows),
                        "record_teams": {r["team_sys_no"] for r in rows}})
        return out
    finally:
        conn.close()


def test_every_admitted_event_arrives_once_in_batches_of_one_team_at_most_20(receiver, engine, store):
    events = [event(i % 60 + 1, i, team=TEAM_A if i % 3 else TEAM_B) for i in range(70)]
    for ev in events:
        store.append(ev)
    drain(engine, store)

    assert sorted(received_keys(receiver)) == sorted(natural_key(ev) for ev in events)
    assert receiver.duplicates() == {}
    assert states(store) == {"delivered": 70}
    calls = receiver_batches(receiver)
    assert all(1 <= c["items"] <= 20 for c in calls)
    assert all(c["record_teams"] == {c["team"]} for c in calls)          # one teamSysNo per call
    assert {c["team"] for c in calls} == {TEAM_A, TEAM_B}                # two teams -> separate calls
    assert sorted(c["items"] for c in calls) == [4, 6, 20, 20, 20]       # 46 of A, 24 of B
    assert engine.status.state == "ok" and engine.counters["delivered"] == 70


def test_batch_size_from_the_configuration_is_respected(receiver, tmp_path):
    from engine_helpers import load_site, make_engine, open_store, write_site

    cfg = load_site(write_site(tmp_path / "small", receiver.url, extra="batch_size = 7"))
    with open_store(cfg) as store:
        for i in range(15):
            store.append(event(i + 1, i))
        engine = make_engine(cfg, store)
        drain(engine, store)
        engine.close()
    assert [c["items"] for c in receiver_batches(receiver)] == [7, 7, 1]


def test_oldest_records_go_first(receiver, engine, store):
    order = list(range(45))
    random.Random(5).shuffle(order)
    for seq in order:                                   # stored in random order of their times
        store.append(event(seq + 1, seq))
    drain(engine, store)
    calls = receiver_batches(receiver)
    flat = [d for c in calls for d in c["dates"]]
    assert flat == sorted(flat)                         # each call holds older records than the next
    assert [c["items"] for c in calls] == [20, 20, 5]


def test_held_and_denied_events_are_not_sent_until_the_clock_is_corrected(receiver, engine, store):
    admitted = event(1, 1)
    held = event(2, 2, synced=False)
    denied = event(3, 3, denied=True)
    for ev in (admitted, held, denied):
        store.append(ev)
    drain(engine, store)
    assert received_keys(receiver) == [natural_key(admitted)]
    assert states(store) == {"delivered": 1, "held": 1}     # denied attempts have no delivery row

    now = held.time.wall + timedelta(seconds=30)
    corrected, stuck = release_held(store, Stamp(wall=now, mono_ns=held.time.mono_ns + 30_000_000_000,
                                                 boot_id=held.time.boot_id, synced=True))
    assert (corrected, stuck) == (1, 0)
    drain(engine, store)
    assert len(received_keys(receiver)) == 2 and states(store) == {"delivered": 2}


def test_fields_as_the_platform_stores_them(receiver, engine, store, shared_dir):
    photo = (shared_dir / "data" / "faces" / "obama2.jpg").read_bytes()
    assert len(photo) > 100_000
    face = event(1, 1, method=Method.FACE)
    geo = event(2, 2, method=Method.GEOFENCE, direction=Direction.OUT, lane="",
                location=Location(117.1205, 36.6512, 8.0))
    store.append(face, photo=photo)
    store.append(geo)
    drain(engine, store)
    records = {r.id_card_number: r for r in receiver.records("accepted")}
    f, g = records[resident_id(1)], records[resident_id(2)]
    assert f.date == (EVENT_BASE + timedelta(seconds=1)).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
    assert (f.direction, f.attend_type, f.channel, f.project_code) == ("01", "001", "东门1号闸", PROJECT)
    assert 0 < f.image_bytes <= 50_000                   # re-encoded from 184 KB
    assert (g.direction, g.attend_type, g.channel) == ("02", "011", "east-gate")   # no lane: the device
    assert (g.lng, g.lat) == (117.1205, 36.6512) and g.image_bytes == 0


def test_a_record_without_any_team_is_dead_lettered_and_sent_once_the_roster_has_it(receiver, engine, store):
    lost_team = event(5, 1, team=None)
    store.append(lost_team)
    store.append(event(6, 2))
    drain(engine, store)
    assert states(store) == {"delivered": 1, "dead": 1}
    dead = store.query("SELECT reason, code FROM dead_letters")
    assert dead[0]["code"] == "local" and "teamSysNo" in dead[0]["reason"] and "roster" in dead[0]["reason"]

    Roster(store).upsert_many([Worker(resident_id(5), "工人5", team_sys_no=TEAM_B)])   # the clerk fixes it
    assert engine.queue.requeue_dead(lost_team.event_id, "clerk", "team added")
    drain(engine, store)
    assert states(store) == {"delivered": 2}
    assert {r.team_sys_no for r in receiver.records() if r.id_card_number == resident_id(5)} == {TEAM_B}


def test_default_team_is_used_when_the_roster_has_none(receiver, tmp_path):
    from engine_helpers import load_site, make_engine, open_store, write_site

    cfg = load_site(write_site(tmp_path / "dflt", receiver.url, extra=f"default_team = {TEAM_B}"))
    with open_store(cfg) as store:
        store.append(event(9, 1, team=None))
        engine = make_engine(cfg, store)
        drain(engine, store)
        engine.close()
    assert [r.team_sys_no for r in receiver.records()] == [TEAM_B]


def test_a_record_the_platform_format_cannot_hold_is_dead_lettered_locally(receiver, engine, store):
    store.append(event(1, 1, id_number="12345"))        # not an 18-character resident ID number
    store.append(event(2, 2))
    drain(engine, store)
    assert states(store) == {"delivered": 1, "dead": 1}
    reason = store.query("SELECT reason FROM dead_letters")[0][0]
    assert "idCardNumber" in reason


def test_run_delivers_with_worker_threads_and_reports_metrics(receiver, site_cfg, store):
    import threading
    import time

    from engine_helpers import make_engine

    from sitegate.metrics import Metrics

    metrics = Metrics(store)
    receiver.set_faults(garbage_rate=0.2)
    engine = make_engine(site_cfg, store, metrics=metrics, workers=3)
    events = [event(i % 60 + 1, i, team=TEAM_A if i % 2 else TEAM_B) for i in range(100)]
    for ev in events:
        store.append(ev)
    stop = threading.Event()
    runner = threading.Thread(target=engine.run, args=(stop,))
    runner.start()
    try:
        for _ in range(2000):                       # bounded: a slow machine only waits longer
            if states(store) == {"delivered": 100}:
                break
            time.sleep(0.01)
    finally:
        stop.set()
        runner.join()
        engine.close()
    assert states(store) == {"delivered": 100}
    assert sorted(received_keys(receiver)) == sorted(natural_key(ev) for ev in events)
    assert receiver.duplicates() == {}
    assert metrics.value("sitegate_delivered_events_total", {"uplink": "national"}) == 100
    garbage = metrics.value("sitegate_platform_errors_total", {"uplink": "national", "kind": "garbage"})
    assert garbage == engine.counters["error_garbage"] == receiver.stats()["faults"]["garbage"] > 0
    assert metrics.value("sitegate_delivery_latency_seconds_count", {"uplink": "national"}) == 100
