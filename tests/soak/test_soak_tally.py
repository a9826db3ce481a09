"""The tally against real stores: the gateway's (sitegate.buffer) read through GatewayDb while it
is open, and the reference platform's (ReceiverStore). Each acknowledged passage ends up in
exactly one bucket; platform records beyond the passages are counted as extra."""
from datetime import datetime, timedelta, timezone

import pytest

from sitegate.bench.soakkit.gatewaydb import GatewayDb
from sitegate.bench.soakkit.site import Person
from sitegate.bench.soakkit.tally import SoakResult, tally
from sitegate.bench.soakkit.truth import Ledger, Passage
from sitegate.demo.people import workers

BEIJING = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 28, 7, 0, 0, tzinfo=timezone.utc)


def _event(person: Person, direction: str, at: datetime, n: int):
    from sitegate.ids import uuid7
    from sitegate.model import AttendanceEvent, Direction, EventTime, Method, Source, WorkerRef

    return AttendanceEvent(
        event_id=str(uuid7()), worker=WorkerRef(id_card_number=person.id_number, name="张三", team_sys_no=100156750),
        direction=Direction(direction), method=Method.CARD, source=Source(device_id="wg-1", lane="东门闸机1"),
        time=EventTime(wall=at, mono_ns=n, boot_id="b", synced=True))


def _item(index: int, person: Person, direction: str, at: datetime):
    from sitegate.receiver.store import Item

    return Item(index, person.id_number, "cipher", at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
                {"in": "01", "out": "02"}[direction], "002", "东门闸机1")


@pytest.fixture
def world(tmp_path):
    from sitegate.buffer import DeliveryQueue, Store
    from sitegate.receiver.store import ReceiverStore

    store = Store.open(tmp_path / "gw", uplinks=["national"])
    rx = ReceiverStore(str(tmp_path / "platform.db"))
    people = [Person(w) for w in workers(10, seed=5)]
    for p in people:
        p.id_hash = store.cipher.index(p.id_number)
    yield store, DeliveryQueue(store, "national"), rx, people, tmp_path
    rx.close()
    store.close()


def _passage(seq: int, person: Person, at: datetime, direction: str = "in", kind: str = "wg-controller") -> Passage:
    p = Passage(seq, person, "东门闸机1", kind, direction, 0.0)
    Ledger().acknowledge(p, at.timestamp())
    return p


def test_each_acknowledged_passage_lands_in_one_bucket(world):
    store, queue, rx, people, tmp = world
    ok, marked, never, dead, waiting, late, stranger, dup_drop, dup_plain = people[:9]
    passages = [_passage(i, p, T0 + timedelta(seconds=i)) for i, p in
                enumerate([ok, marked, never, dead, waiting, late, dup_drop, dup_plain], start=1)]
    passages.append(Passage(99, stranger, "东门闸机1", "wg-online", "in", 0.0))     # never acknowledged

    ids = {}
    for n, p in enumerate([ok, marked, dead, waiting, late, dup_drop, dup_plain, stranger], start=1):
        ids[p.id_number] = store.append(_event(p, "in", T0, n))
    queue.mark_delivered([ids[p.id_number] for p in (ok, marked, late, dup_drop, dup_plain, stranger)])
    queue.mark_dead(ids[dead.id_number], "[idCardNumber]人员不在项目中", code="10")
    # `waiting` stays pending; `never` has no event at all

    at = {p.person.id_number: datetime.fromtimestamp(p.at, timezone.utc) for p in passages if p.acknowledged}
    first = [_item(0, ok, "in", at[ok.id_number]), _item(1, late, "in", at[late.id_number] + timedelta(seconds=30)),
             _item(2, stranger, "in", T0)]
    rx.add_batch("b1", "370102202300001", 100156750, 1000.0, first, {})
    rx.add_batch("b2", "370102202300001", 100156750, 2000.0, [_item(0, dup_drop, "in", at[dup_drop.id_number])], {})
    rx.add_batch("b3", "370102202300001", 100156750, 3000.0, [_item(0, dup_plain, "in", at[dup_plain.id_number])], {})
    rx.add_batch("b4", "370102202300001", 100156750, 3500.0, [_item(0, dup_drop, "in", at[dup_drop.id_number]),
                                                                _item(1, dup_plain, "in", at[dup_plain.id_number])], {})

    gw = GatewayDb(store.path)          # read-only, beside the open store
    try:
        r = tally(SoakResult(), passages, tmp / "platform.db", gw, drop_windows=[(1995.0, 2005.0)], kills=[])
    finally:
        gw.close()

    assert {m.passage.person.id_number: m.verdict for m in r.lost} == {
        marked.id_number: "lost: marked delivered, absent at the platform",
        never.id_number: "lost: never recorded by the gateway"}
    assert [(m.passage.person.id_number, m.detail) for m in r.dead] == \
        [(dead.id_number, "[idCardNumber]人员不在项目中")]
    assert [m.passage.person.id_number for m in r.queued] == [waiting.id_number]
    assert r.acknowledged == 8 and r.not_acknowledged == 1 and r.planned == 9
    assert r.platform_records == 5
    assert r.wrong_time["wg-controller"] == 1 and r.max_time_error_s == pytest.approx(30, abs=1)
    assert r.extra_unacknowledged == {"wg-online": 1}
    assert r.platform_duplicates == 2
    assert (r.duplicates_explained, r.duplicates_unexplained) == (1, 1)   # first copy in the drop window, or not
    assert r.gateway_events == 8 and r.gateway_admitted == 8
    assert r.dead_letters_total == 1 and r.dead_letter_reasons == {"[idCardNumber]人员不在项目中": 1}
    assert r.lost_count == 2


def test_a_second_record_for_one_passage_and_a_wrong_lane_are_counted(world):
    store, queue, rx, people, tmp = world
    p = _passage(1, people[0], T0)
    eid = store.append(_event(people[0], "in", T0, 1))
    queue.mark_delivered([eid])
    item = _item(0, people[0], "in", T0)
    again = _item(1, people[0], "in", T0 + timedelta(seconds=4))
    from dataclasses import replace

    rx.add_batch("b1", "370102202300001", 100156750, 1000.0, [item, replace(again, channel="西门")], {})
    gw = GatewayDb(store.path)
    try:
        r = tally(SoakResult(), [p], tmp / "platform.db", gw, drop_windows=[], kills=[])
    finally:
        gw.close()
    assert r.lost == [] and r.extra_second_record == {"wg-controller": 1}
    assert r.wrong_lane == 0 and r.wrong_time == {}         # the closest record is the right one


def test_gateway_db_reads_backlog_and_events_of_a_live_store(world):
    store, queue, rx, people, tmp = world
    ids = [store.append(_event(p, "in", T0, n)) for n, p in enumerate(people[:3], start=1)]
    queue.mark_delivered(ids[:1])
    gw = GatewayDb(store.path)
    try:
        assert gw.backlog()["pending"] == 2 and gw.backlog()["delivered"] == 1
        assert gw.undelivered() == 2 and gw.open_batches() == 0
        floor = gw.max_seq()
        assert gw.event_after("wg-1", people[0].id_hash, floor) is None
        store.append(_event(people[0], "in", T0, 9))
        row = gw.event_after("wg-1", people[0].id_hash, floor)
        assert row is not None and row["outcome"] == "admitted"
        with pytest.raises(Exception):      # read-only: the harness can never change the store
            gw.query("DELETE FROM events")
    finally:
        gw.close()
