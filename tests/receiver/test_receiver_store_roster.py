"""The reference platform's store and roster loading."""
from __future__ import annotations

import json
import sqlite3

import pytest
from receiver_helpers import resident_id

from sitegate.errors import UsageError
from sitegate.receiver import load_roster, parse_roster
from sitegate.receiver.store import Item, ReceiverStore


def _item(index, n, direction="01", date="2025-03-15 07:00:00"):
    return Item(index, resident_id(n), f"cipher{n}", date, direction, "001", "东门")


def test_store_keys_records_by_id_date_direction(tmp_path):
    store = ReceiverStore(str(tmp_path / "s.db"))
    try:
        assert store.add_batch("b1", "P", 1, 0.0, [_item(0, 1), _item(1, 1, "02")], {}) == ["accepted", "accepted"]
        assert store.add_batch("b2", "P", 1, 1.0, [_item(0, 1), _item(1, 2)], {1: "no"}) == ["duplicate", "rejected"]
        assert store.add_batch("b3", "P", 1, 2.0, [_item(0, 2)], {}) == ["accepted"]  # fixed: replaces
        assert store.add_batch("b4", "P", 1, 3.0, [_item(0, 2)], {0: "no"}) == ["duplicate"]
        counts = store.counts()
        assert counts == {"records": 3, "accepted": 3, "rejected": 0, "duplicates": 2}
        assert store.duplicates() == {(resident_id(1), "2025-03-15 07:00:00", "01"): 1,
                                      (resident_id(2), "2025-03-15 07:00:00", "01"): 1}
        b2 = store.batch("b2")
        assert [(i.index, i.outcome, i.message) for i in b2.items] == [(0, "duplicate", ""), (1, "rejected", "no")]
        assert store.batch("nope") is None
    finally:
        store.close()


def test_a_rejected_record_sent_again_while_still_rejected_keeps_its_reason(tmp_path):
    store = ReceiverStore(str(tmp_path / "s.db"))
    try:
        store.add_batch("b1", "P", 1, 0.0, [_item(0, 1)], {0: "人员不在项目中"})
        assert store.add_batch("b2", "P", 1, 1.0, [_item(0, 1)], {}) == ["accepted"]
        store.add_batch("b3", "P", 1, 0.0, [_item(0, 3)], {0: "人员不在项目中"})
        # rejected again (same reason given by the rules) is still rejected, with a reason
        assert store.add_batch("b4", "P", 1, 1.0, [_item(0, 3)], {0: "人员不在项目中"}) == ["rejected"]
        assert store.batch("b4").items[0].message == "人员不在项目中"
    finally:
        store.close()


def test_a_failed_batch_changes_nothing(tmp_path):
    store = ReceiverStore(str(tmp_path / "s.db"))
    try:
        store.add_batch("b1", "P", 1, 0.0, [_item(0, 1)], {})
        with pytest.raises(sqlite3.IntegrityError):  # same serial twice: the transaction rolls back
            store.add_batch("b1", "P", 1, 0.0, [_item(0, 2)], {})
        assert [r.id_card_number for r in store.records()] == [resident_id(1)]
    finally:
        store.close()


def test_store_migrations_are_recorded_and_reopening_keeps_data(tmp_path):
    path = str(tmp_path / "s.db")
    store = ReceiverStore(path)
    store.add_batch("b1", "P", 1, 0.0, [_item(0, 1)], {})
    store.close()
    store = ReceiverStore(path)
    try:
        assert len(store.records()) == 1
    finally:
        store.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 1


CSV = "\ufeffid_card_number,name,team_sys_no,team_name,work_type,card_no\n" \
      f"{resident_id(1).lower()},张三,100,A班,木工,123\n{resident_id(2)},李四,200,,,\n"


def test_roster_from_csv_with_bom(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(CSV, encoding="utf-8")
    workers = load_roster(path)
    assert [(w.id_card_number, w.name, w.team_sys_no, w.card_no) for w in workers] == [
        (resident_id(1), "张三", 100, "123"), (resident_id(2), "李四", 200, "")]


def test_roster_from_json_passes_extra_keys_through():
    text = json.dumps([{"id_card_number": resident_id(1), "name": "张三", "team_sys_no": 100, "corpCode": "91370"}])
    [w] = parse_roster(text)
    row = w.platform_row("P001", "0123456789abcdef0123456789ABCDEF")
    assert row["corpCode"] == "91370" and row["teamSysNo"] == 100 and row["idCardNumber"] != resident_id(1)


@pytest.mark.parametrize("text, where", [
    ("name,team_sys_no\nA,1\n", "roster:1: missing column(s) id_card_number"),
    ("id_card_number,name,team_sys_no\nX,A,ten\n", "roster:2: team_sys_no"),
    ("id_card_number,name,team_sys_no\nX,,1\n", "roster:2: name: missing"),
    ("[1]", "entry 0"),
    ("[{", "not valid JSON"),
])
def test_roster_errors_name_the_place(text, where):
    with pytest.raises(UsageError) as info:
        parse_roster(text)
    assert where in str(info.value)


def test_roster_file_problems(tmp_path):
    with pytest.raises(UsageError, match="roster"):
        load_roster(tmp_path / "missing.csv")
    bad = tmp_path / "gbk.csv"
    bad.write_bytes("张三".encode("gbk"))
    with pytest.raises(UsageError, match="not UTF-8"):
        load_roster(bad)
