"""The card data of a read reply: 256-byte text block (UCS-2 LE), WLT photo, fingerprints.

Layouts from reference/protocols.md §1 (sources: sdses ``ID2Info.java``, node-idcard-reader,
hevz/hev-idcard-reader). Offsets are byte offsets inside the text block; every field is UCS-2 LE
padded with spaces (``20 00``). The 'Y' layout is only partly public: fields other than those
listed are unconfirmed and not decoded.

Read reply data (after SW1 SW2 SW3)::

    30 01: text_len(2, BE) photo_len(2, BE)             text photo
    30 10: text_len(2, BE) photo_len(2, BE) fp_len(2, BE) text photo fingerprint
"""
from __future__ import annotations

from dataclasses import replace
from datetime import date

from sitegate.errors import ProtocolError, UsageError

from .card import (
    FOREIGN_PERMANENT, FOREIGN_PERMANENT_2023, HMT_RESIDENCE, LONG_TERM, MARK_BY_TYPE, RESIDENT, TYPE_BY_MARK,
    IdCard, check_dates, finish,
)
from .codec import build_reply
from .status import OK

TEXT_SIZE = 256
PHOTO_SIZE = 1024
TYPE_MARK_OFFSET = 248

_COMMON_TAIL = (("valid_from", 188, 16), ("valid_to", 204, 16))
LAYOUTS: dict[str, tuple[tuple[str, int, int], ...]] = {
    RESIDENT: (
        ("name", 0, 30), ("gender", 30, 2), ("nation", 32, 4), ("birth", 36, 16), ("address", 52, 70),
        ("id_number", 122, 36), ("issuer", 158, 30), *_COMMON_TAIL,
    ),
    HMT_RESIDENCE: (
        ("name", 0, 30), ("gender", 30, 2), ("birth", 36, 16), ("address", 52, 70),
        ("id_number", 122, 36), ("issuer", 158, 30), *_COMMON_TAIL,
        ("permit_number", 220, 18), ("issue_count", 238, 4),
    ),
    FOREIGN_PERMANENT: (
        ("english_name", 0, 120), ("gender", 120, 2), ("id_number", 122, 30), ("nationality", 152, 6),
        ("name", 158, 30), *_COMMON_TAIL, ("birth", 220, 16),
    ),
    FOREIGN_PERMANENT_2023: (
        ("name", 0, 30), ("gender", 30, 2), ("birth", 36, 16), ("id_number", 122, 36), *_COMMON_TAIL,
        ("nationality", 242, 6),
    ),
}


class TextBlockError(ProtocolError):
    """A read reply or text block that cannot be a card's data (wrong sizes, not text, bad dates)."""


def _text(block: bytes, what: str, offset: int, size: int) -> str:
    try:
        value = block[offset:offset + size].decode("utf-16-le")
    except UnicodeDecodeError:
        raise TextBlockError(f"{what} at text offset {offset} is not UCS-2 text") from None
    return value.strip(" \x00")


def decode_text_block(block: bytes, today: date | None = None) -> IdCard:
    """The identity fields of one 256-byte text block; raises TextBlockError when it is not one."""
    if len(block) != TEXT_SIZE:
        raise TextBlockError(f"text block must be {TEXT_SIZE} bytes, got {len(block)}")
    mark = _text(block, "card type", TYPE_MARK_OFFSET, 2) or " "
    card_type = TYPE_BY_MARK.get(mark)
    if card_type is None:
        raise TextBlockError(f"unknown card type mark {mark!r} at text offset {TYPE_MARK_OFFSET}")
    values = {what: _text(block, what, off, size) for what, off, size in LAYOUTS[card_type]}
    card = IdCard(card_type=card_type, **values)
    if not card.id_number:
        raise TextBlockError("text block has no ID number")
    try:
        check_dates(card)
    except ProtocolError as exc:
        raise TextBlockError(str(exc)) from None
    return finish(card, today)


def _put(block: bytearray, what: str, offset: int, size: int, value: str) -> None:
    raw = value.encode("utf-16-le")
    if len(raw) != 2 * len(value):
        raise UsageError(f"card field {what} has characters outside UCS-2 (the card cannot hold them)")
    if len(raw) > size:
        raise UsageError(f"card field {what} holds at most {size // 2} characters, got {len(value)}")
    block[offset:offset + size] = raw + " ".encode("utf-16-le") * ((size - len(raw)) // 2)


def encode_text_block(card: IdCard) -> bytes:
    """The 256-byte text block a reader returns for ``card`` (the simulator's encoder)."""
    block = bytearray(" ".encode("utf-16-le") * (TEXT_SIZE // 2))
    for what, offset, size in LAYOUTS[card.card_type]:
        _put(block, what, offset, size, getattr(card, what))
    _put(block, "card_type", TYPE_MARK_OFFSET, 2, MARK_BY_TYPE[card.card_type])
    return bytes(block)


def decode_read_data(data: bytes, fingerprint: bool, today: date | None = None) -> IdCard:
    """An ``IdCard`` from the DATA of a 30 01 (``fingerprint=False``) or 30 10 read reply."""
    head = 6 if fingerprint else 4
    if len(data) < head:
        raise TextBlockError(f"read reply of {len(data)} data bytes has no length fields")
    text_len = int.from_bytes(data[0:2], "big")
    photo_len = int.from_bytes(data[2:4], "big")
    fp_len = int.from_bytes(data[4:6], "big") if fingerprint else 0
    if text_len != TEXT_SIZE:
        raise TextBlockError(f"read reply text length {text_len}, expected {TEXT_SIZE}")
    if head + text_len + photo_len + fp_len != len(data):
        raise TextBlockError(
            f"read reply lengths text {text_len} + photo {photo_len} + fingerprint {fp_len} "
            f"do not match its {len(data) - head} data bytes")
    card = decode_text_block(data[head:head + TEXT_SIZE], today)
    photo_end = head + TEXT_SIZE + photo_len
    return replace(card, photo_wlt=bytes(data[head + TEXT_SIZE:photo_end]),
                   fingerprint=bytes(data[photo_end:]) if fingerprint else None)


def encode_read_data(card: IdCard, fingerprint: bool) -> bytes:
    photo = card.photo_wlt or bytes(PHOTO_SIZE)
    fp = (card.fingerprint or b"") if fingerprint else b""
    head = TEXT_SIZE.to_bytes(2, "big") + len(photo).to_bytes(2, "big")
    if fingerprint:
        head += len(fp).to_bytes(2, "big")
    return head + encode_text_block(card) + photo + fp


def encode_read_reply(card: IdCard, fingerprint: bool = False) -> bytes:
    """The whole reply frame to 30 01 / 30 10 for ``card``."""
    return build_reply(OK, encode_read_data(card, fingerprint))


def decode_appended_address(data: bytes) -> str:
    """The DATA of a 30 03 reply: the appended (new) address, UCS-2 LE (70 bytes on the card)."""
    if len(data) % 2:
        raise TextBlockError(f"appended address of {len(data)} bytes is not UCS-2 text")
    return _text(data, "appended address", 0, len(data))


def encode_appended_address(address: str) -> bytes:
    block = bytearray(70)
    _put(block, "appended_address", 0, 70, address)
    return bytes(block)


__all__ = [
    "LONG_TERM", "TEXT_SIZE", "PHOTO_SIZE", "TextBlockError", "decode_text_block", "encode_text_block",
    "decode_read_data", "encode_read_data", "encode_read_reply", "decode_appended_address",
    "encode_appended_address",
]
