"""The webhook wire format, pure: the batch body, the signature headers, and the receiver's reply.
docs/platform.md "## webhook profile" is the receiver's contract; this module is its reference.

Signed material: ``<X-Sitegate-Timestamp> "." <body bytes>`` under HMAC-SHA256 (RFC 2104) with the
shared secret; the header is ``X-Sitegate-Signature: sha256=<lower-case hex>``. Putting the
timestamp under the MAC lets a receiver refuse replays outside its window (the scheme GitHub and
Stripe webhooks use). Idempotency: one ``Idempotency-Key`` header per request (the batch id,
draft-ietf-httpapi-idempotency-key-header), and every record carries its own ``event_id``.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Any, Sequence

from sitegate.errors import ProtocolError
from sitegate.idcard import mask_text
from sitegate.uplink.payload import canonical_json

BODY_SCHEMA = "sitegate.webhook/1"
MAX_REASON = 500


class GarbageReply(ProtocolError):
    """A 2xx reply that does not follow the contract: the batch is sent again later."""


def new_batch_id() -> str:
    return str(uuid.uuid4())


def batch_body(batch_id: str, project_code: str, gateway_id: str, records: Sequence[dict[str, Any]]) -> bytes:
    """The exact bytes POSTed, and resent unchanged on every retry of this batch."""
    return canonical_json({
        "schema": BODY_SCHEMA,
        "batch_id": batch_id,
        "project_code": project_code,
        "gateway_id": gateway_id,
        "records": list(records),
    })


def body_event_ids(body: bytes) -> list[str]:
    """The event ids of a stored body, in order (used when resuming after a restart)."""
    try:
        doc = json.loads(body)
        return [str(r["event_id"]) for r in doc["records"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise ProtocolError(f"stored webhook body cannot be read: {exc}") from None


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, str(timestamp).encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def request_headers(secret: bytes, body: bytes, batch_id: str, timestamp: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json; charset=utf-8",
        "Idempotency-Key": batch_id,
        "X-Sitegate-Timestamp": str(timestamp),
        "X-Sitegate-Signature": signature(secret, timestamp, body),
    }


class Verdict(Enum):
    """What an HTTP status means for a batch."""

    ANSWERED = "answered"      # 2xx: read the per-record reply
    AUTH = "auth"              # 401/403: the secret or the receiver's permissions: alarm and stop
    RETRY = "retry"            # 408/425/429/5xx: transient, the same batch again after backoff
    REFUSED = "refused"        # any other status: retried with backoff and an alarm for a person


def classify(status: int) -> Verdict:
    if 200 <= status < 300:
        return Verdict.ANSWERED
    if status in (401, 403):
        return Verdict.AUTH
    if status in (408, 425, 429) or 500 <= status < 600:
        return Verdict.RETRY
    return Verdict.REFUSED


@dataclass
class Reply:
    accepted: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str, str]] = field(default_factory=list)   # (event_id, reason, code)
    unanswered: list[str] = field(default_factory=list)                  # sent, but in neither list
    unknown: list[str] = field(default_factory=list)                     # named, but not in this batch


def _is_json(content_type: str) -> bool:
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime == "application/json" or mime.endswith("+json")


def parse_reply(content_type: str, body: bytes, sent: Sequence[str]) -> Reply:
    """Read a 2xx reply. Empty body, or a body that is neither JSON nor HTML: every record accepted.
    JSON: ``{"accepted": [...], "rejected": [{"event_id", "reason", "code"?}]}``; an object with
    neither key accepts everything. HTML (a proxy's or a wrong URL's page) or malformed JSON: garbage."""
    sent_set = set(sent)
    mime = content_type.split(";", 1)[0].strip().lower()
    if not body.strip():
        return Reply(accepted=list(sent))
    if mime in ("text/html", "application/xhtml+xml"):
        raise GarbageReply(f"2xx answer is an HTML page ({len(body)} bytes), not the webhook reply: is the URL right?")
    if not _is_json(content_type):
        return Reply(accepted=list(sent))
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise GarbageReply(f"2xx answer is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise GarbageReply(f"2xx answer is JSON {type(doc).__name__}, expected an object")
    if "accepted" not in doc and "rejected" not in doc:
        return Reply(accepted=list(sent))
    accepted = doc.get("accepted", [])
    rejected = doc.get("rejected", [])
    if not isinstance(accepted, list) or not all(isinstance(e, str) for e in accepted):
        raise GarbageReply("'accepted' must be a list of event_id strings")
    if not isinstance(rejected, list):
        raise GarbageReply("'rejected' must be a list of {event_id, reason} objects")
    reply = Reply()
    rejected_ids: set[str] = set()
    for item in rejected:
        if not isinstance(item, dict) or not isinstance(item.get("event_id"), str):
            raise GarbageReply("each 'rejected' entry must be an object with an event_id string")
        eid = item["event_id"]
        if eid not in sent_set:
            reply.unknown.append(eid)
        elif eid not in rejected_ids:
            reason = item.get("reason")
            reason = mask_text(str(reason))[:MAX_REASON] if reason not in (None, "") else "rejected without a reason"
            code = item.get("code")
            reply.rejected.append((eid, reason, str(code)[:64] if code is not None else ""))
            rejected_ids.add(eid)
    accepted_ids: set[str] = set()
    for eid in accepted:
        if eid not in sent_set:
            reply.unknown.append(eid)
        elif eid in rejected_ids:
            raise GarbageReply(f"event {eid} is both accepted and rejected")
        elif eid not in accepted_ids:
            reply.accepted.append(eid)
            accepted_ids.add(eid)
    reply.unanswered = [e for e in sent if e not in accepted_ids and e not in rejected_ids]
    return reply


def retry_after_s(value: str | None, now_epoch: float) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP-date, RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():      # '²' passes isdigit() but not float()
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now_epoch)
