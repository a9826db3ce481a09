"""The webhook wire format, pure: signature vectors from the OpenSSL command line, status verdicts,
the reply contract, and property tests of the reply parser (any bytes -> a Reply or GarbageReply).

    printf '1732780800.{"records":[]}' | openssl dgst -sha256 -hmac 'hook-secret-0123456789'
"""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitegate.errors import ProtocolError
from sitegate.uplink.webhook.codec import (
    GarbageReply, Verdict, batch_body, body_event_ids, classify, parse_reply, request_headers, retry_after_s,
    signature,
)

OPENSSL_HMAC = "6ccf16b83a235b1413ad07bd2bf53b29d35c338a73116af2cac78601f3171b02"
SENT = ["e1", "e2", "e3"]


def test_signature_matches_openssl():
    assert signature(b"hook-secret-0123456789", 1732780800, b'{"records":[]}') == "sha256=" + OPENSSL_HMAC


def test_headers_carry_batch_key_timestamp_and_signature():
    h = request_headers(b"hook-secret-0123456789", b'{"records":[]}', "batch-1", 1732780800)
    assert h == {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": "batch-1",
                 "X-Sitegate-Timestamp": "1732780800", "X-Sitegate-Signature": "sha256=" + OPENSSL_HMAC}


def test_a_new_timestamp_changes_the_signature_not_the_body():
    body = batch_body("b", "P", "g", [{"event_id": "e1"}])
    assert signature(b"k", 1, body) != signature(b"k", 2, body)
    assert body == batch_body("b", "P", "g", [{"event_id": "e1"}])
    assert body_event_ids(body) == ["e1"]
    with pytest.raises(ProtocolError):
        body_event_ids(b"{")


@pytest.mark.parametrize("status, verdict", [
    (200, Verdict.ANSWERED), (202, Verdict.ANSWERED), (204, Verdict.ANSWERED),
    (401, Verdict.AUTH), (403, Verdict.AUTH),
    (408, Verdict.RETRY), (425, Verdict.RETRY), (429, Verdict.RETRY), (500, Verdict.RETRY), (503, Verdict.RETRY),
    (301, Verdict.REFUSED), (400, Verdict.REFUSED), (404, Verdict.REFUSED), (413, Verdict.REFUSED),
])
def test_status_verdicts(status, verdict):
    assert classify(status) is verdict


def test_plain_2xx_accepts_everything():
    assert parse_reply("", b"", SENT).accepted == SENT
    assert parse_reply("text/plain", b"OK", SENT).accepted == SENT
    assert parse_reply("application/json", b'{"ok": true}', SENT).accepted == SENT


def test_per_record_reply():
    body = json.dumps({"accepted": ["e1", "zz"], "rejected": [{"event_id": "e2", "reason": "not on roster 370102198511201233",
                                                               "code": 17}]}).encode()
    r = parse_reply("application/json; charset=utf-8", body, SENT)
    assert r.accepted == ["e1"]
    assert r.rejected == [("e2", "not on roster 370102********1233", "17")]
    assert r.unanswered == ["e3"] and r.unknown == ["zz"]


@pytest.mark.parametrize("ctype, body, problem", [
    ("text/html", b"<html>hi</html>", "HTML page"),
    ("application/json", b"[1]", "expected an object"),
    ("application/json", b'{"accepted": [', "not valid JSON"),
    ("application/json", b'{"accepted": "e1"}', "list of event_id"),
    ("application/json", b'{"rejected": {"e1": 1}}', "'rejected' must be a list"),
    ("application/json", b'{"rejected": [{"reason": "x"}]}', "event_id string"),
    ("application/json", b'{"accepted": ["e1"], "rejected": [{"event_id": "e1"}]}', "both accepted and rejected"),
])
def test_garbage_replies_are_named(ctype, body, problem):
    with pytest.raises(GarbageReply, match=problem):
        parse_reply(ctype, body, SENT)


def test_a_rejection_without_reason_still_has_one():
    r = parse_reply("application/json", b'{"rejected": [{"event_id": "e1"}]}', SENT)
    assert r.rejected == [("e1", "rejected without a reason", "")] and r.unanswered == ["e2", "e3"]


def test_retry_after():
    assert retry_after_s("7", 0) == 7.0
    assert retry_after_s("Wed, 21 Oct 2015 07:28:10 GMT", 1445412480.0) == 10.0
    assert retry_after_s("soon", 0) is None and retry_after_s(None, 0) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.sampled_from(SENT),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["accepted", "rejected", "event_id", "reason", "code", "x"]), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(["application/json", "text/plain", "text/html", "", "application/problem+json"]),
       st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode())))
def test_any_reply_gives_a_consistent_reply_or_garbage(ctype, body):
    try:
        r = parse_reply(ctype, body, SENT)
    except GarbageReply:
        return
    answered = r.accepted + [e for e, _r, _c in r.rejected]
    assert sorted(answered + r.unanswered) == sorted(SENT)       # every sent record has exactly one fate
    assert len(set(answered)) == len(answered)
    assert not set(r.unknown) & set(SENT)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_truncated_and_corrupted_json_replies(noise):
    good = json.dumps({"accepted": ["e1"], "rejected": [{"event_id": "e2", "reason": "x"}]}).encode()
    for body in (good[: len(noise) % len(good)], good[:10] + noise, noise + good):
        try:
            parse_reply("application/json", body, SENT)
        except GarbageReply:
            pass
