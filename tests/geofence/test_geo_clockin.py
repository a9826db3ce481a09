"""The phone clock-in request: a signature vector made outside our code, every rejection reason,
fuzzing (only ClockInRejected may escape), the nonce cache and the rate limiter."""
from __future__ import annotations

import json
import os
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sitegate.geofence import phonekeys
from sitegate.geofence.clockin import (MAX_BODY_BYTES, REASONS, REJECTIONS, ClockInRejected, canonical_bytes,
                                       parse_and_verify, sign_request)
from sitegate.geofence.guards import NonceCache, NonceResult, RateLimiter

KEY = bytes(range(32))
KEYS = {"P-0001": KEY}
NOW = 1_718_000_002.0   # 2 s after the vector's fix time

# Made with `openssl dgst -sha256 -mac HMAC -macopt hexkey:000102...1f` over CANONICAL: the body
# writes its numbers in unusual but valid ways (8.50, 3.66512345e1) that the canonical string
# must repeat verbatim.
CANONICAL = (b'{"accuracy_m":8.50,"crs":"gcj02","fix_time":1718000000000,"is_mock":false,"lat":3.66512345e1,'
             b'"lng":117.0123456,"nonce":"0123456789abcdef0123","phone_id":"P-0001","provider":"fused"}')
SIG = "d034ae1deaf5eee1329fe645d4db0e585c17bf53d75f9d7e22b4f60ab06c7861"
BODY = ('{ "phone_id": "P-0001", "lng": 117.0123456, "lat": 3.66512345e1, "crs": "gcj02",\n'
        '  "accuracy_m": 8.50, "fix_time": 1718000000000, "provider": "fused", "is_mock": false,\n'
        f'  "nonce": "0123456789abcdef0123", "sig": "{SIG}" }}').encode()


def verify(raw, now=NOW, nonces=None, **kw):
    return parse_and_verify(raw, KEYS.get, nonces if nonces is not None else NonceCache(), now, **kw)


def payload(**over):
    p = {"phone_id": "P-0001", "lng": 117.0123456, "lat": 36.6512345, "crs": "wgs84", "accuracy_m": 6.5,
         "fix_time": int((NOW - 3) * 1000), "provider": "gps", "is_mock": False, "nonce": os.urandom(12).hex()}
    p.update(over)
    return p


def signed(**over) -> bytes:
    return json.dumps(sign_request(payload(**over), KEY)).encode()


def test_outside_vector_verifies():
    c = verify(BODY)
    assert (c.phone_id, c.lng, c.lat, c.crs, c.accuracy_m, c.fix_time_ms, c.provider, c.is_mock) == \
        ("P-0001", 117.0123456, 36.6512345, "gcj02", 8.5, 1718000000000, "fused", False)
    assert c.fix_time == 1_718_000_000.0 and c.received_at == NOW
    # GCJ-02 in, WGS-84 kept: the fix moved by hundreds of metres, south-west in Jinan
    assert c.wgs_lng < c.lng and c.wgs_lat < c.lat


def test_canonical_string_of_a_python_payload():
    p = {"phone_id": "P-0001", "lng": 117.0123456, "lat": 36.6512345, "crs": "wgs84", "accuracy_m": None,
         "fix_time": 1718000000000, "provider": "gps", "is_mock": True, "nonce": "abcdefghijklmnop", "sig": "x"}
    assert canonical_bytes(p) == (b'{"accuracy_m":null,"crs":"wgs84","fix_time":1718000000000,"is_mock":true,'
                                  b'"lat":36.6512345,"lng":117.0123456,"nonce":"abcdefghijklmnop",'
                                  b'"phone_id":"P-0001","provider":"gps"}')


def test_sign_request_round_trips_and_null_accuracy_is_accepted():
    c = verify(signed(accuracy_m=None))
    assert c.accuracy_m is None and c.wgs_lng == c.lng


def reject(raw, reason, *, now=NOW, nonces=None, **kw):
    counters: Counter[str] = Counter()
    with pytest.raises(ClockInRejected) as err:
        verify(raw, now=now, nonces=nonces, counters=counters, **kw)
    assert err.value.reason == reason, err.value
    assert counters == Counter({reason: 1})
    return err.value.message


def test_too_large():
    body = signed(provider="gps")
    big = body[:-1] + b" " * (MAX_BODY_BYTES - len(body) + 1) + b"}"
    assert len(big) == MAX_BODY_BYTES + 1
    assert "limit 4096" in reject(big, "too_large")


@pytest.mark.parametrize("raw,words", [
    (b"\xff\xfe{}", "not UTF-8"),
    (b"", "not valid JSON"),
    (b"{\"phone_id\": ", "not valid JSON"),
    (b"[1, 2]", "must be a JSON object, got array"),
    (b"42", "must be a JSON object, got number"),
    (b'{"a": 1, "a": 2}', "duplicate member 'a'"),
    (b"[" * 4000, "not valid JSON"),
])
def test_bad_json(raw, words):
    assert words in reject(raw, "bad_json")


