"""National OpenAPI codec against the worked example in shared/data/vectors/vectors.json and the
rules of reference/protocols.md §5 (expected values come from there, not from the code)."""
from __future__ import annotations

import base64
import json
import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from sitegate.model import Method
from sitegate.uplink.national import codec
from sitegate.uplink.national.crypto import signing_string
from sitegate.uplink.national.errors import BadSecret, DecryptError, InvalidRecord

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "vectors" / "vectors.json"
NATIONAL = json.loads(VECTORS.read_text(encoding="utf-8"))["national"]
SECRET = NATIONAL["appsecret"]
FORM = NATIONAL["form"]


def test_sign_reproduces_the_worked_example():
    assert codec.sign(FORM, SECRET) == FORM["sign"]


def test_sign_ignores_the_sign_field_and_extra_fields():
    unsigned = {k: v for k, v in FORM.items() if k != "sign"}
    assert codec.sign(unsigned, SECRET) == FORM["sign"]
    assert codec.sign({**unsigned, "corpsign": "x"}, SECRET) == FORM["sign"]


def test_signing_string_is_sorted_raw_and_lower_cased():
    s = signing_string(FORM, SECRET)
    assert s.startswith("appid=testappid0001&data={")          # lower-cased, not URL-encoded
    assert "&format=json&method=workerattendance.add&nonce=a1b2c3d4e5f6&timestamp=20250315073105&version=1.0" in s
    assert s.endswith("&appsecret=0123456789abcdef0123456789abcdef")
    assert "东门1号闸" in s


def test_sign_changes_with_any_signed_field_but_not_case():
    for key in codec.SIGNED_FIELDS:
        changed = {**FORM, key: FORM[key] + "1"}
        assert codec.sign(changed, SECRET) != FORM["sign"], key
    # The whole string is lower-cased, so an upper-cased value signs the same (reference quirk).
    assert codec.sign({**FORM, "nonce": FORM["nonce"].upper()}, SECRET) == FORM["sign"]


def test_sign_names_a_missing_field():
    with pytest.raises(ValueError, match="nonce"):
        codec.sign({k: v for k, v in FORM.items() if k != "nonce"}, SECRET)


def test_sign_matches_is_case_insensitive_and_rejects_wrong():
    assert codec.sign_matches(FORM, SECRET)
    assert codec.sign_matches({**FORM, "sign": FORM["sign"].upper()}, SECRET)
    assert not codec.sign_matches({**FORM, "sign": "0" * 64}, SECRET)
    assert not codec.sign_matches({**FORM, "sign": "中文"}, SECRET)
    assert not codec.sign_matches(FORM, SECRET[::-1])


def test_build_form_reproduces_the_example_byte_for_byte():
    data = json.loads(FORM["data"])
    form = codec.build_form(FORM["method"], data, FORM["appid"], SECRET,
                            timestamp=FORM["timestamp"], nonce=FORM["nonce"])
    assert form == FORM
    assert form["data"].encode("utf-8") == FORM["data"].encode("utf-8")
    assert SECRET not in json.dumps(form)


def test_build_form_sends_a_string_data_unchanged():
    odd = '{"b":1, "a":2}'  # not compact, not sorted: a stored batch goes out as stored
    form = codec.build_form("X.Add", odd, "A", SECRET, timestamp="20250101000000", nonce="n")
    assert form["data"] == odd


def test_build_form_refuses_empty_fields():
    with pytest.raises(ValueError, match="nonce"):
        codec.build_form("X.Add", {}, "A", SECRET, timestamp="20250101000000", nonce="")


def test_aes_vector_both_directions():
    assert codec.encrypt_id(NATIONAL["aes"]["plain"], SECRET) == NATIONAL["aes"]["cipher"]
    assert codec.decrypt_id(NATIONAL["aes"]["cipher"], SECRET) == NATIONAL["aes"]["plain"]


@pytest.mark.parametrize("cipher, problem", [
    ("not base64!", "Base64"),
    ("", "multiple of 16"),
    (base64.b64encode(b"x" * 15).decode(), "multiple of 16"),
    (base64.b64encode(b"x" * 16).decode(), "padding|UTF-8"),
    (None, "string"),
])
def test_decrypt_names_what_is_wrong(cipher, problem):
    with pytest.raises(DecryptError, match=problem):
        codec.decrypt_id(cipher, SECRET)


