"""Whatever a client sends, the reference platform answers with an envelope (never a crash) and
stores nothing it has not validated."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from receiver_helpers import APPID, ROSTER, SECRET, START, ManualClock, resident_id

from sitegate.receiver.platform import ReferencePlatform
from sitegate.receiver.store import ReceiverStore
from sitegate.uplink.national.codec import build_form, encrypt_id

PROPS = settings(max_examples=300, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
CODES = {0, -1, -2, -3}


@pytest.fixture
def platform():
    store = ReceiverStore(":memory:")
    yield ReferencePlatform(APPID, SECRET, store, ROSTER, clock=ManualClock(START))
    store.close()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=25,
)
good_item = {"idCardType": "01", "idCardNumber": encrypt_id(resident_id(1), SECRET),
             "date": "2025-03-15 07:00:00", "direction": "01", "attendType": "001", "channel": "东门"}
# items that are mostly right, with one or two fields replaced by anything
mutated_items = st.builds(
    lambda changes: {**good_item, **changes},
    st.dictionaries(st.sampled_from(sorted(good_item) + ["image", "lng", "lat"]), json_values, max_size=2),
)
# a right shell with mutated items reaches the item checks; a mutated shell tests the shell's
attendance_data = st.one_of(
    st.fixed_dictionaries({"projectCode": st.just("P001"), "teamSysNo": st.just(100),
                           "dataList": st.lists(mutated_items, min_size=1, max_size=21)}),
    st.fixed_dictionaries({"projectCode": st.just("P001") | json_values, "teamSysNo": st.just(100) | json_values,
                           "dataList": st.lists(mutated_items, max_size=3) | json_values}),
)
roster_query = st.fixed_dictionaries(
    {"projectCode": st.just("P001"), "pageIndex": st.integers(-2, 10**12), "pageSize": st.integers(-1, 200)},
    optional={"teamSysNo": st.integers(-1, 300) | json_values,
              "idCardNumber": st.just(encrypt_id(resident_id(2), SECRET)) | json_values},
) | st.dictionaries(st.sampled_from(["projectCode", "pageIndex", "pageSize", "teamSysNo"]), json_values)
calls = st.one_of(
    st.tuples(st.just("WorkerAttendance.Add"), attendance_data),
    st.tuples(st.just("WorkerAttendance.Add"), json_values),
    st.tuples(st.just("ProjectWorker.Query"), roster_query),
    st.tuples(st.just("AsyncHandleResult.Query"), st.fixed_dictionaries({"requestSerialCode": json_values})),
    st.tuples(st.sampled_from(["CheckSign.Query", "Nope.Add"]), json_values),
)


def _check_answer(answer):
    assert set(answer) == {"code", "message", "data"}
    assert answer["code"] in CODES
    json.dumps(answer, ensure_ascii=False)  # serialisable as the HTTP body


@PROPS
@given(body=st.binary(max_size=600) | st.text(max_size=300).map(str.encode))
def test_random_bodies_get_an_envelope(platform, body):
    _check_answer(platform.handle_body(body, "application/x-www-form-urlencoded"))


@PROPS
@given(call=calls)
def test_signed_calls_with_random_data_get_an_envelope(platform, call):
    method, data = call
    version = "1.1" if method == "CheckSign.Query" else "1.0"
    form = build_form(method, json.dumps(data, ensure_ascii=False), APPID, SECRET,
                      timestamp="20250315073105", nonce="n1", version=version)
    before = platform.store.counts()["records"]
    answer = platform.handle_form(form)
    _check_answer(answer)
    if method == "WorkerAttendance.Add" and answer["code"] != 0:
        assert platform.store.counts()["records"] == before  # a refused batch stores nothing
