"""The reference platform over real loopback HTTP, driven by the real client."""
from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from receiver_helpers import APPID, ROSTER, SECRET, item, resident_id
from sitegate.receiver import Receiver
from sitegate.uplink.national import NationalClient, PlatformError
from sitegate.uplink.national.codec import encrypt_id, sign
from sitegate.uplink.national.envelope import AsyncStatus

VECTORS = json.loads((Path(__file__).resolve().parents[2].parent / "shared" / "data" / "vectors" / "vectors.json")
                     .read_text(encoding="utf-8"))["national"]


def test_the_reference_example_form_is_accepted_as_is(receiver):
    # The form from vectors.json, signed by the reference, not by our code; the receiver's clock
    # stands at its timestamp.
    resp = requests.post(receiver.url, data=VECTORS["form"], timeout=5)
    answer = resp.json()
    assert resp.status_code == 200 and answer["code"] == 0, answer
    assert answer["data"]["requestSerialCode"]
    [record] = receiver.records()
    assert (record.id_card_number, record.date, record.direction, record.channel) == (
        "11010119900101001X", "2025-03-15 07:31:02", "01", "东门1号闸")
    assert (record.project_code, record.team_sys_no, record.attend_type) == ("P001", 100156750, "001")


def test_signing_round_trip_with_the_client(client, receiver):
    assert client.check_sign().ok
    serial = client.attendance_add("P001", 100, [item(1), item(2, direction="02")])
    assert serial.startswith("attendance-add-")
    assert {r.id_card_number for r in receiver.records()} == {resident_id(1), resident_id(2)}
    assert client.async_result(serial).status is AsyncStatus.SUCCEEDED


def _code(client, form):
    with pytest.raises(PlatformError) as info:
        client.post_form(form)
    return info.value


def test_bad_signature_is_minus_2(client):
    form = client.build_form("CheckSign.Query", {}, "1.1")
    err = _code(client, {**form, "sign": "0" * 64})
    assert err.code == -2 and err.config_fault and not err.retryable
    err = _code(client, {**form, "nonce": form["nonce"] + "x"})  # any signed field changed
    assert err.code == -2


def test_wrong_secret_and_unknown_appid_are_minus_2(receiver, clock):
    wrong = NationalClient(receiver.url, APPID, "fedcba9876543210FEDCBA9876543210", clock=clock)
    with pytest.raises(PlatformError) as info:
        wrong.check_sign()
    assert info.value.code == -2
    stranger = NationalClient(receiver.url, "OTHER", SECRET, clock=clock)
    with pytest.raises(PlatformError, match=r"\[appid\]") as info:
        stranger.check_sign()
    assert info.value.code == -2


@pytest.mark.parametrize("skew_min, ok", [(-11, False), (-9, True), (9, True), (11, False)])
def test_timestamp_window(receiver, clock, skew_min, ok):
    skewed = NationalClient(receiver.url, APPID, SECRET, clock=lambda: clock() + timedelta(minutes=skew_min))
    if ok:
        assert skewed.check_sign().ok
    else:
        with pytest.raises(PlatformError, match=r"\[timestamp\]") as info:
            skewed.check_sign()
        assert info.value.code == -2 and info.value.config_fault


def test_malformed_timestamp_is_minus_2(client):
    form = client.build_form("CheckSign.Query", {}, "1.1", timestamp="2025-03-15 07:31")
    assert _code(client, form).code == -2


def test_unknown_method_is_minus_3_and_wrong_version_minus_1(client):
    assert _code(client, client.build_form("Salary.Add", {})).code == -3
    err = _code(client, client.build_form("CheckSign.Query", {}, "1.0"))
    assert err.code == -1 and "[version]" in err.message


@pytest.mark.parametrize("drop, message", [("nonce", "[nonce]不能为空!"), ("sign", "[sign]不能为空!"),
                                           ("data", "[data]不能为空!")])
def test_missing_form_fields_are_named(client, receiver, drop, message):
    form = client.build_form("CheckSign.Query", {}, "1.1")
    del form[drop]
    answer = requests.post(receiver.url, data=form, timeout=5).json()
    assert (answer["code"], answer["message"]) == (-1, message)