def test_decrypt_with_the_wrong_secret_fails_cleanly():
    other = "fedcba9876543210FEDCBA9876543210"
    with pytest.raises(DecryptError):
        codec.decrypt_id(NATIONAL["aes"]["cipher"], other)


@pytest.mark.parametrize("secret", ["short", "0123456789abcdef0123456789ABCDEF0", "密" * 11])
def test_a_secret_that_is_not_32_bytes_is_refused_without_echoing_it(secret):
    with pytest.raises(BadSecret) as info:
        codec.encrypt_id("1", secret)
    assert secret not in str(info.value)


# -- Beijing time ------------------------------------------------------------------------------

def test_beijing_time_from_utc_and_from_another_zone():
    utc = datetime(2025, 3, 14, 23, 31, 2, 999_999, tzinfo=timezone.utc)
    assert codec.beijing_time(utc) == "2025-03-15 07:31:02"  # +8 h, fraction cut not rounded
    assert codec.beijing_timestamp(utc) == "20250315073102"
    berlin = utc.astimezone(timezone(timedelta(hours=1)))
    assert codec.beijing_time(berlin) == "2025-03-15 07:31:02"


@pytest.fixture
def machine_zone():
    """Set the process's zone (TZ + tzset) and put the original back afterwards."""
    original = os.environ.get("TZ")

    def set_zone(zone: str) -> None:
        os.environ["TZ"] = zone
        time.tzset()

    yield set_zone
    if original is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = original
    time.tzset()


def test_beijing_time_does_not_depend_on_the_machine_zone(machine_zone):
    utc = datetime(2025, 3, 15, 0, 0, 0, tzinfo=timezone.utc)
    for zone in ("America/New_York", "UTC", "Asia/Kolkata"):
        machine_zone(zone)
        local = datetime.fromtimestamp(utc.timestamp()).astimezone()  # aware, in the machine's zone
        assert codec.beijing_time(utc) == "2025-03-15 08:00:00"
        assert codec.beijing_timestamp(local) == "20250315080000", zone


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="naive"):
        codec.beijing_time(datetime(2025, 3, 15, 7, 31, 2))


def test_parse_beijing_round_trip_and_strictness():
    when = codec.parse_beijing_time("2025-03-15 07:31:02")
    assert when.utcoffset() == timedelta(hours=8)
    assert codec.beijing_time(when) == "2025-03-15 07:31:02"
    assert codec.parse_beijing_timestamp("20250315073105") == when + timedelta(seconds=3)
    for bad in ("2025-3-5 7:1:2", "2025-03-15T07:31:02", "2025-02-30 00:00:00", "２０２５-03-15 07:31:02"):
        with pytest.raises(ValueError):
            codec.parse_beijing_time(bad)


# -- attendance records ---------------------------------------------------------------------------

EXAMPLE_ITEM = json.loads(FORM["data"])["dataList"][0]


def test_attendance_add_data_reproduces_the_example():
    item = codec.attendance_item(NATIONAL["aes"]["plain"], "2025-03-15 07:31:02", "01", "001", "东门1号闸")
    data = codec.attendance_add_data("P001", 100156750, [item], SECRET)
    assert data == FORM["data"]
    # Built again, later, from the same values: the same bytes (a resend is identical).
    again = codec.attendance_add_data("P001", 100156750, [dict(item)], SECRET)
    assert again.encode() == data.encode()


def test_attendance_item_accepts_an_aware_datetime_and_optional_fields():
    when = datetime(2025, 3, 14, 23, 31, 2, tzinfo=timezone.utc)
    jpeg = base64.b64encode(b"\xff\xd8\xff\xe0" + b"\0" * 100).decode()
    item = codec.attendance_item("11010119900101001x", when, "02", "011", "围栏A", image_b64=jpeg,
                                 lng=117.0, lat=36.65)
    assert item == {"idCardType": "01", "idCardNumber": "11010119900101001X", "date": "2025-03-15 07:31:02",
                    "direction": "02", "attendType": "011", "channel": "围栏A", "image": jpeg,
                    "lng": 117.0, "lat": 36.65}
    assert list(item)[:6] == list(EXAMPLE_ITEM)


