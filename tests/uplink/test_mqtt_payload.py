"""The JSON record both feed profiles send (gateway/uplink/payload.py), checked against values
computed outside the code under test with the OpenSSL 3 command line:

    K=000102…1e1f
    openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt hexkey:$K \
        -kdfopt info:sitegate/payload-nonce/v1 HKDF                              -> NONCE_KEY
    printf '<event_id>|id_card_number\\x00370102198511201233' \
        | openssl dgst -sha256 -mac HMAC -macopt hexkey:$NONCE_KEY               -> NONCE (first 12 bytes)
    printf $K | xxd -r -p | openssl dgst -sha256                                 -> KEY_ID (first 16 hex)
"""
from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sitegate.model import AttendanceEvent, Direction, EventTime, Location, Method, Source, WorkerRef
from sitegate.uplink.payload import (
    PayloadDecryptError, PayloadKey, PayloadKeyError, RecordBuilder, attendance_record, canonical_json,
    decrypt_field, encrypt_field, field_aad,
)
from tests.uplink.mosquitto import PAYLOAD_KEY_HEX, secret_file

KEY = bytes.fromhex(PAYLOAD_KEY_HEX)
NONCE_KEY = "68b0ec73e052039f565fc674ffdd68f4ce6965e366b90c220e7db4a993c62574"
EVENT_ID = "0190f5c2-7a4e-7b3d-8c1a-2f9e4d6b1a20"
ID_NUMBER = "370102198511201233"
NONCE = bytes.fromhex("cbeb946168e49e1a2d3e64e0")
KEY_ID = "630dcd2966c43366"


def sample_event(**kw) -> AttendanceEvent:
    return AttendanceEvent(
        event_id=EVENT_ID,
        worker=WorkerRef(id_card_number=ID_NUMBER, name="张三", team_sys_no=100156750, team_name="钢筋班"),
        direction=Direction.IN, method=Method.FACE,
        source=Source(device_id="east-gate", lane="east-1", driver="hik-isapi"),
        time=EventTime(wall=datetime(2025, 11, 28, 1, 2, 3, 456000, tzinfo=timezone.utc), synced=True),
        **kw,
    )


def test_key_id_and_nonce_key_match_openssl():
    key = PayloadKey(KEY)
    assert key.key_id == KEY_ID
    assert key.nonce_key.hex() == NONCE_KEY
    assert "000102" not in repr(key)


def test_id_number_token_is_the_openssl_nonce_then_aes_gcm():
    aad = f"{EVENT_ID}|id_card_number".encode()
    expected = base64.b64encode(NONCE + AESGCM(KEY).encrypt(NONCE, ID_NUMBER.encode(), aad)).decode()
    assert encrypt_field(PayloadKey(KEY), ID_NUMBER, field_aad(EVENT_ID, "id_card_number")) == expected


def test_record_fields_and_receiver_side_decryption():
    rec = attendance_record(sample_event(location=Location(117.0, 36.6, 8.0), note="补卡 370102198511201233"),
                            project_code="P1", gateway_id="gw-1", key=PayloadKey(KEY))
    assert rec["schema"] == "sitegate.attendance/1" and rec["event_id"] == EVENT_ID
    assert rec["id_card_number_masked"] == "370102********1233"
    assert rec["time"] == "2025-11-28T09:02:03.456+08:00"      # Beijing time, as the standard requires
    assert rec["location"] == {"lng": 117.0, "lat": 36.6, "accuracy_m": 8.0, "crs": "WGS-84"}
    assert ID_NUMBER not in json.dumps(rec, ensure_ascii=False)  # not in clear anywhere, the note masked too
    raw = base64.b64decode(rec["id_card_number_enc"])
    assert AESGCM(KEY).decrypt(raw[:12], raw[12:], f"{EVENT_ID}|id_card_number".encode()) == ID_NUMBER.encode()
    raw = base64.b64decode(rec["name_enc"])
    assert AESGCM(KEY).decrypt(raw[:12], raw[12:], f"{EVENT_ID}|name".encode()).decode() == "张三"
    assert rec["key_id"] == KEY_ID


def test_same_event_gives_byte_identical_payloads_and_tokens_are_bound_to_their_record():
    key = PayloadKey(KEY)
    one = canonical_json(attendance_record(sample_event(), project_code="P", gateway_id="g", key=key))
    two = canonical_json(attendance_record(sample_event(), project_code="P", gateway_id="g", key=key))
    assert one == two
    token = json.loads(one)["id_card_number_enc"]
    with pytest.raises(PayloadDecryptError, match="authentication"):
        decrypt_field(key, token, field_aad("another-event", "id_card_number"))
    with pytest.raises(PayloadDecryptError, match="authentication"):
        decrypt_field(key, token, field_aad(EVENT_ID, "name"))
    with pytest.raises(PayloadDecryptError, match="authentication"):
        decrypt_field(PayloadKey(b"\x01" * 32), token, field_aad(EVENT_ID, "id_card_number"))


def test_worker_without_id_number_or_name():
    ev = sample_event().with_(worker=WorkerRef())
    rec = attendance_record(ev, project_code="P", gateway_id="g", key=PayloadKey(KEY))
    assert rec["id_card_number_enc"] is None and rec["name_enc"] is None and rec["id_card_number_masked"] == ""


@pytest.mark.parametrize("text, problem", [
    ("", "64 hex characters"), ("ab" * 31, "has 62"), ("zz" * 32, "hex characters"), ("ab" * 33, "has 66"),
])
def test_bad_key_text_is_named(text, problem):
    with pytest.raises(PayloadKeyError, match=problem):
        PayloadKey.from_hex(text)


def test_key_file_must_be_set_exist_and_be_private(tmp_path):
    with pytest.raises(PayloadKeyError, match="payload_key_file is not set"):
        PayloadKey.from_file("")
    with pytest.raises(PayloadKeyError, match="does not exist"):
        PayloadKey.from_file(str(tmp_path / "nope"))
    path = secret_file(tmp_path / "k", PAYLOAD_KEY_HEX)
    assert PayloadKey.from_file(str(path)).key == KEY
    path.chmod(0o644)
    with pytest.raises(PayloadKeyError, match="0600"):
        PayloadKey.from_file(str(path))


def test_unreadable_rows_are_reported_not_raised(tmp_path):
    from sitegate.buffer import Store
    from tests.foundation.helpers import event

    with Store.open(tmp_path / "d", uplinks=["mqtt"]) as store:
        good, bad = event(ID_NUMBER), event(ID_NUMBER)
        store.append(good)
        store.append(bad)
        store.write(lambda c: c.execute("UPDATE events SET id_enc = x'01deadbeef' WHERE event_id = ?", (bad.event_id,)))
        builder = RecordBuilder(cipher=store.cipher, project_code="P", gateway_id="g", key=PayloadKey(KEY))
        records, problems = builder.records(store.query("SELECT * FROM events ORDER BY seq"))
        assert [r["event_id"] for r in records] == [good.event_id]
        [(eid, why)] = problems
        assert eid == bad.event_id and "cannot be read" in why


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=120), st.binary(max_size=90).map(lambda b: base64.b64encode(b).decode())))
def test_decrypt_field_takes_any_token_and_raises_only_its_own_error(token):
    with pytest.raises(PayloadDecryptError):
        decrypt_field(PayloadKey(KEY), token, b"aad")


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=60), st.text(max_size=40))
def test_encrypt_then_decrypt_round_trips(plain, field):
    key = PayloadKey(KEY)
    aad = field_aad(EVENT_ID, field)
    assert decrypt_field(key, encrypt_field(key, plain, aad), aad) == plain
