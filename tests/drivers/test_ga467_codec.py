"""ID-card reader frames against the vectors of ../shared (vectors.json ``sam``) and the reference."""
from __future__ import annotations

import pytest

from sitegate.drivers.ga467_serial import codec, status
from sitegate.drivers.ga467_serial.codec import Command, Frame, FrameParser, ParseError
from sitegate.errors import ProtocolError

REQUEST_BUILDERS = {
    "sam_status": codec.sam_status_request,
    "find": codec.find_request,
    "select": codec.select_request,
    "read": codec.read_request,
    "read_fp": lambda: codec.read_request(fingerprint=True),
    "max_rf": codec.max_rf_frame_request,
}
# Requests listed only in reference/protocols.md §1 (not in vectors.json).
REFERENCE_REQUESTS = {
    "aaaaaa96690003 12ff ee": codec.sam_id_request,
    "aaaaaa96690003 10ff ec": codec.reset_request,
    "aaaaaa96690003 3003 30": codec.appended_address_request,
}
REPLY_VECTORS = {  # name -> (SW3, data)
    "ok": (0x90, b""),
    "no_card": (0x80, b""),
    "card_found": (0x9F, bytes(4)),
    "select_ok": (0x90, bytes(8)),
    "select_failed": (0x81, b""),
    "read_failed": (0x41, b""),
}
REQUEST_COMMANDS = {
    "sam_status": (0x11, 0xFF, b""), "find": (0x20, 0x01, b""), "select": (0x20, 0x02, b""),
    "read": (0x30, 0x01, b""), "read_fp": (0x30, 0x10, b""), "max_rf": (0x61, 0xFF, b"\x50"),
}


def one_frame(raw: bytes) -> Frame:
    items = FrameParser().feed(raw)
    assert len(items) == 1 and isinstance(items[0], Frame), items
    return items[0]


@pytest.mark.parametrize("name", sorted(REQUEST_BUILDERS))
def test_request_encodes_to_vector(vectors, name):
    assert REQUEST_BUILDERS[name]() == bytes.fromhex(vectors["sam"]["requests"][name])


@pytest.mark.parametrize("name", sorted(REQUEST_COMMANDS))
def test_request_vector_decodes(vectors, name):
    request = codec.decode_request(one_frame(bytes.fromhex(vectors["sam"]["requests"][name])))
    assert (request.cmd, request.para, request.data) == REQUEST_COMMANDS[name]
    assert request.command is not None


def test_every_vector_request_is_covered(vectors):
    assert set(vectors["sam"]["requests"]) == set(REQUEST_BUILDERS) == set(REQUEST_COMMANDS)
    assert set(vectors["sam"]["replies"]) == set(REPLY_VECTORS)


@pytest.mark.parametrize("hex_text", sorted(REFERENCE_REQUESTS))
def test_reference_requests(hex_text):
    assert REFERENCE_REQUESTS[hex_text]() == bytes.fromhex(hex_text)


@pytest.mark.parametrize("name", sorted(REPLY_VECTORS))
def test_reply_both_directions(vectors, name):
    raw = bytes.fromhex(vectors["sam"]["replies"][name])
    sw3, data = REPLY_VECTORS[name]
    reply = codec.decode_reply(one_frame(raw))
    assert (reply.sw1, reply.sw2, reply.sw3, reply.data) == (0, 0, sw3, data)
    assert codec.build_reply(sw3, data) == raw


def test_read_reply_vector_is_one_frame(vectors):
    raw = bytes.fromhex(vectors["sam"]["read_reply"]["hex"])
    assert len(raw) == vectors["sam"]["read_reply"]["length"] == 1295
    frame = one_frame(raw)
    assert frame.size == 1295 and codec.decode_reply(frame).sw3 == 0x90


def test_frames_split_byte_by_byte_and_glued(vectors):
    stream = b"".join(bytes.fromhex(h) for h in vectors["sam"]["replies"].values())
    parser = FrameParser()
    items = []
    for i in range(len(stream)):
        items += parser.feed(stream[i:i + 1])
    assert [codec.decode_reply(f).sw3 for f in items] == [0x90, 0x80, 0x9F, 0x90, 0x81, 0x41]
    assert parser.frames == 6 and not parser.errors and parser.pending == 0


def test_garbage_before_frame_is_one_error_and_frame_survives(vectors):
    ok = bytes.fromhex(vectors["sam"]["replies"]["ok"])
    parser = FrameParser()
    items = parser.feed(b"\x01\x02\xAA\xAA") + parser.feed(b"\x00\x13" + ok)
    assert [type(i) for i in items] == [ParseError, Frame]
    assert items[0].kind == "garbage" and items[0].skipped == 6 and items[0].offset == 0
    assert items[1].offset == 6
    assert parser.errors == {"garbage": 1} and parser.skipped_bytes == 6


def test_bad_checksum_is_reported_and_next_frame_found(vectors):
    ok = bytes.fromhex(vectors["sam"]["replies"]["ok"])
    no_card = bytes.fromhex(vectors["sam"]["replies"]["no_card"])
    bad = ok[:-1] + bytes((ok[-1] ^ 1,))
    items = FrameParser().feed(bad + no_card)
    assert isinstance(items[0], ParseError) and items[0].kind == "checksum"
    assert "0x95" in str(items[0]) and "0x94" in str(items[0])
    assert isinstance(items[1], Frame) and codec.decode_reply(items[1]).sw3 == 0x80
    assert len(items) == 2