def test_format_other_than_json_and_repeated_fields(client, receiver):
    form = client.build_form("CheckSign.Query", {}, "1.1")
    form["format"] = "xml"
    form["sign"] = sign(form, SECRET)
    assert _code(client, form).message == "[format]值超出范围或无效!"
    body = "&".join(f"{k}={v}" for k, v in client.build_form("CheckSign.Query", {}, "1.1").items()) + "&nonce=x"
    answer = requests.post(receiver.url, data=body.encode(), timeout=5,
                           headers={"Content-Type": "application/x-www-form-urlencoded"}).json()
    assert (answer["code"], answer["message"]) == (-1, "[nonce]重复!")


def _batch(**changes):
    good = {"idCardType": "01", "idCardNumber": encrypt_id(resident_id(1), SECRET),
            "date": "2025-03-15 07:00:00", "direction": "01", "attendType": "001", "channel": "东门"}
    data = {"projectCode": "P001", "teamSysNo": 100, "dataList": [good]}
    for key, value in changes.items():
        if key in data:
            data[key] = value
        else:
            good[key] = value
    return data


BIG_JPEG = base64.b64encode(b"\xff\xd8\xff" + b"\0" * (50 * 1024)).decode()
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 100).decode()


@pytest.mark.parametrize("data, message", [
    (_batch(teamSysNo="100"), "[teamSysNo]值超出范围或无效!"),
    (_batch(teamSysNo=None), "[teamSysNo]不能为空!"),
    (_batch(projectCode=""), "[projectCode]不能为空!"),
    (_batch(dataList=[]), "[dataList]不能为空!"),
    (_batch(dataList=[_batch()["dataList"][0]] * 21), "[dataList]最多20条!"),
    (_batch(date="2025-03-15 07:33:06"), "[date]不能大于当天!"),   # 2 min after the clock
    (_batch(date="2025/03/15 07:00:00"), "[date]格式不正确，应为yyyy-MM-dd HH:mm:ss!"),
    (_batch(direction="03"), "[direction]值超出范围或无效!"),
    (_batch(attendType="012"), "[attendType]值超出范围或无效!"),
    (_batch(idCardType="02"), "[idCardType]值超出范围或无效!"),
    (_batch(idCardNumber=resident_id(1)), "[idCardNumber]解密失败!"),
    (_batch(idCardNumber=encrypt_id("12345", SECRET)), "[idCardNumber]值超出范围或无效!"),
    (_batch(image=BIG_JPEG), "[image]图片大小不能超过50KB!"),
    (_batch(image=PNG), "[image]必须是JPEG格式的图片!"),
    (_batch(image="***"), "[image]不是有效的Base64编码!"),
    (_batch(lng="east"), "[lng]值超出范围或无效!"),
    (_batch(lat=91), "[lat]值超出范围或无效!"),
    ("not json", "[data]不是有效的JSON!"),
    ([1, 2], "[data]值超出范围或无效!"),
])
def test_bad_items_are_minus_1_with_the_field_and_nothing_is_stored(client, receiver, data, message):
    raw = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    with pytest.raises(PlatformError) as info:
        client.call("WorkerAttendance.Add", raw)
    assert (info.value.code, info.value.message) == (-1, message)
    assert info.value.content_fault
    assert receiver.records() == []


def test_a_good_record_next_to_a_bad_one_is_not_stored_either(client, receiver):
    data = _batch()
    data["dataList"].append({**data["dataList"][0], "direction": "09"})
    with pytest.raises(PlatformError):
        client.call("WorkerAttendance.Add", json.dumps(data))
    assert receiver.records() == []


def test_optional_fields_are_kept(client, receiver):
    jpeg = base64.b64encode(b"\xff\xd8\xff\xe0" + b"\0" * 1000).decode()
    client.attendance_add("P001", 100, [item(1, image_b64=jpeg, lng=117.12, lat=36.65, attend_type="011")])
    [r] = receiver.records()
    assert (r.image_bytes, r.lng, r.lat, r.attend_type) == (1004, 117.12, 36.65, "011")