def test_deep_nesting_is_bad_json_not_a_crash():
    assert reject(b"[" * 2000 + b"]" * 2000, "bad_json")


@pytest.mark.parametrize("change,words", [
    (lambda p: p.pop("nonce"), "missing field(s): nonce"),
    (lambda p: p.update(extra=1), "unexpected field(s): 'extra'"),
    (lambda p: p.update(lng="117.0"), "field 'lng' must be a number, got string"),
    (lambda p: p.update(lat=True), "field 'lat' must be a number, got boolean"),
    (lambda p: p.update(crs="WGS84"), "field 'crs' must be one of wgs84, gcj02, bd09"),
    (lambda p: p.update(accuracy_m=-1), "field 'accuracy_m' must be a finite number >= 0"),
    (lambda p: p.update(accuracy_m="5"), "field 'accuracy_m' must be a number of metres or null"),
    (lambda p: p.update(fix_time=1718000000.5), "field 'fix_time' must be a positive integer: epoch milliseconds"),
    (lambda p: p.update(fix_time="2024-06-10T08:00:00+08:00"), "epoch milliseconds"),
    (lambda p: p.update(fix_time=-5), "epoch milliseconds"),
    (lambda p: p.update(is_mock=0), "field 'is_mock' must be true or false"),
    (lambda p: p.update(nonce="short"), "field 'nonce' must be a string of 16-64"),
    (lambda p: p.update(nonce="x" * 65), "field 'nonce'"),
    (lambda p: p.update(phone_id="P 1"), "field 'phone_id'"),
    (lambda p: p.update(provider=""), "field 'provider'"),
    (lambda p: p.update(sig="D" * 64), "field 'sig' must be a string of 64 lowercase hex"),
])
def test_schema_names_the_field(change, words):
    p = sign_request(payload(), KEY)
    change(p)
    assert words in reject(json.dumps(p).encode(), "schema")


def test_unknown_phone():
    body = json.dumps(sign_request(payload(phone_id="P-9999"), KEY)).encode()
    assert "'P-9999' is not registered" in reject(body, "unknown_phone")


@pytest.mark.parametrize("tamper", [
    lambda p: p.update(lng=p["lng"] + 1e-7),
    lambda p: p.update(is_mock=True),
    lambda p: p.update(fix_time=p["fix_time"] + 1),
    lambda p: p.update(sig="0" * 64),
])
def test_bad_signature(tamper):
    p = sign_request(payload(), KEY)
    tamper(p)
    reject(json.dumps(p).encode(), "bad_signature")


def test_signature_with_another_key_and_number_rewriting():
    reject(json.dumps(sign_request(payload(), bytes(32))).encode(), "bad_signature")
    # the same value written differently is a different canonical string: 8.5 signed, 8.50 sent
    body = signed(accuracy_m=8.5).replace(b'"accuracy_m": 8.5', b'"accuracy_m": 8.50')
    assert b"8.50" in body
    reject(body, "bad_signature")


@pytest.mark.parametrize("over", [{"lat": 90.5}, {"lng": -180.01}, {"lat": float("nan")},
                                  {"lng": float("inf")}, {"lat": 1e400}])
def test_bad_coordinates(over):
    assert "lng -180..180" in reject(signed(**over), "bad_coordinates")


@pytest.mark.parametrize("age_s", [601, 86_400, -301])
def test_fix_time_outside_the_window(age_s):
    reject(signed(fix_time=int((NOW - age_s) * 1000)), "fix_time_window")


def test_fix_time_window_edges_are_accepted():
    verify(signed(fix_time=int((NOW - 600) * 1000)))
    verify(signed(fix_time=int((NOW + 300) * 1000)))


def test_replayed_nonce():
    nonces = NonceCache()
    body = signed()
    verify(body, nonces=nonces)
    assert "already used" in reject(body, "replayed", nonces=nonces)
    # a fresh nonce is fine, and another phone may use the same nonce text
    verify(signed(), nonces=nonces)


def test_rate_limited_does_not_burn_the_nonce():
    limiter = RateLimiter(rate_per_s=0.1, burst=2)
    nonces = NonceCache()
    verify(signed(), nonces=nonces, rate_limiter=limiter)
    verify(signed(), nonces=nonces, rate_limiter=limiter)
    body = signed()
    reject(body, "rate_limited", nonces=nonces, rate_limiter=limiter)
    verify(body, now=NOW + 10, nonces=nonces, rate_limiter=limiter)   # a token later, same request passes


def test_rejections_are_counted_globally_by_default():
    before = REJECTIONS["bad_json"]
    with pytest.raises(ClockInRejected):
        parse_and_verify(b"nope", KEYS.get, NonceCache(), NOW)
    assert REJECTIONS["bad_json"] == before + 1


# ---- fuzzing: nothing but ClockInRejected escapes ----------------------------------------

