"""Property tests: any datagram that reaches the client, the push listener or the simulated
controller gives a value or a ProtocolError, never another exception; values round-trip."""
from __future__ import annotations

from datetime import date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from sitegate.drivers.wg_udp.codec import Function, PacketError, decode_packet
from sitegate.drivers.wg_udp.controller import WgController
from sitegate.drivers.wg_udp.messages import (
    OPERATIONS, Privilege, Record, Status, decode_reply, decode_request, encode_reply,
)
from sitegate.drivers.wg_udp.push import PushListener
from sitegate.errors import ProtocolError

FUZZ = settings(max_examples=200, deadline=None)
SERIAL = 223000123
functions = st.sampled_from(sorted(OPERATIONS))
# Bodies of small byte values hit the door numbers, modes and flags that uniform noise rarely does.
bodies = st.one_of(st.binary(min_size=56, max_size=56),
                   st.lists(st.integers(min_value=0, max_value=5), min_size=56, max_size=56).map(bytes))


def with_header(function: int, body: bytes, packet_type: int = 0x17) -> bytes:
    return bytes((packet_type, function, 0, 0)) + SERIAL.to_bytes(4, "little") + body


@FUZZ
@given(st.binary(max_size=200))
def test_any_bytes_decode_or_packet_error(data):
    try:
        packet = decode_packet(data)
    except PacketError as exc:
        assert exc.kind in {"length", "type", "function"}
    else:
        assert len(packet.raw) == 64


@FUZZ
@given(functions, bodies, st.sampled_from([0x17, 0x19]))
def test_well_framed_random_bodies(function, body, packet_type):
    raw = with_header(function, body, packet_type)
    for decode in (decode_reply, decode_request):
        try:
            decode(raw)
        except ProtocolError:
            pass


@FUZZ
@given(st.one_of(st.binary(max_size=100), st.builds(with_header, functions, bodies)))
def test_simulated_controller_never_raises(data):
    controller = WgController(SERIAL, capacity=10)
    reply = controller.handle(data)
    if reply is not None:
        packet = decode_packet(reply, serial=SERIAL)
        assert packet.function == data[1] and packet.sequence == int.from_bytes(data[40:44], "little")


@FUZZ
@given(st.binary(max_size=100))
def test_push_listener_accept_never_raises(data):
    with PushListener() as listener:
        assert listener.accept(data, ("127.0.0.1", 1)) is None or len(data) == 64
        assert listener.counters.packets == 1


dates = st.dates(min_value=date(1000, 1, 1), max_value=date(9999, 12, 31))
times = st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)).map(
    lambda d: d.replace(microsecond=0))
u32 = st.integers(min_value=0, max_value=0xFFFFFFFF)
byte = st.integers(min_value=0, max_value=255)


@FUZZ
@given(st.builds(Record, index=u32, type=byte, granted=st.booleans(), door=byte, direction=byte, card=u32,
                 time=st.one_of(st.none(), times), reason=byte), u32)
def test_record_round_trip(record, sequence):
    raw = encode_reply(Function.GET_RECORD, SERIAL, record, sequence=sequence)
    assert decode_reply(raw, serial=SERIAL) [1] == record


@FUZZ
@given(st.builds(Privilege, card=u32, valid_from=st.one_of(st.none(), dates), valid_to=st.one_of(st.none(), dates),
                 doors=st.tuples(*[st.booleans()] * 4)))
def test_privilege_round_trip(privilege):
    raw = encode_reply(Function.GET_PRIVILEGE, SERIAL, privilege)
    decoded = decode_reply(raw, serial=SERIAL)[1]
    assert decoded == (privilege if privilege.card else None)


@FUZZ
@given(st.builds(Status, record=st.builds(Record, index=u32, type=byte, card=u32, time=times),
                 doors_open=st.tuples(*[st.booleans()] * 4), buttons=st.tuples(*[st.booleans()] * 4),
                 fault=byte, clock=st.one_of(st.none(), st.datetimes(min_value=datetime(2000, 1, 1),
                                                                     max_value=datetime(2099, 12, 31)).map(
                     lambda d: d.replace(microsecond=0))), relays=byte))
def test_status_round_trip(status):
    assert decode_reply(encode_reply(Function.STATUS, SERIAL, status), serial=SERIAL)[1] == status


@FUZZ
@given(st.lists(st.builds(with_header, functions, bodies), max_size=12))
def test_controller_survives_any_request_sequence(requests):
    """State set by one request (clock, door modes, push target) must not break later replies."""
    controller = WgController(SERIAL, capacity=3)
    for raw in requests:
        controller.handle(raw)
    controller.swipe(1)
    assert controller.handle(with_header(Function.STATUS, bytes(56))) is not None