def test_duplicates_are_counted_by_natural_key(client, receiver):
    batch = [item(1), item(2), item(1, direction="02")]
    first = client.attendance_add("P001", 100, batch)
    second = client.attendance_add("P001", 100, batch)           # a resend, e.g. after a lost answer
    third = client.attendance_add("P001", 100, [item(1), item(3)])
    assert len(receiver.records()) == 4
    key = (resident_id(1), "2025-03-15 07:30:05", "01")
    assert receiver.duplicates() == {key: 2, (resident_id(2), key[1], "01"): 1, (resident_id(1), key[1], "02"): 1}
    assert receiver.stats()["duplicates"] == 4
    for serial in (first, second, third):  # resending an accepted record is not a failure
        assert client.async_result(serial).status is AsyncStatus.SUCCEEDED


def test_same_record_twice_in_one_batch_is_one_record_and_one_duplicate(client, receiver):
    client.attendance_add("P001", 100, [item(5), item(5)])
    assert len(receiver.records()) == 1
    assert list(receiver.duplicates().values()) == [1]


def test_async_result_is_pending_until_the_delay_passed(client, receiver, clock):
    receiver.set_rules(async_delay_s=30)
    serial = client.attendance_add("P001", 100, [item(1)])
    assert client.async_result(serial).status is AsyncStatus.PENDING
    assert receiver.stats()["batches"] == {"0": 1, "10": 0, "20": 0}
    clock.advance(29)
    assert client.async_result(serial).status is AsyncStatus.PENDING
    clock.advance(1)
    assert client.async_result(serial).status is AsyncStatus.SUCCEEDED
    assert receiver.stats()["batches"] == {"0": 0, "10": 0, "20": 1}


def test_unknown_serial_code_is_minus_1(client):
    with pytest.raises(PlatformError, match=r"\[requestSerialCode\]不存在") as info:
        client.async_result("no-such-batch")
    assert info.value.code == -1


def test_rejects_are_listed_per_record(client, receiver):
    receiver.set_rules(reject_id_cards=[resident_id(2)])
    batch = [item(1), item(2), item(3), item(2, direction="02")]
    serial = client.attendance_add("P001", 100, batch)
    result = client.async_result(serial)
    assert result.status is AsyncStatus.FAILED
    assert [(f.index, f.id_card_number, f.message) for f in result.failures] == [
        (1, resident_id(2), "[idCardNumber]人员不在项目中"),
        (3, resident_id(2), "[idCardNumber]人员不在项目中"),
    ]
    by_index, unmatched = result.failures_for([i["idCardNumber"] for i in batch])
    assert sorted(by_index) == [1, 3] and unmatched == []
    assert {r.id_card_number for r in receiver.records("accepted")} == {resident_id(1), resident_id(3)}
    assert receiver.stats()["by_status"] == {"accepted": 2, "rejected": 2}


def test_the_emitted_result_list_is_raw_json_with_index_cipher_and_message(client, receiver):
    receiver.set_rules(reject_id_cards=[resident_id(2)])
    serial = client.attendance_add("P001", 100, [item(2)])
    env = client.call("AsyncHandleResult.Query", {"requestSerialCode": serial})
    assert env.data["status"] == "10"
    assert env.data["result"] == [{"index": 0, "idCardNumber": encrypt_id(resident_id(2), SECRET),
                                   "message": "[idCardNumber]人员不在项目中"}]


def test_a_rejected_record_is_accepted_once_the_cause_is_fixed(client, receiver):
    receiver.set_rules(reject_id_cards=[resident_id(2)])
    first = client.attendance_add("P001", 100, [item(2)])
    receiver.set_rules(reject_id_cards=[])  # the clerk added the worker to the project
    second = client.attendance_add("P001", 100, [item(2)])
    assert client.async_result(first).status is AsyncStatus.FAILED
    assert client.async_result(second).status is AsyncStatus.SUCCEEDED
    [r] = receiver.records()
    assert (r.status, r.serial, r.message) == ("accepted", second, "")
    assert receiver.duplicates() == {}


def test_reject_not_on_roster(client, receiver):
    receiver.set_rules(reject_not_on_roster=True)
    serial = client.attendance_add("P001", 100, [item(1), item(99)])
    assert [f.index for f in client.async_result(serial).failures] == [1]