@pytest.mark.parametrize("kwargs, field", [
    ({"id_card_number": "12345"}, "idCardNumber"),
    ({"id_card_number": ""}, "idCardNumber"),
    ({"date_str": "2025-03-15 7:31:02"}, "date"),
    ({"date_str": datetime(2025, 3, 15)}, "date"),
    ({"direction": "03"}, "direction"),
    ({"direction": "in"}, "direction"),
    ({"attend_type": "012"}, "attendType"),
    ({"channel": " "}, "channel"),
    ({"channel": "x" * 101}, "channel"),
    ({"image_b64": "@@@"}, "image"),
    ({"image_b64": base64.b64encode(b"\x89PNG....").decode()}, "JPEG"),
    ({"image_b64": base64.b64encode(b"\xff\xd8\xff" + b"\0" * 50_000).decode()}, "image is 50003 bytes"),
    ({"lng": 117.0}, "lng and lat"),
    ({"lng": 190.0, "lat": 36.0}, "lng"),
    ({"lng": float("nan"), "lat": 36.0}, "lng"),
    ({"lng": 117.0, "lat": True}, "lat"),
    ({"id_card_type": "1"}, "idCardType"),
])
def test_attendance_item_names_the_bad_field(kwargs, field):
    args = {"id_card_number": "11010119900101001X", "date_str": "2025-03-15 07:31:02", "direction": "01",
            "attend_type": "001", "channel": "东门1号闸", **kwargs}
    with pytest.raises(InvalidRecord, match=field):
        codec.attendance_item(**args)


def test_other_id_card_types_skip_the_resident_shape_check():
    item = codec.attendance_item("E12345678", "2025-03-15 07:31:02", "01", "001", "东门", id_card_type="03")
    assert item["idCardType"] == "03"


@pytest.mark.parametrize("count", [0, codec.MAX_ITEMS + 1])
def test_batch_size_is_bounded(count):
    item = codec.attendance_item("11010119900101001X", "2025-03-15 07:31:02", "01", "001", "东门")
    with pytest.raises(InvalidRecord, match="1 to 20"):
        codec.attendance_add_data("P001", 1, [item] * count, SECRET)


@pytest.mark.parametrize("team", ["100", True, 1.0])
def test_team_must_be_an_integer(team):
    item = codec.attendance_item("11010119900101001X", "2025-03-15 07:31:02", "01", "001", "东门")
    with pytest.raises(InvalidRecord, match="teamSysNo"):
        codec.attendance_add_data("P001", team, [item], SECRET)


def test_attend_type_table_is_the_reference_table():
    assert sorted(codec.ATTEND_TYPES) == [f"{i:03d}" for i in range(1, 12)]


def test_every_sitegate_method_has_an_attend_type():
    expected = {"face": "001", "fingerprint": "003", "idcard": "005", "card": "006",
                "geofence": "011", "manual": "011", "other": "011"}
    for method in Method:
        assert codec.attend_type_for(method) == expected[method.value]
    with pytest.raises(InvalidRecord, match="telepathy"):
        codec.attend_type_for("telepathy")


def test_jpeg_for_upload_shrinks_a_large_photo_under_the_limit():
    from sitegate.uplink.national.images import jpeg_for_upload

    photo = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "faces" / "obama-720p.jpg"
    if not photo.exists():
        pytest.skip("shared face photos not available")
    raw = photo.read_bytes()
    assert len(raw) > codec.SAFE_IMAGE_BYTES
    b64 = jpeg_for_upload(raw)
    out = base64.b64decode(b64)
    assert out.startswith(b"\xff\xd8\xff") and len(out) <= codec.SAFE_IMAGE_BYTES
    codec.check_image(b64)
    small = b"\xff\xd8\xff\xe0" + b"\0" * 10
    assert base64.b64decode(jpeg_for_upload(small)) == small  # already fits: unchanged
    with pytest.raises(InvalidRecord, match="decoded"):
        jpeg_for_upload(b"not a picture at all" * 5000)
