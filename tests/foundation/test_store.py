import os
import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from sitegate.buffer import DeliveryQueue, Store, backlog, release_held, status
from sitegate.buffer.retention import purge
from sitegate.clock import Stamp
from sitegate.errors import StoreFull
from tests.foundation.helpers import event

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 2000


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "data", uplinks=["national"])
    yield s
    s.close()


def test_store_runs_in_wal_with_full_sync_and_records_its_schema(store):
    conn = store.reader()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert [r[0] for r in conn.execute("SELECT name FROM migrations")] == [
        "0001_foundation", "0002_source_key", "0003_reviews_users", "0004_uplink_national", "0005_event_queue_for"]


def test_append_is_visible_to_a_fresh_connection_once_it_returns(store):
    ev = event()
    store.append(ev)
    other = sqlite3.connect(store.path)
    assert other.execute("SELECT count(*) FROM events WHERE event_id = ?", (ev.event_id,)).fetchone()[0] == 1
    assert other.execute("SELECT state FROM deliveries WHERE event_id = ?", (ev.event_id,)).fetchone()[0] == "pending"


def test_personal_data_is_not_in_the_file_in_clear(store, tmp_path):
    idn, name = "370102198511201233", "欧阳娜娜"
    store.append(event(idn, name=name), photo=JPEG)
    store.close()
    raw = b"".join(p.read_bytes() for p in (tmp_path / "data").iterdir() if p.name.startswith("sitegate.db"))
    assert idn.encode() not in raw
    assert name.encode("utf-8") not in raw
    assert JPEG[:100] not in raw
    assert b"370102********1233" in raw  # the masked form is what lists show
    key = tmp_path / "data" / "keys" / "master.key"
    assert oct(key.stat().st_mode & 0o777) == "0o600"


def test_concurrent_producers_share_commits(store):
    n_threads, per = 16, 50
    errors = []

    def produce():
        try:
            for _ in range(per):
                store.append(event())
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=produce) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.count_events() == n_threads * per
    commits, jobs = store.writer_stats
    assert jobs == n_threads * per
    assert commits < jobs  # group commit actually grouped


def test_a_failing_job_does_not_take_its_group_down(store):
    ev = event()
    store.append(ev)
    futures = [store.submit_append(event()) for _ in range(5)]
    dup = store.submit_append(ev)  # same event id again: refused alone
    futures += [store.submit_append(event()) for _ in range(5)]
    with pytest.raises(sqlite3.IntegrityError):
        dup.result(10)
    assert all(f.result(10) for f in futures)
    assert store.count_events() == 11


@pytest.mark.parametrize("photo", [None, JPEG], ids=["one-insert", "with-a-photo"])
def test_one_group_of_appends_is_one_commit_with_its_deliveries(tmp_path, photo):
    # The writer is held on a job of its own, so everything submitted meanwhile is one group: plain
    # appends, a duplicate, an unsynchronised one, a denied one, and one that may carry a photo
    # (without photos the group is one INSERT that SQLite commits on its own).
    store = Store.open(tmp_path / "data", uplinks=["national", "mqtt"])
    try:
        running, hold = threading.Event(), threading.Event()
        blocker = store.submit(lambda conn: running.set() or hold.wait(10))
        assert running.wait(10)
        first = event()
        plain = [event() for _ in range(20)]
        held, denied, with_photo = event(synced=False), event(denied=True), event()
        acks = [store.submit_append(e) for e in [first, *plain, held, denied]]
        dup = store.submit_append(first)
        photo_ack = store.submit_append(with_photo, photo)
        commits_before = store.writer_stats[0]
        hold.set()
        blocker.result(10)
        assert [a.result(10) for a in acks] == [e.event_id for e in [first, *plain, held, denied]]
        with pytest.raises(sqlite3.IntegrityError):
            dup.result(10)
        assert photo_ack.result(10) == with_photo.event_id
        assert store.writer_stats[0] - commits_before == 2   # the blocker's, then the group's
        rows = store.query("SELECT event_id, uplink, state FROM deliveries")
        states = {(r["event_id"], r["uplink"]): r["state"] for r in rows}
        queued = [first, *plain, with_photo]
        assert len(rows) == 2 * (len(queued) + 1)           # both uplinks; nothing for the denied one
        assert all(states[(e.event_id, u)] == "pending" for e in queued for u in ("national", "mqtt"))
        assert states[(held.event_id, "national")] == states[(held.event_id, "mqtt")] == "held"
        assert store.photo(with_photo.event_id) == photo
        assert store.count_events() == len(queued) + 2
    finally:
        store.close()


