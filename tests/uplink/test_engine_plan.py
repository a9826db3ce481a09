"""The engine's pure parts: the reconciliation plan, stored batches read back and split, how each
client error is read. Expected data strings come from the reference's worked example."""
from __future__ import annotations

import json

import pytest
from engine_helpers import SECRET, resident_id
from hypothesis import given, settings, strategies as st

from sitegate.uplink.national import GarbageResponse, PlatformError, TransportError
from sitegate.uplink.national.codec import attendance_add_data, attendance_item
from sitegate.uplink.national.outcomes import (
    CONFIG, CONTENT, LOST, RETRY, classify_failure, config_advice, minus_one_scope,
)
from sitegate.uplink.national.payloads import PayloadError, halves, normal_date, read_batch, sub_payload
from sitegate.uplink.national.reconcile import Member, Presence, plan

# reference/protocols.md §5 worked example (also shared/data/vectors/vectors.json "national")
EXAMPLE_DATA = ('{"projectCode":"P001","teamSysNo":100156750,"dataList":[{"idCardType":"01","idCardNumber":'
                '"S4exk0SLPspNExzgDwLuP/t+9vfqkhZy1bvxt9yOzZA=","date":"2025-03-15 07:31:02","direction":"01",'
                '"attendType":"001","channel":"东门1号闸"}]}')


def members(n: int) -> list[Member]:
    return [Member(i, f"e{i}", (resident_id(i), f"2025-03-15 07:31:{i:02d}", "01")) for i in range(n)]


# -- plan -------------------------------------------------------------------------------------
def test_lost_batch_all_found_none_found_some_found():
    ms = members(4)
    keys = {m.key for m in ms}
    assert plan("lost", ms, keys, whole_batch=True).delivered == ["e0", "e1", "e2", "e3"]
    nothing = plan("lost", ms, set(), whole_batch=True)
    assert nothing.resend_identical and not nothing.delivered and not nothing.unreconciled
    some = plan("lost", ms, {ms[1].key}, whole_batch=True)
    assert (some.delivered, some.pending, some.resend_identical) == (["e1"], ["e0", "e2", "e3"], False)


def test_lost_batch_partly_settled_is_never_resent_identically():
    p = plan("lost", members(3)[1:], set(), whole_batch=False)
    assert not p.resend_identical and p.pending == ["e1", "e2"]


def test_without_the_query_lost_is_resent_and_the_others_handed_back():
    ms = members(3)
    p = plan("lost", ms, None, whole_batch=True)
    assert p.resend_identical and p.unreconciled
    for kind in ("rejected", "expired"):
        p = plan(kind, ms, None, whole_batch=True)
        assert p.pending == ["e0", "e1", "e2"] and not p.resend_identical and p.unreconciled


def test_batch_level_failure_splits_what_is_missing_and_kills_a_single_one():
    ms = members(5)
    p = plan("failed", ms, {ms[0].key, ms[2].key}, whole_batch=True)
    assert p.delivered == ["e0", "e2"] and [[m.event_id for m in part] for part in p.split] == [["e1", "e3"], ["e4"]]
    p = plan("failed", ms, {m.key for m in ms if m.event_id != "e3"}, whole_batch=True)
    assert [m.event_id for m in p.dead] == ["e3"] and not p.split
    p = plan("failed", ms, None, whole_batch=True)
    assert [len(part) for part in p.split] == [3, 2]


def test_plan_refuses_an_unknown_kind():
    with pytest.raises(ValueError):
        plan("maybe", members(1), set(), whole_batch=True)


# -- stored batches ----------------------------------------------------------------------------
def test_read_batch_decrypts_the_worked_example():
    batch = read_batch(EXAMPLE_DATA, SECRET)
    assert (batch.project_code, batch.team_sys_no) == ("P001", 100156750)
    assert batch.keys == (("11010119900101001X", "2025-03-15 07:31:02", "01"),)


