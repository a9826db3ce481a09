"""Hikvision ISAPI codec against ../shared (vectors.json ``hik_isapi`` and hik_event_multipart.bin)
and the reference (protocols.md §4): both directions, bad input, random and truncated input."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zkhik_fixtures import HIK_MULTIPART_FILE, load_vectors

from sitegate.drivers.hik_isapi import codec, codes, multipart, search, users
from sitegate.errors import ProtocolError

V = load_vectors()["hik_isapi"]
MULTIPART_BODY = HIK_MULTIPART_FILE.read_bytes()
MULTIPART_TYPE = "multipart/form-data; boundary=MIME_boundary"
# The JPEG inside the .bin, found by its own markers (not by the code under test).
JPEG = MULTIPART_BODY[MULTIPART_BODY.index(b"\xff\xd8"):MULTIPART_BODY.index(b"\xff\xd9") + 2]
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def expect_of(event: codec.PushedEvent) -> dict:
    a = event.access
    return {"employee": a.employee_no, "verified_by": a.method, "direction": a.direction, "serial": a.serial_no,
            "door": a.door_no}


# -- pushed events -------------------------------------------------------------------------------
def test_json_event_vector_decodes_to_expect():
    event = codec.parse_push(json.dumps(V["event_json"], ensure_ascii=False).encode(), "application/json")
    assert expect_of(event) == V["expect"]
    assert event.event_type == "AccessControllerEvent" and not event.heartbeat and event.picture is None
    assert event.date_time == datetime(2025, 3, 15, 7, 31, 2, tzinfo=timezone(timedelta(hours=8)))
    a = event.access
    assert (a.major, a.minor, a.granted, a.reason, a.passage) == (5, 75, True, "face passed", True)
    assert a.extra["helmet"] == "yes" and "name" not in a.extra


def test_multipart_vector_decodes_to_expect_with_its_picture():
    event = codec.parse_push(MULTIPART_BODY, MULTIPART_TYPE)
    assert expect_of(event) == V["expect"]
    assert event.picture == JPEG and len(JPEG) == 66


def test_multipart_vector_is_what_the_builder_makes():
    doc = json.dumps(V["event_json"], ensure_ascii=False).encode("utf-8")
    body, content_type = multipart.build([multipart.Part("event_log", "application/json", doc),
                                          multipart.Part("Picture", "image/jpeg", JPEG, "Picture.jpg")],
                                         boundary="MIME_boundary")
    assert body == MULTIPART_BODY
    assert content_type == MULTIPART_TYPE


def test_event_document_builder_round_trips_the_vector():
    v = V["event_json"]
    doc = codec.event_document(v["AccessControllerEvent"], date_time=v["dateTime"], ip=v["ipAddress"])
    assert {k: doc[k] for k in v} == v


def test_json_part_is_picked_by_content_type_then_by_name():
    doc = json.dumps(V["event_json"]).encode()
    by_type, ct = multipart.build([multipart.Part("Picture", "image/jpeg", JPEG),
                                   multipart.Part("whatever", "application/json", doc)])
    assert codec.parse_push(by_type, ct).access.serial_no == 1199
    by_name, ct = multipart.build([multipart.Part("AccessControllerEvent", "text/plain", doc)])
    assert codec.parse_push(by_name, ct).access.serial_no == 1199
    none, ct = multipart.build([multipart.Part("Picture", "image/jpeg", JPEG)])
    with pytest.raises(ProtocolError, match="JSON part"):
        codec.parse_push(none, ct)


def test_heartbeat_is_recognised():
    event = codec.parse_push(b'{"ipAddress":"192.168.1.64","dateTime":"2025-03-15T07:31:02+08:00",'
                             b'"eventType":"heartBeat","eventState":"active"}', "application/json")
    assert event.heartbeat and event.access is None


@pytest.mark.parametrize("body, problem", [
    (b"not json", "not JSON"), (b"[1,2]", "not an object"), (b"{}", "eventType"), (b"\xff\xfe", "UTF-8"),
    (b"[" * 100_000, "nests too deeply|not JSON"),
    (b'{"eventType":"AccessControllerEvent","AccessControllerEvent":{"majorEventType":5,"subEventType":75,'
     b'"serialNo":"abc"}}', "serialNo"),
    (b'{"eventType":"AccessControllerEvent","AccessControllerEvent":{"majorEventType":[5],"subEventType":75}}',
     "majorEventType"),
    (b'{"eventType":"AccessControllerEvent","AccessControllerEvent":{"subEventType":75}}', "majorEventType"),
    (b'{"eventType":"AccessControllerEvent","dateTime":"yesterday","AccessControllerEvent":{"majorEventType":5,'
     b'"subEventType":75}}', "dateTime"),
    (b'{"eventType":"AccessControllerEvent","AccessControllerEvent":{"majorEventType":5,"subEventType":75,'
     b'"name":{"x":1}}}', "name"),
    (b"{" + b" " * (2 * 1024 * 1024) + b"}", "limit"),
])
def test_bad_json_events_name_the_problem(body, problem):
    with pytest.raises(ProtocolError, match=problem):
        codec.parse_push(body, "application/json")


@pytest.mark.parametrize("content_type, problem", [
    ("multipart/form-data", "boundary"), ("multipart/form-data; boundary=other", "boundary"),
])
def test_bad_multipart_names_the_problem(content_type, problem):
    with pytest.raises(ProtocolError, match=problem):
        codec.parse_push(MULTIPART_BODY, content_type)


def test_oversized_multipart_is_refused_before_parsing():
    with pytest.raises(ProtocolError, match="limit"):
        multipart.parse(MULTIPART_BODY + bytes(multipart.MAX_BODY_BYTES), MULTIPART_TYPE)


def test_time_without_offset_is_beijing_time():
    assert codec.parse_time("2025-03-15T07:31:02").utcoffset() == timedelta(hours=8)
    assert codec.parse_time("2025-03-15T07:31:02+0800").utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize("minor, granted, text, method", [
    (1, True, "card passed", "card"), (6, False, "no permission", "other"), (9, False, "no such card", "card"),
    (38, True, "fingerprint passed", "fingerprint"), (60, True, "face and card passed", "face"),
    (76, False, "face failed", "face"), (105, True, "person and ID card comparison passed", "idcard"),
    (152, False, "employee number does not exist", "other"),
])
def test_sub_event_table(minor, granted, text, method):
    ev = codec.access_event({"major": 5, "minor": minor, "time": "2025-03-15T07:31:02+08:00"})
    assert (ev.passage, ev.granted, ev.reason, ev.method) == (True, granted, text, method)


def test_door_and_alarm_events_are_not_passages():
    assert not codec.access_event({"major": 5, "minor": 21}).passage
    assert not codec.access_event({"major": 2, "minor": 75}).passage


@pytest.mark.parametrize("mode, method", [("cardOrFace", "card"), ("face", "face"), ("faceOrFp", "face"),
                                          ("fp", "fingerprint"), ("cardAndPw", "card"), ("employeeNoAndPw", "other")])
def test_verify_modes(mode, method):
    assert codes.verify_mode_method(mode) == method


@pytest.mark.parametrize("status, direction", [("checkIn", "in"), ("checkOut", "out"), ("breakOut", "out"),
                                               ("breakIn", "in"), ("overtimeIn", None), ("", None)])
def test_attendance_status_direction(status, direction):
    assert codes.attendance_direction(status) == direction


# -- AcsEvent search ---------------------------------------------------------------------------
def test_search_request_body():
    start = datetime(2025, 3, 15, 7, 0, 0, tzinfo=timezone(timedelta(hours=8)))
    body = search.request_body("abc", 30, 30, start, start + timedelta(hours=1))
    assert body == {"AcsEventCond": {"searchID": "abc", "searchResultPosition": 30, "maxResults": 30, "major": 5,
                                     "minor": 0, "startTime": "2025-03-15T07:00:00+08:00",
                                     "endTime": "2025-03-15T08:00:00+08:00"}}
    cond = search.parse_request(body)
    assert (cond.search_id, cond.position, cond.max_results, cond.major, cond.start) == ("abc", 30, 30, 5, start)


def test_search_response_pages():
    item = {"major": 5, "minor": 75, "time": "2025-03-15T07:31:02+08:00", "employeeNoString": "1001",
            "serialNo": 7, "currentVerifyMode": "cardOrFace", "attendanceStatus": "checkIn", "doorNo": 1}
    page = search.parse_response({"AcsEvent": {"searchID": "abc", "responseStatusStrg": "MORE", "numOfMatches": 2,
                                               "totalMatches": 5, "InfoList": [item, {"minor": 1}]}})
    assert page.more and (page.num_matches, page.total_matches) == (2, 5)
    assert [e.serial_no for e in page.events] == [7] and page.events[0].method == "face"
    assert page.bad and "InfoList[1]" in page.bad[0]
    empty = search.parse_response(search.response_body("abc", "NO MATCH", 0, []))
    assert not empty.more and empty.events == []
    with pytest.raises(ProtocolError, match="responseStatusStrg"):
        search.parse_response({"AcsEvent": {"responseStatusStrg": "MAYBE"}})
    with pytest.raises(ProtocolError, match="AcsEvent"):
        search.parse_response({"statusCode": 4})


# -- users, faces, status ----------------------------------------------------------------------
def test_user_setup_body_carries_the_pin_not_the_id_number():
    user = users.terminal_user(1001, "张三", "2025-12-31")
    body = users.setup_body(user)
    assert body == {"UserInfo": {"employeeNo": "1001", "name": "张三", "userType": "normal",
                                 "Valid": {"enable": True, "beginTime": "2000-01-01T00:00:00",
                                           "endTime": "2025-12-31T23:59:59", "timeType": "local"},
                                 "doorRight": "1", "RightPlan": [{"doorNo": 1, "planTemplateNo": "1"}]}}
    assert users.parse_setup(body) == user
    assert users.terminal_user(7, "x" * 50).name == "x" * 32


def test_user_delete_and_search_bodies():
    body = users.delete_body(["1001", "1002"])
    assert body == {"UserInfoDetail": {"mode": "byEmployeeNo",
                                       "EmployeeNoList": [{"employeeNo": "1001"}, {"employeeNo": "1002"}]}}
    assert users.parse_delete(body) == ["1001", "1002"]
    assert users.parse_delete({"UserInfoDetail": {"mode": "all"}}) is None
    assert users.search_body("s", 0, 30) == {"UserInfoSearchCond": {"searchID": "s", "searchResultPosition": 0,
                                                                     "maxResults": 30}}
    page = users.parse_search_response(users.search_response("s", "MORE", 3, [users.terminal_user(1, "a")]))
    assert page.more and page.total == 3 and page.users == [users.terminal_user(1, "a")]


def test_face_upload_multipart():
    body, content_type = users.face_upload("1001", JPEG)
    record, jpeg = users.parse_face_upload(body, content_type)
    assert record == {"faceLibType": "blackFD", "FDID": "1", "FPID": "1001"} and jpeg == JPEG
    with pytest.raises(ValueError, match="JPEG"):
        users.face_upload("1001", b"GIF89a")
    with pytest.raises(ValueError, match="limit"):
        users.face_upload("1001", b"\xff\xd8" + bytes(200 * 1024))


def test_status_answers():
    assert codec.parse_status({"statusCode": 1, "statusString": "OK", "subStatusCode": "ok"}).ok
    bad = codec.parse_status({"statusCode": 6, "statusString": "Invalid Content",
                              "subStatusCode": "employeeNoAlreadyExist"})
    assert not bad.ok and "employeeNoAlreadyExist" in bad.describe()
    with pytest.raises(ProtocolError, match="statusCode"):
        codec.parse_status({"status": 1})


# -- random, truncated and corrupted input -------------------------------------------------------
@FAST
@given(st.binary(max_size=2000), st.sampled_from(["application/json", MULTIPART_TYPE, "text/plain", ""]))
def test_random_bodies_raise_only_protocol_error(body, content_type):
    try:
        codec.parse_push(body, content_type)
    except ProtocolError:
        pass


@FAST
@given(st.integers(0, len(MULTIPART_BODY)))
def test_truncated_multipart_raises_only_protocol_error(cut):
    try:
        event = codec.parse_push(MULTIPART_BODY[:cut], MULTIPART_TYPE)
    except ProtocolError:
        return
    assert event.access is not None and event.access.serial_no == 1199


@FAST
@given(st.integers(0, len(MULTIPART_BODY) - 1), st.integers(0, 255))
def test_corrupted_multipart_raises_only_protocol_error(pos, value):
    body = bytearray(MULTIPART_BODY)
    body[pos] = value
    try:
        codec.parse_push(bytes(body), MULTIPART_TYPE)
    except ProtocolError:
        pass


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner,
                                                                                        max_size=4), max_leaves=20)
EVENT_KEYS = ["majorEventType", "subEventType", "serialNo", "employeeNoString", "name", "cardNo", "doorNo",
              "currentVerifyMode", "attendanceStatus", "major", "minor", "time"]


@FAST
@given(st.dictionaries(st.sampled_from(EVENT_KEYS), JSON_VALUES, max_size=8), JSON_VALUES)
def test_random_event_fields_raise_only_protocol_error(fields, date_time):
    doc = {"eventType": "AccessControllerEvent", "dateTime": date_time, "AccessControllerEvent": fields}
    try:
        codec.parse_push(json.dumps(doc).encode(), "application/json")
    except ProtocolError:
        pass
    try:
        search.parse_response({"AcsEvent": {"responseStatusStrg": "OK", "InfoList": [fields, date_time]}})
    except ProtocolError:
        pass


@FAST
@given(st.lists(st.tuples(st.sampled_from(["a", "event_log", "Picture"]),
                          st.sampled_from(["application/json", "image/jpeg", ""]), st.binary(max_size=300)),
                min_size=1, max_size=4))
def test_multipart_round_trips_any_bytes(parts):
    built = [multipart.Part(n, ct, data) for n, ct, data in parts]
    body, content_type = multipart.build(built)
    assert [(p.name, p.content_type, p.data) for p in multipart.parse(body, content_type)] == \
        [(p.name, p.content_type, p.data) for p in built]