def test_a_group_of_plain_appends_is_a_single_statement(store):
    # what makes group commit pay on a fast disk (buffer/writer.py): no BEGIN/COMMIT, one INSERT
    running, hold = threading.Event(), threading.Event()
    blocker = store.submit(lambda conn: running.set() or hold.wait(10))
    assert running.wait(10)
    statements: list[str] = []
    store._writer._conn.set_trace_callback(statements.append)
    events = [event() for _ in range(16)]
    acks = [store.submit_append(e) for e in events]
    hold.set()
    blocker.result(10)
    assert [a.result(10) for a in acks] == [e.event_id for e in events]
    store._writer._conn.set_trace_callback(None)
    after = statements[statements.index("COMMIT") + 1:]    # the blocker's COMMIT, then the group
    # (the trace repeats a statement for each trigger run; its text is what counts)
    assert len(set(after)) == 1 and after[0].startswith("INSERT INTO events")
    assert all(e.event_id in after[0] for e in events)
    assert backlog(store)["national"]["pending"] == 16


def test_a_store_without_uplinks_queues_nothing(tmp_path):
    with Store.open(tmp_path / "data", uplinks=[]) as store:
        store.append(event())
        assert store.count_events() == 1
        assert store.query("SELECT count(*) FROM deliveries")[0][0] == 0


def test_denied_attempts_are_kept_but_not_queued(store):
    ev = event(denied=True)
    store.append(ev)
    assert store.get_event(ev.event_id).decision.reason.value == "unknown"
    assert backlog(store)["national"]["pending"] == 0


def test_photos_capped_jpeg_only_and_encrypted(store):
    ok = event()
    store.append(ok, photo=JPEG)
    assert store.get_event(ok.event_id).photo_id == ok.event_id
    assert store.photo(ok.event_id) == JPEG
    png = event()
    store.append(png, photo=b"\x89PNG\r\n" + b"\x00" * 100)
    big = event()
    store.append(big, photo=JPEG + b"\x00" * (store.photo_max_bytes + 1))
    assert store.get_event(png.event_id).photo_id is None
    assert store.get_event(big.event_id).photo_id is None
    assert store.counters["photos_refused"] == 2


def test_quota_refuses_photos_before_events(tmp_path):
    with Store.open(tmp_path / "d", quota_mb=1) as s:
        for _ in range(6):
            s._space_checked = 0
            s.append(event(), photo=JPEG + os.urandom(200 * 1024 - len(JPEG) - 10))
        s._space_checked = 0  # measure again now
        last = event()
        s.append(last, photo=JPEG + os.urandom(150 * 1024))
        assert s.get_event(last.event_id).photo_id is None   # photo refused...
        assert s.get_event(last.event_id) is not None         # ...event kept
        assert [a["code"] for a in s.active_alarms()] == ["photo_quota"]


def test_disk_full_refuses_events_with_an_alarm(tmp_path):
    with Store.open(tmp_path / "d", min_free_mb=10**9) as s:
        with pytest.raises(StoreFull, match="MB free"):
            s.append(event())
        time.sleep(0.2)
        assert s.count_events() == 0
        assert s.counters["events_refused"] == 1
        s.write(lambda c: None)  # the alarm job was submitted before this one
        assert "disk_full" in [a["code"] for a in s.active_alarms()]