def _fuzz(raw: bytes) -> None:
    try:
        verify(raw)
    except ClockInRejected as exc:
        assert exc.reason in REASONS


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=5000))
def test_random_bytes(raw):
    _fuzz(raw)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_random_json(value):
    _fuzz(json.dumps(value).encode())


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({k: json_values for k in payload()}, optional={"sig": st.text(max_size=70)}))
def test_random_values_in_the_right_fields(obj):
    _fuzz(json.dumps(obj).encode())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_truncated_and_corrupted_valid_bodies(data):
    body = bytearray(signed())
    how = data.draw(st.sampled_from(["truncate", "flip", "insert", "grow"]))
    if how == "truncate":
        body = body[: data.draw(st.integers(0, len(body) - 1))]
    elif how == "flip":
        i = data.draw(st.integers(0, len(body) - 1))
        body[i] ^= data.draw(st.integers(1, 255))
    elif how == "insert":
        i = data.draw(st.integers(0, len(body)))
        body[i:i] = data.draw(st.binary(min_size=1, max_size=50))
    else:
        body += b" " * data.draw(st.integers(4000, 9000))
    _fuzz(bytes(body))


@settings(max_examples=150, deadline=None)
@given(st.floats(-180, 180), st.floats(-90, 90), st.one_of(st.none(), st.floats(0, 1e6)),
       st.sampled_from(["wgs84", "gcj02", "bd09"]), st.booleans())
def test_any_valid_python_payload_verifies(lng, lat, acc, crs, mock):
    c = verify(signed(lng=lng, lat=lat, accuracy_m=acc, crs=crs, is_mock=mock))
    assert (c.lng, c.lat, c.accuracy_m, c.crs, c.is_mock) == (lng, lat, acc, crs, mock)


# ---- nonce cache and rate limiter -------------------------------------------------------

def test_nonce_cache_expires_with_the_window():
    cache = NonceCache(window_s=600, future_s=300)
    assert cache.add("P", "n1", 1000.0, 1000.0) is NonceResult.NEW
    assert cache.add("P", "n1", 1000.0, 1500.0) is NonceResult.REPLAYED
    assert cache.add("Q", "n1", 1000.0, 1500.0) is NonceResult.NEW        # per phone
    cache.add("P", "n2", 1550.0, 1601.0)
    assert len(cache) == 1            # the two fixed at 1000 left the window at now=1601: only n2
    assert not cache.in_window(1000.0, 1601.0)   # ...and their replays fail the time check


def test_nonce_cache_capacity_moves_the_horizon():
    cache = NonceCache(capacity=3, window_s=600)
    for i in range(3):
        assert cache.add("P", f"n{i}", 100.0 + i, 110.0) is NonceResult.NEW
    assert cache.add("P", "n3", 105.0, 110.0) is NonceResult.NEW           # evicts n0 (fix 100)
    assert len(cache) == 3 and cache.horizon == 100.0
    assert cache.add("P", "n0", 100.0, 110.0) is NonceResult.TOO_OLD        # can no longer prove it new
    assert cache.add("P", "n1", 101.0, 110.0) is NonceResult.REPLAYED


def test_replay_horizon_reason():
    nonces = NonceCache(capacity=1)
    verify(signed(fix_time=int((NOW - 5) * 1000)), nonces=nonces)
    verify(signed(fix_time=int((NOW - 1) * 1000)), nonces=nonces)           # evicts the first
    reject(signed(fix_time=int((NOW - 6) * 1000)), "replay_horizon", nonces=nonces)


def test_rate_limiter_token_bucket():
    rl = RateLimiter(rate_per_s=0.5, burst=3, max_keys=2)
    assert [rl.allow("A", 0.0) for _ in range(4)] == [True, True, True, False]
    assert rl.allow("A", 1.0) is False        # half a token
    assert rl.allow("A", 2.0) is True         # one token after 2 s
    assert rl.allow("A", 1.0) is False        # clock stepped back: no refill
    rl.allow("B", 2.0)
    rl.allow("C", 2.0)
    assert len(rl) == 2                       # bounded: A forgotten


# ---- keys ---------------------------------------------------------------------------------

def test_key_text_round_trip_and_formats():
    assert phonekeys.key_to_text(KEY) == "AAAQEAYEAUDAOCAJBIFQYDIOB4IBCEQTCQKRMFYYDENBWHA5DYPQ"
    assert phonekeys.key_from_text("aaaq-eaye-audaocajbifqydiob4ibceqtcqkrmfyydenbwha5dypq\n") == KEY
    assert phonekeys.key_from_text(KEY.hex().upper()) == KEY
    k = phonekeys.new_phone_key()
    assert len(k) == 32 and phonekeys.key_from_text(phonekeys.key_to_text(k)) == k
    with pytest.raises(phonekeys.KeyFormatError, match="52 base32 or 64 hex"):
        phonekeys.key_from_text("abc")


def test_key_file_permissions(tmp_path):
    f = tmp_path / "phone.key"
    f.write_text(phonekeys.key_to_text(KEY) + "\n")
    f.chmod(0o600)
    assert phonekeys.read_key_file(f) == (KEY, True)
    f.chmod(0o644)
    assert phonekeys.read_key_file(f) == (KEY, False)
    with pytest.raises(phonekeys.KeyFormatError, match="cannot read key file"):
        phonekeys.read_key_file(tmp_path / "missing.key")