def test_oversized_len_resynchronises(vectors):
    no_card = bytes.fromhex(vectors["sam"]["replies"]["no_card"])
    parser = FrameParser()
    items = parser.feed(codec.PREAMBLE + b"\xFF\xFF" + b"\x00" * 10 + no_card)
    assert items[0].kind == "length" and "65535" in str(items[0])
    assert isinstance(items[-1], Frame) and codec.decode_reply(items[-1]).sw3 == 0x80
    assert parser.errors["length"] == 1


def test_too_short_len_rejected(vectors):
    ok = bytes.fromhex(vectors["sam"]["replies"]["ok"])
    items = FrameParser().feed(codec.PREAMBLE + b"\x00\x02\x00\x02" + ok)
    assert items[0].kind == "length"
    assert isinstance(items[-1], Frame)


def test_len_that_swallows_the_next_frame_is_recovered(vectors):
    """A corrupted LEN claiming 40 bytes: the next good frame starts inside it."""
    ok = bytes.fromhex(vectors["sam"]["replies"]["ok"])
    items = FrameParser().feed(codec.PREAMBLE + b"\x00\x28\x00\x00\x90" + ok + bytes(40))
    frames = [i for i in items if isinstance(i, Frame)]
    assert items[0].kind == "checksum" and frames and frames[0].offset == 10


def test_truncated_frame_reported_on_flush_and_frame_behind_recovered(vectors):
    ok = bytes.fromhex(vectors["sam"]["replies"]["ok"])
    parser = FrameParser()
    # A header promising 0x500 bytes, then a complete small frame that arrived in the meantime.
    assert parser.feed(codec.PREAMBLE + b"\x05\x00\x00\x00\x90" + ok) == []
    assert parser.wanted() > 1
    items = parser.flush()
    assert items[0].kind == "truncated"
    assert isinstance(items[1], Frame) and items[1].offset == 10
    assert parser.pending == 0


def test_reset_forgets_partial_frame(vectors):
    ok = bytes.fromhex(vectors["sam"]["replies"]["ok"])
    parser = FrameParser()
    parser.feed(ok[:5])
    parser.reset()
    assert parser.pending == 0
    assert [type(i) for i in parser.feed(ok)] == [Frame]


def test_wanted_hints_header_then_rest(vectors):
    raw = bytes.fromhex(vectors["sam"]["read_reply"]["hex"])
    parser = FrameParser()
    assert parser.wanted() == 7
    parser.feed(raw[:7])
    assert parser.wanted() == 1288
    assert len(parser.feed(raw[7:])) == 1


def test_decode_reply_and_request_refuse_short_payloads():
    with pytest.raises(ProtocolError, match="no SW1 SW2 SW3"):
        codec.decode_reply(Frame(b"\x00\x00"))
    with pytest.raises(ProtocolError, match="no CMD PARA"):
        codec.decode_request(Frame(b"\x20"))


def test_encode_refuses_oversized_payload():
    with pytest.raises(ProtocolError, match="does not fit"):
        codec.encode_frame(bytes(codec.MAX_LEN))
    with pytest.raises(ProtocolError):
        codec.max_rf_frame_request(256)


def test_parse_stream_and_command_lookup(vectors):
    stream = b"junk" + b"".join(bytes.fromhex(h) for h in vectors["sam"]["requests"].values())
    frames, errors = codec.parse_stream(stream)
    assert [codec.decode_request(f).command for f in frames] == [
        Command.SAM_STATUS, Command.FIND_CARD, Command.SELECT_CARD, Command.READ_TEXT_PHOTO,
        Command.READ_TEXT_PHOTO_FINGERPRINT, Command.SET_MAX_RF_FRAME]
    assert [e.kind for e in errors] == ["garbage"]
    assert codec.Request(0x99, 0x01).command is None


# -- SW3 table (reference/protocols.md §1) -----------------------------------------------------------
REFERENCE_SW3 = {
    0x90: "ok", 0x9F: "found", 0x91: "no such item", 0x10: "checksum", 0x11: "length", 0x21: "command",
    0x23: "not permitted", 0x24: "unrecognised", 0x31: "card failed to authenticate", 0x32: "SAM failed",
    0x33: "verification", 0x40: "unknown card type", 0x41: "read", 0x47: "random", 0x60: "self-test",
    0x66: "not authorised", 0x80: "no card", 0x81: "select",
}


@pytest.mark.parametrize("code", sorted(REFERENCE_SW3))
def test_every_sw3_has_a_reason(code):
    assert REFERENCE_SW3[code].lower() in status.reason(code).lower()
    assert status.category(code) in {"ok", "card", "reader", "request"}
    assert f"0x{code:02X}" in status.describe(code)


def test_unknown_sw3_is_named_not_guessed():
    assert status.reason(0x55) == "unknown reader status 0x55"
    assert status.category(0x55) == "unknown"


def test_endless_noise_is_reported_in_bounded_pieces(vectors):
    """A line full of noise (wrong baud rate, say) keeps the error count moving, memory flat."""
    parser = FrameParser()
    items = []
    for _ in range(20):
        items += parser.feed(bytes(range(0x10, 0x10 + 100)) * 10)  # 1000 bytes, no 0xAA
    # Reported once at least 4 KiB have gone by (each report ends within the feed that crossed it).
    assert items and all(e.kind == "garbage" and 4096 <= e.skipped < 4096 + 1000 for e in items)
    assert parser.pending == 0 and len(items[0].data) == 64
    ok = bytes.fromhex(vectors["sam"]["replies"]["ok"])
    tail = parser.feed(ok)
    assert isinstance(tail[-1], Frame)
    assert sum(e.skipped for e in items + tail[:-1]) == parser.skipped_bytes == 20000