def test_corrupt_database_is_moved_aside_and_a_fresh_one_started(tmp_path):
    d = tmp_path / "d"
    with Store.open(d) as s:
        for _ in range(200):
            s.append(event())
    db = d / "sitegate.db"
    data = bytearray(db.read_bytes())
    for off in range(4096, len(data), 4096):  # wreck every page header but the first
        data[off:off + 16] = b"\xde\xad\xbe\xef" * 4
    db.write_bytes(bytes(data))
    with Store.open(d) as s:
        assert s.count_events() == 0
        [alarm] = s.active_alarms()
        assert alarm["code"] == "store_corrupt" and alarm["severity"] == "critical"
        assert s.integrity_problem() is None
    kept = [p.name for p in d.iterdir() if ".corrupt-" in p.name]
    assert kept, "the corrupt file must be kept for forensics"


def test_not_a_database_at_all(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "sitegate.db").write_bytes(b"this is not sqlite" * 100)
    with Store.open(d) as s:
        assert s.active_alarms()[0]["code"] == "store_corrupt"


def test_delivery_states_and_dead_letters(store):
    evs = [event() for _ in range(3)]
    for e in evs:
        store.append(e)
    q = DeliveryQueue(store, "national")
    due = q.due(10)
    assert [r["event_id"] for r in due] == [e.event_id for e in evs]
    q.mark_inflight([evs[0].event_id, evs[1].event_id], "batch-1")
    q.mark_delivered([evs[0].event_id])
    q.mark_dead(evs[1].event_id, "[idCardNumber]人员不在项目中", "-1")
    q.retry_later([evs[2].event_id], 60, "timeout")
    assert q.due(10) == []
    b = backlog(store)["national"]
    assert (b["delivered"], b["dead"], b["pending"], b["inflight"]) == (1, 1, 1, 0)
    st = status(store)
    assert st["dead_letters"] == 1 and st["last_delivery_ts"] is not None
    assert q.requeue_dead(evs[1].event_id, actor="clerk", note="roster fixed")
    assert status(store)["dead_letters"] == 0


def test_held_events_are_corrected_once_the_clock_is_synchronised(store):
    early = event(synced=False, wall=datetime(1970, 1, 1, 0, 5, tzinfo=timezone.utc), mono_ns=5_000_000_000,
                  boot_id="boot-1")
    other_boot = event(synced=False, wall=datetime(1970, 1, 1, tzinfo=timezone.utc), boot_id="boot-0")
    store.append(early)
    store.append(other_boot)
    assert backlog(store)["national"]["held"] == 2
    now = datetime(2026, 11, 28, 8, 0, tzinfo=timezone.utc)
    fixed, stuck = release_held(store, Stamp(wall=now, mono_ns=65_000_000_000, boot_id="boot-1", synced=True))
    assert (fixed, stuck) == (1, 1)
    back = store.get_event(early.event_id)
    assert back.time.wall == now - timedelta(seconds=60) and back.time.synced
    assert backlog(store)["national"]["held"] == 1
    assert "unsynced_events" in [a["code"] for a in store.active_alarms()]


def test_retention_purges_delivered_and_old_denied_only(store):
    old = datetime.now(timezone.utc) - timedelta(days=40)
    delivered, pending, denied = event(wall=old), event(wall=old), event(wall=old, denied=True)
    for e in (delivered, pending, denied):
        store.append(e, photo=JPEG)
    q = DeliveryQueue(store, "national")
    q.mark_delivered([delivered.event_id])
    now = time.time() + 31 * 86400
    counts = purge(store, 30, now=now)
    assert counts["events"] == 2 and counts["photos"] == 2
    assert store.get_event(pending.event_id) is not None   # undelivered: never purged
    assert store.get_event(delivered.event_id) is None
    assert store.get_event(denied.event_id) is None