def test_roster_pages_are_0_based_with_decrypted_ids(client, receiver):
    rows = list(client.project_workers("P001", page_size=3))
    assert [r["idCardNumber"] for r in rows] == [w.id_card_number for w in ROSTER]
    assert rows[0]["workerName"] == "工人1" and rows[0]["teamSysNo"] == 100 and rows[0]["projectCode"] == "P001"
    assert client.counters["requests"] == 3  # pages 0, 1, 2 of 7 rows; stops at totalCount
    page0 = client.call("ProjectWorker.Query", {"projectCode": "P001", "pageIndex": 0, "pageSize": 3}).data
    assert page0["totalCount"] == 7 and len(page0["rows"]) == 3
    assert page0["rows"][0]["idCardNumber"] == encrypt_id(ROSTER[0].id_card_number, SECRET)
    page2 = client.call("ProjectWorker.Query", {"projectCode": "P001", "pageIndex": 2, "pageSize": 3}).data
    assert [r["workerName"] for r in page2["rows"]] == ["工人7"]


def test_roster_filters(client):
    team_b = list(client.project_workers("P001", page_size=2, team_sys_no=200))
    assert [r["workerName"] for r in team_b] == ["工人2", "工人4", "工人6"]
    one = client.call("ProjectWorker.Query", {"projectCode": "P001", "pageIndex": 0, "pageSize": 50,
                                              "idCardNumber": encrypt_id(resident_id(5), SECRET)}).data
    assert one["totalCount"] == 1 and one["rows"][0]["workerName"] == "工人5"


@pytest.mark.parametrize("query, field", [({"pageIndex": -1, "pageSize": 10}, "pageIndex"),
                                          ({"pageIndex": 0, "pageSize": 0}, "pageSize"),
                                          ({"pageIndex": 0, "pageSize": 101}, "pageSize"),
                                          ({"pageIndex": "0", "pageSize": 10}, "pageIndex")])
def test_roster_paging_parameters_are_checked(client, query, field):
    with pytest.raises(PlatformError, match=rf"\[{field}\]"):
        client.call("ProjectWorker.Query", {"projectCode": "P001", **query})


def test_stats_endpoint_and_unknown_paths(client, receiver):
    client.attendance_add("P001", 100, [item(1)])
    base = receiver.url.rsplit("/", 1)[0]
    stats = requests.get(base + "/stats", timeout=5).json()
    assert stats["records"] == 1 and stats["by_status"] == {"accepted": 1, "rejected": 0}
    assert stats["codes"] == {"0": 1}
    assert requests.get(base + "/nothing", timeout=5).status_code == 404
    assert requests.post(base + "/other.api", data={"a": "b"}, timeout=5).status_code == 404


def test_records_survive_a_restart(tmp_path, clock):
    db = str(tmp_path / "p.db")
    with Receiver(APPID, SECRET, db, clock=clock) as rx:
        NationalClient(rx.url, APPID, SECRET, clock=clock).attendance_add("P001", 100, [item(1)])
    with Receiver(APPID, SECRET, db, clock=clock) as rx:
        c = NationalClient(rx.url, APPID, SECRET, clock=clock)
        c.attendance_add("P001", 100, [item(1)])
        assert len(rx.records()) == 1 and sum(rx.duplicates().values()) == 1


def test_receiver_listens_on_loopback_only_by_default(receiver):
    assert receiver.url.startswith("http://127.0.0.1:")


def test_rules_set_before_start_apply(tmp_path, clock):
    rx = Receiver(APPID, SECRET, str(tmp_path / "r.db"), clock=clock)
    rx.set_rules(reject_id_cards=[resident_id(4).lower()], async_delay_s=5)
    with rx:
        c = NationalClient(rx.url, APPID, SECRET, clock=clock)
        serial = c.attendance_add("P001", 100, [item(4)])
        assert c.async_result(serial).status is AsyncStatus.PENDING
        clock.advance(5)
        assert c.async_result(serial).failures[0].message == "[idCardNumber]人员不在项目中"
