"""Property tests of the national codec's parsers of outside input: whatever arrives, only our
documented error types come out."""
from __future__ import annotations

import json
import re
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sitegate.uplink.national import codec
from sitegate.uplink.national.errors import DecryptError, GarbageResponse

SECRET = "0123456789abcdef0123456789ABCDEF"
PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
envelope_like = st.fixed_dictionaries(
    {},
    optional={"code": json_values | st.integers(-10, 10).map(str), "message": json_values, "data": json_values},
)
good_envelope = json.dumps({"code": 0, "message": "成功", "data": {"requestSerialCode": "x"}}, ensure_ascii=False).encode()


def _damage(body: bytes, data: st.DataObject) -> bytes:
    kind = data.draw(st.sampled_from(["truncate", "flip", "insert", "oversize"]))
    if kind == "truncate":
        return body[: data.draw(st.integers(0, len(body)))]
    if kind == "flip":
        i = data.draw(st.integers(0, len(body) - 1))
        return body[:i] + bytes([body[i] ^ data.draw(st.integers(1, 255))]) + body[i + 1:]
    if kind == "insert":
        i = data.draw(st.integers(0, len(body)))
        return body[:i] + data.draw(st.binary(min_size=1, max_size=20)) + body[i:]
    return body + b" " * data.draw(st.integers(0, 100_000)) + data.draw(st.binary(max_size=10))


@PROPS
@given(st.binary(max_size=2000))
def test_random_bodies_raise_only_garbage(body):
    try:
        env = codec.parse_response(body)
    except GarbageResponse:
        return
    assert isinstance(env.code, int) and isinstance(env.message, str)


@PROPS
@given(envelope_like)
def test_envelope_shaped_json_raises_only_garbage(doc):
    body = json.dumps(doc, ensure_ascii=False).encode()
    code = doc.get("code")
    has_code = (isinstance(code, int) and not isinstance(code, bool)) or (
        isinstance(code, str) and re.fullmatch(r"-?[0-9]{1,11}", code.strip()) is not None)
    try:
        env = codec.parse_response(body)
    except GarbageResponse:
        assert not has_code
        return
    assert has_code and env.code == int(code)


@PROPS
@given(st.data())
def test_damaged_envelopes_raise_only_garbage(data):
    body = _damage(good_envelope, data)
    try:
        codec.parse_response(body)
    except GarbageResponse:
        pass


@PROPS
@given(json_values | st.fixed_dictionaries({"status": st.sampled_from(["0", "10", "20", 10, "x"])},
                                           optional={"result": json_values}))
def test_async_results_raise_only_garbage(data):
    try:
        result = codec.parse_async_result(data, SECRET)
    except GarbageResponse:
        return
    ids = ["11010119900101001X", "A"]
    by_index, unmatched = result.failures_for(ids)
    assert set(by_index) <= {0, 1}
    assert all(isinstance(m, str) for m in by_index.values())


@PROPS
@given(st.text(max_size=64), st.text(alphabet=string.printable, min_size=32, max_size=32))
def test_encrypt_decrypt_round_trip(plain, secret):
    cipher = codec.encrypt_id(plain, secret)
    assert codec.decrypt_id(cipher, secret) == plain
    assert codec.encrypt_id(plain, secret) == cipher  # deterministic: a resend is identical


@PROPS
@given(st.text(max_size=80) | st.binary(max_size=64).map(lambda b: __import__("base64").b64encode(b).decode()))
def test_decrypt_of_anything_raises_only_decrypt_error(cipher):
    try:
        codec.decrypt_id(cipher, SECRET)
    except DecryptError:
        pass


printable_values = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)


@PROPS
@given(printable_values, printable_values, st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=5))
def test_build_form_signs_what_it_sends(appid, nonce, data):
    form = codec.build_form("WorkerAttendance.Add", data, appid, SECRET, timestamp="20250315073105", nonce=nonce)
    assert codec.sign_matches(form, SECRET)
    assert json.loads(form["data"]) == data
    again = codec.build_form("WorkerAttendance.Add", data, appid, SECRET, timestamp="20250315073105", nonce=nonce)
    assert again == form
