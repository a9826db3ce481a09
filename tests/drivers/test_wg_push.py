"""Pushed 0x20 packets from the simulated controller to a PushListener, over real UDP sockets."""
from __future__ import annotations

from datetime import datetime

import pytest

from sitegate.drivers.wg_udp.client import WgClient
from sitegate.drivers.wg_udp.codec import Function
from sitegate.drivers.wg_udp.messages import Record, Status, encode_reply
from sitegate.drivers.wg_udp.push import PushListener
from sitegate.drivers.wg_udp.simulator import WgSimulator

SERIAL = 223000123
WAIT = 10.0  # upper bound for a packet to arrive on loopback; reached only when something is broken


@pytest.fixture
def listener():
    with PushListener("127.0.0.1", 0, serials=[SERIAL]) as push:
        yield push


@pytest.fixture
def sim():
    simulator = WgSimulator(SERIAL).start()
    yield simulator
    simulator.stop()


def test_push_target_set_over_the_wire_then_swipes_arrive_once(sim, listener):
    with WgClient(*sim.address, serial=SERIAL, timeout=2.0) as client:
        assert client.set_push_target(*listener.address, interval=0)
    sim.allow(1001)
    sim.swipe(1001, door=1, direction="in")
    sim.swipe(2002, door=2, direction="out")
    first = listener.poll_once(WAIT)
    second = listener.poll_once(WAIT)
    assert (first.serial, first.record.index, first.record.card, first.record.granted) == (SERIAL, 1, 1001, True)
    assert (second.record.index, second.record.card, second.record.reason) == (2, 2002, 6)
    assert first.source == sim.address
    # The controller pushes its status again (interval push): same record, not handed out again.
    assert sim.push_status() and sim.push_status()
    assert listener.poll_once(0.3) is None
    assert listener.counters.duplicates == 2 and listener.counters.records == 2


def test_interval_push_is_deduplicated():
    with PushListener() as listener:
        sim = WgSimulator(SERIAL, push=listener.address, push_interval=1).start()
        try:
            record = sim.swipe(7)
            got = listener.poll_once(WAIT)
            assert got is not None and got.record.index == record.index
            # Wait (bounded) for at least one interval push of the same status.
            for _ in range(int(WAIT / 0.1)):
                assert listener.poll_once(0.1) is None
                if listener.counters.duplicates:
                    break
            assert listener.counters.duplicates >= 1 and listener.counters.records == 1
        finally:
            sim.stop()


def test_keepalive_gap_and_foreign_packets(listener):
    def status(index: int, serial: int = SERIAL) -> bytes:
        record = Record(index, 1 if index else 0, True, 1, 1, 5, datetime(2025, 3, 15, 7, 0, 0) if index else None, 1)
        return encode_reply(Function.STATUS, serial, Status(record))

    source = ("127.0.0.1", 60000)
    assert listener.accept(status(0), source) is None and listener.counters.keepalives == 1
    assert listener.accept(status(3), source).record.index == 3
    assert listener.accept(status(7), source).record.index == 7
    assert listener.counters.gaps == 3
    assert listener.accept(status(5), source).record.index == 5  # late but new: still handed out
    assert listener.accept(status(5), source) is None
    assert listener.accept(status(9, serial=111), source) is None and listener.counters.foreign == 1
    assert listener.accept(b"\x17\x20" + bytes(10), source) is None and listener.counters.bad_packets == 1
    assert listener.accept(encode_reply(Function.GET_READ_INDEX, SERIAL, 1), source) is None
    assert listener.counters.bad_packets == 2
    assert SERIAL in listener.last_heard


def test_dedup_window_is_bounded():
    with PushListener(window=3) as listener:
        def push(index):
            rec = Record(index, 1, True, 1, 1, 5, datetime(2025, 3, 15, 7, 0, 0), 1)
            return listener.accept(encode_reply(Function.STATUS, SERIAL, Status(rec)), ("127.0.0.1", 1))

        for index in range(1, 6):
            assert push(index) is not None
        assert push(5) is None
        assert push(1) is not None  # forgotten: outside the window of 3
