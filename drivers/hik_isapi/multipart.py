"""multipart/form-data as Hikvision terminals send it (events with a picture) and take it (face
uploads): parse with the stdlib ``email`` parser, build by hand (the format is fixed and small).

Limits, checked before any parsing: a body of at most ``MAX_BODY_BYTES`` (2 MiB: an event JSON is
~1 KB and a terminal's snapshot ≤ 200 KB) and at most ``MAX_PARTS`` parts. The ``compat32``
policy is used: it parses headers without the newer header machinery and never raises on odd
headers; what it cannot make sense of becomes "no such part".
"""
from __future__ import annotations

import email.parser
import email.policy
import re
import uuid
from dataclasses import dataclass

from sitegate.errors import ProtocolError

MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_PARTS = 16
_BOUNDARY = re.compile(r"""boundary\s*=\s*(?:"([^"]{1,200})"|([^\s;,"]{1,200}))""", re.IGNORECASE)


@dataclass(frozen=True)
class Part:
    name: str               # Content-Disposition name (may be "")
    content_type: str       # lower case, without parameters ("" when absent)
    data: bytes
    filename: str = ""


def boundary_of(content_type: str) -> str:
    """The boundary parameter of a multipart Content-Type. Raises ProtocolError when missing."""
    m = _BOUNDARY.search(content_type)
    if not m:
        raise ProtocolError("multipart body without a boundary in its Content-Type")
    return m.group(1) or m.group(2)


def parse(body: bytes, content_type: str) -> list[Part]:
    """The parts of a multipart body. Raises ProtocolError for an oversized body, a missing
    boundary, or a body in which no part can be found."""
    if len(body) > MAX_BODY_BYTES:
        raise ProtocolError(f"multipart body of {len(body)} bytes is over the {MAX_BODY_BYTES}-byte limit")
    boundary = boundary_of(content_type)
    if f"--{boundary}".encode("latin-1", "replace") not in body:
        raise ProtocolError("multipart body does not contain its boundary")
    head = f'Content-Type: multipart/form-data; boundary="{boundary}"\r\nMIME-Version: 1.0\r\n\r\n'
    try:
        msg = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(head.encode("latin-1", "replace") + body)
        payload = msg.get_payload()
    except (ValueError, TypeError, LookupError, email.errors.MessageError) as exc:
        raise ProtocolError(f"multipart body cannot be parsed: {exc}") from None
    if not isinstance(payload, list) or not payload:
        raise ProtocolError("multipart body has no parts")
    parts: list[Part] = []
    for sub in payload[:MAX_PARTS]:
        if sub.is_multipart():
            continue          # nested multiparts are not something a terminal sends
        data = sub.get_payload(decode=True)
        if not isinstance(data, bytes):
            data = b""
        parts.append(Part(
            name=str(sub.get_param("name", "", header="content-disposition") or ""),
            content_type=(sub.get("Content-Type") and sub.get_content_type()) or "",
            data=data,
            filename=str(sub.get_param("filename", "", header="content-disposition") or ""),
        ))
    if len(payload) > MAX_PARTS:
        raise ProtocolError(f"multipart body has more than {MAX_PARTS} parts")
    return parts


def build(parts: list[Part], boundary: str | None = None) -> tuple[bytes, str]:
    """(body, Content-Type) for ``parts``; CRLF line ends as terminals send them."""
    boundary = boundary or f"sitegate{uuid.uuid4().hex}"
    out = bytearray()
    for p in parts:
        if f"--{boundary}".encode() in p.data:
            raise ValueError("a part contains the multipart boundary")
        disposition = f'form-data; name="{p.name}"' + (f'; filename="{p.filename}"' if p.filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode("utf-8")
        if p.content_type:
            out += f"Content-Type: {p.content_type}\r\n".encode("utf-8")
        out += b"\r\n" + p.data + b"\r\n"
    out += f"--{boundary}--\r\n".encode("utf-8")
    return bytes(out), f"multipart/form-data; boundary={boundary}"