def test_sub_payload_keeps_each_item_byte_for_byte():
    items = [attendance_item(resident_id(n), f"2025-03-15 07:31:{n:02d}", "01", "001", "东门", lng=117.1 + n / 7,
                             lat=36.6) for n in range(1, 6)]
    whole = attendance_add_data("P001", 100156750, items, SECRET)
    assert sub_payload(whole, range(5)) == whole
    first, second = (sub_payload(whole, part) for part in halves(range(5)))
    assert json.loads(first)["dataList"] + json.loads(second)["dataList"] == json.loads(whole)["dataList"]
    one = sub_payload(whole, [3])
    assert one == attendance_add_data("P001", 100156750, [items[3]], SECRET)   # as if built alone
    with pytest.raises(PayloadError):
        sub_payload(whole, [5])
    with pytest.raises(PayloadError):
        read_batch('{"dataList":[]}', SECRET)
    with pytest.raises(PayloadError):
        read_batch(EXAMPLE_DATA.replace("S4exk0", "AAAAAA"), SECRET)


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 20))
def test_halves_cover_every_index_once(n):
    parts = halves(range(n))
    assert len(parts) == 2 and sorted(parts[0] + parts[1]) == list(range(n)) and len(parts[0]) >= len(parts[1]) >= 1


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.integers(), st.binary(max_size=30), st.text(max_size=40),
                 st.sampled_from(["2025-03-15 07:31:02", "2025-03-15T07:31:02", "2025-03-15 07:31:02.0",
                                  "2025-03-15", "20250315073102"])))
def test_normal_date_takes_any_value_from_the_platform(value):
    out = normal_date(value)
    assert out is None or (len(out) == 19 and out[10] == " ")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(), st.text(max_size=20),
                          st.dictionaries(st.sampled_from(["idCardNumber", "date", "direction", "x"]),
                                          st.one_of(st.none(), st.integers(), st.text(max_size=25)), max_size=4)),
                max_size=6))
def test_presence_skips_rows_it_cannot_read(rows):
    good = {"idCardNumber": resident_id(1), "date": "2025-03-15 07:31:02", "direction": "01"}
    presence = Presence(lambda day, team: [r for r in rows if isinstance(r, dict)] + [good])
    key = (resident_id(1), "2025-03-15 07:31:02", "01")
    assert presence.found([key], 100, 0.0) == {key}


def test_presence_reuses_a_day_only_when_fetched_after_the_batch_became_due():
    calls = []
    presence = Presence(lambda day, team: calls.append(day) or [], clock=lambda: 100.0)
    key = (resident_id(1), "2025-03-15 07:31:02", "01")
    presence.found([key], 1, not_before=50.0)
    presence.found([key], 1, not_before=90.0)            # fetched at 100 >= 90: reused
    assert calls == ["2025-03-15"]
    presence.found([key], 1, not_before=150.0)           # became due after the fetch: ask again
    assert calls == ["2025-03-15", "2025-03-15"]


# -- reading errors ------------------------------------------------------------------------------
@pytest.mark.parametrize("exc, action, kind", [
    (TransportError("x: cannot connect", maybe_delivered=False), RETRY, "transport"),
    (TransportError("x: timed out waiting for the answer"), LOST, "timeout"),
    (TransportError("x: HTTP 502", status=502), LOST, "http5xx"),
    (TransportError("x: HTTP 404", status=404, maybe_delivered=False, retryable=False), CONFIG, "transport"),
    (GarbageResponse("not JSON"), LOST, "garbage"),
    (PlatformError(-5, "请求过于频繁"), RETRY, "rate_limited"),
    (PlatformError(-99, "?"), RETRY, "transport"),
    (PlatformError(-1, "[date]不能大于当天!"), CONTENT, "content"),
    (PlatformError(-2, "签名校验错误"), CONFIG, "signature"),
    (PlatformError(-3, "无API访问权限"), CONFIG, "permission"),
    (PlatformError(-4, "IP不在白名单内"), CONFIG, "ip"),
])
def test_each_client_error_has_one_reading(exc, action, kind):
    f = classify_failure(exc)
    assert (f.action, f.kind) == (action, kind)
    if action == CONFIG:
        assert config_advice(f, "WorkerAttendance.Add")


def test_minus_one_blames_the_call_the_team_or_a_record():
    assert minus_one_scope("[sign]不能为空!") == "call"
    assert minus_one_scope("[projectCode]值超出范围或无效!") == "call"
    assert minus_one_scope("[teamSysNo]值超出范围或无效!") == "team"
    assert minus_one_scope("[date]不能大于当天!") == "record"
    assert minus_one_scope("图片大小不能超过50KB") == "record"
    assert minus_one_scope("") == "record"
