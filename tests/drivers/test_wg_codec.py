"""WG controller packets against the vectors of ../shared (vectors.json ``wg``) and packets built
here by hand from the offsets of reference/protocols.md §2."""
from __future__ import annotations

from datetime import date, datetime

import pytest

from sitegate.drivers.wg_udp import reasons
from sitegate.drivers.wg_udp.codec import Function, PacketError, decode_packet, encode_packet
from sitegate.drivers.wg_udp.messages import (
    DeviceInfo, DoorControl, Privilege, PushTarget, Record, Status, decode_reply, decode_request, encode_reply,
    encode_request,
)
from sitegate.errors import ProtocolError

SERIAL = 223000123  # 3B B6 4A 0D


def hand_packet(function: int, fields: dict[int, str], serial: int = SERIAL, sequence: int = 0, type_: int = 0x17) -> bytes:
    """An independent 64-byte builder: header, serial, sequence, hex fields at absolute offsets."""
    raw = bytearray(64)
    raw[0], raw[1] = type_, function
    raw[4:8] = serial.to_bytes(4, "little")
    raw[40:44] = sequence.to_bytes(4, "little")
    for offset, hex_text in fields.items():
        value = bytes.fromhex(hex_text)
        raw[offset:offset + len(value)] = value
    return bytes(raw)


REQUESTS = {  # vector name -> (function, value)
    "status": (Function.STATUS, None),
    "read_record_1": (Function.GET_RECORD, 1),
    "get_read_index": (Function.GET_READ_INDEX, None),
    "set_read_index_1234": (Function.SET_READ_INDEX, 1234),
    "open_door_1": (Function.OPEN_DOOR, 1),
    "set_time_2025-03-15T07:30:05": (Function.SET_TIME, datetime(2025, 3, 15, 7, 30, 5)),
    "add_card_3659533_2025-01-01_2029-12-31_doors_1_2": (
        Function.PUT_PRIVILEGE, Privilege(3659533, date(2025, 1, 1), date(2029, 12, 31), (True, True, False, False))),
}


def test_serial_bytes_match_the_reference():
    assert encode_packet(Function.STATUS, SERIAL)[4:8] == bytes.fromhex("3B B6 4A 0D")


def test_every_vector_request_is_covered(vectors):
    assert set(vectors["wg"]["requests"]) == set(REQUESTS)


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_request_encodes_to_vector(vectors, name):
    function, value = REQUESTS[name]
    assert encode_request(function, SERIAL, value) == bytes.fromhex(vectors["wg"]["requests"][name])


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_request_vector_decodes(vectors, name):
    function, value = REQUESTS[name]
    packet, decoded = decode_request(bytes.fromhex(vectors["wg"]["requests"][name]), serial=SERIAL)
    assert (packet.function, packet.serial, packet.sequence, packet.type) == (function, SERIAL, 0, 0x17)
    assert decoded == value


def test_record_reply_vector_both_directions(vectors):
    vector = vectors["wg"]["replies"]["record_1234"]
    raw = bytes.fromhex(vector["hex"])
    packet, record = decode_reply(raw, function=Function.GET_RECORD, serial=SERIAL)
    expect = vector["expect"]
    assert record.index == expect["index"] and record.kind == expect["type"]
    assert record.granted is expect["granted"] and record.door == expect["door"]
    assert record.direction_name == expect["direction"] and record.card == expect["card"]
    assert record.time == datetime.fromisoformat(expect["time"]) and record.reason == expect["reason"]
    assert record.category == "granted" and record.reason_text == "card swiped, passed"
    assert encode_reply(Function.GET_RECORD, SERIAL, record) == raw


def test_worked_example_prefix_from_reference():
    record = Record(1234, 1, True, 1, 1, 3659533, datetime(2025, 3, 15, 7, 31, 2), 1)
    assert encode_reply(Function.GET_RECORD, SERIAL, record)[:28] == bytes.fromhex(
        "17 B0 00 00 3B B6 4A 0D D2 04 00 00 01 01 01 01 0D D7 37 00 20 25 03 15 07 31 02 01")


