"""``WorkerAttendance.Query`` — the reference platform's side and the client's — which the engine's
reconciliation relies on. Its fields are sitegate's assumption (docs/platform.md)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from engine_fixtures import receiver  # noqa: F401  (a pytest fixture)
from engine_helpers import APPID, PROJECT, SECRET, TEAM_A, TEAM_B, resident_id
from hypothesis import HealthCheck, given, settings, strategies as st

from sitegate.uplink.national import NationalClient, PlatformError
from sitegate.uplink.national.codec import attendance_item, beijing_time, build_form, beijing_timestamp, encrypt_id
from sitegate.uplink.national.envelope import AsyncStatus

NOW = datetime.now(timezone.utc).replace(microsecond=0)
DAY = beijing_time(NOW - timedelta(hours=1))[:10]


@pytest.fixture
def client(receiver):
    c = NationalClient(receiver.url, APPID, SECRET, timeout=(2.0, 5.0))
    yield c
    c.close()


def item(n: int, minutes_ago: int, direction: str = "01"):
    return attendance_item(resident_id(n), NOW - timedelta(hours=1, minutes=minutes_ago), direction, "001", "东门")


def test_query_lists_the_accepted_records_of_a_day_with_ids_decrypted(client, receiver):
    receiver.set_rules(reject_id_cards=[resident_id(3)])
    client.attendance_add(PROJECT, TEAM_A, [item(1, 5), item(1, 4, "02"), item(3, 3)])
    client.attendance_add(PROJECT, TEAM_B, [item(2, 2)])
    rows = list(client.attendance_records(PROJECT, DAY))
    keys = sorted((r["idCardNumber"], r["date"], r["direction"]) for r in rows)
    assert keys == sorted([(resident_id(1), item(1, 5)["date"], "01"), (resident_id(1), item(1, 4)["date"], "02"),
                           (resident_id(2), item(2, 2)["date"], "01")])       # the rejected one is not there
    assert {r["teamSysNo"] for r in client.attendance_records(PROJECT, DAY, team_sys_no=TEAM_B)} == {TEAM_B}
    only = list(client.attendance_records(PROJECT, DAY, id_card_number=resident_id(1)))
    assert len(only) == 2 and {r["idCardNumber"] for r in only} == {resident_id(1)}
    assert list(client.attendance_records(PROJECT, "2001-01-01")) == []
    assert list(client.attendance_records("OTHER", DAY)) == []


def test_query_pages_until_total_count(client):
    client.attendance_add(PROJECT, TEAM_A, [item(n, n) for n in range(1, 8)])
    before = client.counters["requests"]
    rows = list(client.attendance_records(PROJECT, DAY, page_size=3))
    assert len(rows) == 7 and client.counters["requests"] - before == 3


def test_query_by_a_date_range_and_its_refusals(client):
    client.attendance_add(PROJECT, TEAM_A, [item(1, 5)])
    day_after = beijing_time(NOW + timedelta(days=1))[:10]
    env = client.call("WorkerAttendance.Query", {"projectCode": PROJECT, "pageIndex": 0, "pageSize": 10,
                                                 "startDate": DAY, "endDate": day_after})
    assert env.data["totalCount"] == 1
    env = client.call("WorkerAttendance.Query", {"projectCode": PROJECT, "pageIndex": 0, "pageSize": 10,
                                                 "startDate": item(1, 5)["date"], "endDate": item(1, 5)["date"]})
    assert env.data["totalCount"] == 1 and env.data["rows"][0]["idCardNumber"] == encrypt_id(resident_id(1), SECRET)
    for bad, field in (({"date": "2025-3-1"}, "[date]"), ({}, "[date]"),
                       ({"startDate": "2025-01-01", "endDate": "2025-03-01"}, "[endDate]"),
                       ({"startDate": "2025-01-02", "endDate": "2025-01-01"}, "[endDate]")):
        with pytest.raises(PlatformError) as info:
            client.call("WorkerAttendance.Query", {"projectCode": PROJECT, "pageIndex": 0, "pageSize": 10, **bad})
        assert info.value.code == -1 and info.value.message.startswith(field)


def test_a_denied_method_answers_minus_3(client, receiver):
    receiver.set_rules(denied_methods={"WorkerAttendance.Query"})
    with pytest.raises(PlatformError) as info:
        list(client.attendance_records(PROJECT, DAY))
    assert info.value.code == -3 and info.value.config_fault


def test_failure_text_reports_a_failed_batch_as_one_string(client, receiver):
    receiver.set_rules(reject_id_cards=[resident_id(2)], failure_text=True)
    serial = client.attendance_add(PROJECT, TEAM_A, [item(1, 5), item(2, 4)])
    result = client.async_result(serial)
    assert result.status is AsyncStatus.FAILED and result.failures == () and "人员不在项目中" in result.reason


_values = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**12), st.floats(allow_nan=False, allow_infinity=False),
                    st.text(max_size=30), st.sampled_from(["2025-03-15", "2025-03-15 07:31:02", DAY, "", "x" * 10]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(["projectCode", "pageIndex", "pageSize", "date", "startDate", "endDate",
                                         "teamSysNo", "idCardNumber", "idCardType", "other"]), _values, max_size=8))
def test_query_parser_answers_every_data_object_with_0_or_minus_1(receiver, data):
    form = build_form("WorkerAttendance.Query", data, APPID, SECRET,
                      timestamp=beijing_timestamp(datetime.now(timezone.utc)), nonce="n1")
    answer = receiver.platform.handle_form(form)
    assert answer["code"] in (0, -1), answer
    if answer["code"] == 0:
        assert isinstance(answer["data"]["rows"], list) and answer["data"]["totalCount"] >= 0
