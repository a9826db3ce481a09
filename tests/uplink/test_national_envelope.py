"""Response envelopes, result codes and asynchronous results of the national OpenAPI."""
from __future__ import annotations

import json

import pytest

from sitegate.errors import ProtocolError
from sitegate.uplink.national import codec
from sitegate.uplink.national.codes import Fault, ResultCode, classify
from sitegate.uplink.national.envelope import AsyncStatus, RecordFailure, request_serial_code
from sitegate.uplink.national.errors import GarbageResponse, PlatformError

SECRET = "0123456789abcdef0123456789ABCDEF"
ID_CIPHER = "S4exk0SLPspNExzgDwLuP/t+9vfqkhZy1bvxt9yOzZA="  # AES of 11010119900101001X (reference §5)


def test_garbage_response_is_a_protocol_error():
    assert issubclass(GarbageResponse, ProtocolError)


@pytest.mark.parametrize("body, expected", [
    (b'{"code":0,"message":"ok","data":{"requestSerialCode":"r1"}}', (0, "ok", {"requestSerialCode": "r1"})),
    ('{"code":-1,"message":"[date]不能大于当天!","data":null}'.encode(), (-1, "[date]不能大于当天!", None)),
    (b'\xef\xbb\xbf{"code":"-5","message":null}', (-5, "", None)),   # BOM, code as string, no data
    (b'{"code":0,"message":{"x":1}}', (0, '{"x": 1}', None)),
])
def test_parse_response(body, expected):
    env = codec.parse_response(body)
    assert (env.code, env.message, env.data) == expected


@pytest.mark.parametrize("body, problem", [
    (b"<html>502 Bad Gateway</html>", "not JSON"),
    (b'{"code":0,"message":"ok"', "not JSON"),
    (b"\xff\xfe", "not UTF-8"),
    (b"[1,2]", "list"),
    (b'"ok"', "str"),
    (b'{"message":"ok"}', "no 'code'"),
    (b'{"code":true}', "not an integer"),
    (b'{"code":1.5}', "not an integer"),
    (b'{"code":"--5"}', "not an integer"),
    (b"", "not JSON"),
    (b"[" * 100_000, "not JSON"),  # nesting deeper than the recursion limit
])
def test_garbage_is_named(body, problem):
    with pytest.raises(GarbageResponse, match=problem) as info:
        codec.parse_response(body)
    assert info.value.body == body[:200]


@pytest.mark.parametrize("code, fault", [
    (0, Fault.NONE), (-1, Fault.CONTENT), (-2, Fault.CONFIG), (-3, Fault.CONFIG),
    (-4, Fault.CONFIG), (-5, Fault.TRANSIENT), (-99, Fault.TRANSIENT), (500, Fault.TRANSIENT),
])
def test_code_classification(code, fault):
    assert classify(code) is fault
    assert codec.is_retryable(code) == (fault is Fault.TRANSIENT)
    assert codec.is_config_fault(code) == (fault is Fault.CONFIG)
    assert codec.is_content_fault(code) == (fault is Fault.CONTENT)


def test_platform_error_carries_its_classification():
    err = PlatformError(-5, "请求过于频繁")
    assert (err.code, err.retryable, err.config_fault, err.content_fault) == (-5, True, False, False)
    err = PlatformError(-2, "签名校验错误")
    assert (err.retryable, err.config_fault) == (False, True)
    assert ResultCode.lookup(-4) is ResultCode.IP_NOT_ALLOWED and ResultCode.lookup(7) is None


def test_request_serial_code():
    assert request_serial_code(codec.Envelope(0, "", {"requestSerialCode": "abc"})) == "abc"
    for data in (None, {}, {"requestSerialCode": ""}, {"requestSerialCode": 5}, []):
        with pytest.raises(GarbageResponse):
            request_serial_code(codec.Envelope(0, "", data))


# -- AsyncHandleResult.Query ---------------------------------------------------------------------

@pytest.mark.parametrize("status, expected", [("0", AsyncStatus.PENDING), (10, AsyncStatus.FAILED),
                                              ("20", AsyncStatus.SUCCEEDED)])
def test_async_status(status, expected):
    result = codec.parse_async_result({"status": status, "result": ""})
    assert result.status is expected and result.failures == () and result.reason == ""
    assert result.done == (expected is not AsyncStatus.PENDING)


@pytest.mark.parametrize("data", [None, [], {"result": ""}, {"status": "30"}, {"status": True},
                                  {"status": None}, {"status": 1.0}])
def test_async_bad_shapes_are_garbage(data):
    with pytest.raises(GarbageResponse):
        codec.parse_async_result(data)


def test_async_list_with_index_and_encrypted_id_is_decrypted():
    data = {"status": "10", "result": [{"index": 1, "idCardNumber": ID_CIPHER, "message": "[idCardNumber]人员不在项目中"}]}
    result = codec.parse_async_result(data, SECRET)
    assert result.failures == (RecordFailure(1, "11010119900101001X", "[idCardNumber]人员不在项目中"),)
    # without the secret the ID number stays as sent
    assert codec.parse_async_result(data).failures[0].id_card_number == ID_CIPHER


def test_async_list_sent_as_a_json_string_and_plain_ids():
    text = json.dumps([{"idCardNumber": "11010119900101001X", "reason": "x"}, {"index": "0", "msg": "y"}])
    result = codec.parse_async_result({"status": "10", "result": text}, SECRET)
    assert result.failures == (RecordFailure(None, "11010119900101001X", "x"), RecordFailure(0, None, "y"))


def test_async_plain_string_fails_the_whole_batch():
    result = codec.parse_async_result({"status": "10", "result": "班组不存在"})
    assert result.reason == "班组不存在" and result.failures == ()
    by_index, unmatched = result.failures_for(["A", "B", "C"])
    assert by_index == {0: "班组不存在", 1: "班组不存在", 2: "班组不存在"} and unmatched == []


def test_failures_for_maps_by_index_and_by_id_number():
    result = codec.AsyncResult(AsyncStatus.FAILED, "", (
        RecordFailure(2, None, "bad date"),
        RecordFailure(None, "B", "not in project"),
        RecordFailure(7, None, "out of range"),
        RecordFailure(None, "Z", "unknown person"),
    ))
    by_index, unmatched = result.failures_for(["A", "B", "C", "B"])
    assert by_index == {1: "not in project", 2: "bad date", 3: "not in project"}
    assert [f.message for f in unmatched] == ["out of range", "unknown person"]


def test_failures_for_a_succeeded_or_pending_batch_is_empty():
    for status in (AsyncStatus.SUCCEEDED, AsyncStatus.PENDING):
        assert codec.AsyncResult(status).failures_for(["A"]) == ({}, [])


def test_failed_without_any_reason_still_fails_every_record():
    result = codec.parse_async_result({"status": "10", "result": []})
    by_index, _ = result.failures_for(["A", "B"])
    assert set(by_index) == {0, 1} and all(by_index.values())