def test_status_reply_with_controller_state():
    raw = hand_packet(0x20, {8: "05000000", 12: "01 00 02 02", 16: "39300000", 20: "20250315073102", 27: "06",
                             28: "01000000", 32: "00010000", 36: "00", 37: "073105", 49: "01", 51: "250315"},
                      sequence=77)
    packet, status = decode_reply(raw, function=Function.STATUS, serial=SERIAL)
    assert packet.sequence == 77
    r = status.record
    assert (r.index, r.kind, r.granted, r.door, r.direction_name, r.card, r.reason) == (5, "swipe", False, 2, "out", 12345, 6)
    assert r.category == "denied" and "no privilege" in r.reason_text
    assert status.doors_open == (True, False, False, False) and status.buttons == (False, True, False, False)
    assert status.clock == datetime(2025, 3, 15, 7, 31, 5) and status.relays == 1
    assert encode_reply(Function.STATUS, SERIAL, status, sequence=77) == raw


def test_empty_status_and_overwritten_record():
    _, status = decode_reply(hand_packet(0x20, {}), serial=SERIAL)
    assert status.record.index == 0 and not status.record.exists and status.clock is None
    _, record = decode_reply(hand_packet(0xB0, {8: "05000000", 12: "ff"}), serial=SERIAL)
    assert record.kind == "overwritten" and not record.exists


def test_record_with_impossible_time_is_kept_and_flagged():
    _, record = decode_reply(hand_packet(0xB0, {8: "07000000", 12: "01010101", 16: "01000000", 20: "20251399999999"}))
    assert record.index == 7 and record.card == 1 and record.time is None and record.bad_time == "20251399999999"


@pytest.mark.parametrize("function, fields, value", [
    (0x40, {8: "01"}, True),
    (0x50, {8: "00"}, False),
    (0x58, {8: "2a000000"}, 42),
    (0xB4, {8: "d2040000"}, 1234),
    (0x32, {8: "20250315073005"}, datetime(2025, 3, 15, 7, 30, 5)),
    (0x5A, {8: "0dd73700", 12: "20250101", 16: "20291231", 20: "01010000"},
     Privilege(3659533, date(2025, 1, 1), date(2029, 12, 31), (True, True, False, False))),
    (0x5A, {}, None),
    (0x92, {8: "c0a80164", 12: "7017", 14: "05"}, PushTarget("192.168.1.100", 6000, 5)),
    (0x82, {8: "02 03 05"}, DoorControl(2, 3, 5)),
    (0x94, {8: "c0a80002", 12: "ffffff00", 16: "c0a80001", 20: "006619395532", 26: "0662"},
     DeviceInfo(SERIAL, "192.168.0.2", "255.255.255.0", "192.168.0.1", "00:66:19:39:55:32", "6.62")),
])
def test_replies_both_directions(function, fields, value):
    raw = hand_packet(function, fields, sequence=9)
    _, decoded = decode_reply(raw, function=function, serial=SERIAL)
    assert decoded == value
    assert encode_reply(function, SERIAL, value, sequence=9) == raw


@pytest.mark.parametrize("function, fields, value", [
    (0x52, {8: "0dd73700"}, 3659533),
    (0x5A, {8: "0dd73700"}, 3659533),
    (0x54, {8: "55aaaa55"}, None),
    (0x90, {8: "7f000001", 12: "3075", 14: "00"}, PushTarget("127.0.0.1", 30000, 0)),
    (0x80, {8: "01 02 00"}, DoorControl(1, 2, 0)),
    (0xB0, {8: "ffffffff"}, 0xFFFFFFFF),
])
def test_requests_both_directions(function, fields, value):
    raw = hand_packet(function, fields)
    assert encode_request(function, SERIAL, value) == raw
    assert decode_request(raw, serial=SERIAL)[1] == value


def test_discover_request_uses_serial_zero():
    assert encode_request(Function.DISCOVER, 0) == hand_packet(0x94, {}, serial=0)


def test_legacy_type_0x19_accepted():
    packet, _ = decode_reply(hand_packet(0x58, {8: "01000000"}, type_=0x19))
    assert packet.type == 0x19


# -- what must be refused ------------------------------------------------------------------------------
@pytest.mark.parametrize("raw, kind, message", [
    (hand_packet(0x20, {})[:63], "length", "64 bytes, got 63"),
    (hand_packet(0x20, {}) + b"\x00", "length", "got 65"),
    (b"", "length", "got 0"),
    (hand_packet(0x20, {}, type_=0x18), "type", "type 0x18"),
    (hand_packet(0x21, {}), "function", "unknown function 0x21"),
])
def test_bad_packets(raw, kind, message):
    with pytest.raises(PacketError, match=message) as err:
        decode_packet(raw)
    assert err.value.kind == kind and isinstance(err.value, ProtocolError)


def test_wrong_serial_and_function():
    raw = hand_packet(0x20, {}, serial=123456789)
    with pytest.raises(PacketError, match="from controller 123456789, expected 223000123") as err:
        decode_reply(raw, serial=SERIAL)
    assert err.value.kind == "serial"
    with pytest.raises(PacketError, match="expected 0xB0"):
        decode_reply(raw, function=Function.GET_RECORD)


def test_not_bytes():
    with pytest.raises(PacketError, match="must be bytes"):
        decode_packet("17" * 64)


def test_destructive_calls_need_the_magic_word():
    with pytest.raises(PacketError, match="55 AA AA 55") as err:
        decode_request(hand_packet(0xB2, {8: "d2040000"}))
    assert err.value.kind == "magic"
    with pytest.raises(PacketError, match="guard"):
        decode_request(hand_packet(0x54, {8: "55aaaa00"}))


@pytest.mark.parametrize("function, value, message", [
    (Function.OPEN_DOOR, 5, "door 5"),
    (Function.GET_RECORD, -1, "does not fit"),
    (Function.GET_RECORD, 1 << 32, "does not fit"),
    (Function.SET_PUSH_TARGET, PushTarget("localhost", 1), "not an IPv4"),
    (Function.SET_PUSH_TARGET, PushTarget("127.0.0.1", 70000), "16-bit"),
    (Function.PUT_PRIVILEGE, Privilege(1, doors=(True,)), "4 doors"),
    (Function.SET_DOOR_CONTROL, DoorControl(1, 7), "mode 7"),
])
def test_encoders_refuse_values_that_do_not_fit(function, value, message):
    with pytest.raises(PacketError, match=message):
        encode_request(function, SERIAL, value)


def test_fields_cannot_overwrite_header_or_sequence():
    with pytest.raises(PacketError, match="overlaps"):
        encode_packet(0x20, SERIAL, {38: b"\x00\x00\x00"})
    with pytest.raises(PacketError, match="overlaps"):
        encode_packet(0x20, SERIAL, {4: b"\x00"})


def test_decoders_refuse_bad_field_values():
    with pytest.raises(ProtocolError):
        decode_reply(hand_packet(0x32, {8: "20251315073005"}))
    with pytest.raises(ProtocolError, match="empty"):
        decode_reply(hand_packet(0x32, {}))
    with pytest.raises(ProtocolError, match="door 9"):
        decode_request(hand_packet(0x40, {8: "09"}))


# -- reason codes (reference §2) ---------------------------------------------------------------------------
def test_every_reason_has_text_and_category():
    expected = {**{c: "granted" for c in range(1, 5)}, **{c: "denied" for c in range(5, 20)},
                **{c: "door_event" for c in range(20, 34)}, **{c: "alarm" for c in range(34, 44)},
                44: "door_event", 45: "door_event"}
    for code, category in expected.items():
        assert reasons.category(code) == category, code
        assert reasons.text(code) and "unknown" not in reasons.text(code)
    assert reasons.category(0) == reasons.category(46) == "unknown"
    assert reasons.text(99) == "reason 99 (unknown)"


@pytest.mark.parametrize("code, words", [(6, "no privilege"), (8, "anti-passback"), (15, "expired"),
                                         (28, "powered on"), (38, "forced entry"), (39, "fire"),
                                         (44, "remote open")])
def test_reason_texts(code, words):
    assert words in reasons.text(code)


def test_status_fields_round_trip_without_clock():
    status = Status(Record(0))
    assert decode_reply(encode_reply(Function.STATUS, SERIAL, status), serial=SERIAL)[1] == status
