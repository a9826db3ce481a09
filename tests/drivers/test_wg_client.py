"""The WG client against the simulated controller, over real UDP sockets on 127.0.0.1."""
from __future__ import annotations

import socket
import threading
from datetime import date, datetime, timedelta

import pytest

from sitegate.drivers.wg_udp.client import WgClient, WgError, WgTimeout, discover
from sitegate.drivers.wg_udp.codec import Function, decode_packet
from sitegate.drivers.wg_udp.messages import DoorControl, Privilege, PushTarget, encode_reply
from sitegate.drivers.wg_udp.simulator import WgSimulator

SERIAL = 223000123
CARD = 3659533
TODAY = datetime(2025, 3, 15, 7, 30, 0)


@pytest.fixture
def sim():
    simulator = WgSimulator(SERIAL, clock=lambda: TODAY).start()
    yield simulator
    simulator.stop()


@pytest.fixture
def client(sim):
    # Replies come at once on loopback; 2 s per attempt only matters when something is broken.
    with WgClient(*sim.address, serial=SERIAL, timeout=2.0, retries=3) as c:
        yield c


def test_privileges_pushed_and_swiped(client, sim):
    assert client.put_privilege(Privilege(CARD, date(2025, 1, 1), date(2029, 12, 31), (True, True, False, False)))
    assert client.put_privilege(Privilege(1001, date(2024, 1, 1), date(2024, 12, 31), (True, True, True, True)))
    assert client.privilege_count() == 2
    assert client.get_privilege(CARD) == Privilege(CARD, date(2025, 1, 1), date(2029, 12, 31), (True, True, False, False))
    assert client.get_privilege(42) is None

    granted = sim.swipe(CARD, door=1, direction="in")
    wrong_door = sim.swipe(CARD, door=3, direction="in")
    expired = sim.swipe(1001, door=1, direction="out")
    unknown = sim.swipe(42, door=2)
    assert (granted.granted, granted.reason, granted.category) == (True, 1, "granted")
    assert (wrong_door.granted, wrong_door.reason) == (False, 6)
    assert (expired.granted, expired.reason, expired.direction_name) == (False, 15, "out")
    assert (unknown.granted, unknown.reason) == (False, 6)

    assert client.delete_privilege(CARD) and not client.delete_privilege(CARD)
    assert client.clear_privileges() and client.privilege_count() == 0
    assert sim.swipe(1001).reason == 6


def test_status_shows_the_newest_record(client, sim):
    assert client.status().record.index == 0
    sim.swipe(CARD)
    status = client.status()
    assert status.record.index == 1 and status.record.card == CARD and status.clock == TODAY


def test_remote_open_is_recorded(client, sim):
    assert client.open_door(2)
    assert [(o.door, o.time) for o in sim.opens] == [(2, TODAY)]
    record = client.get_record(1)
    assert (record.kind, record.door, record.reason, record.category) == ("door", 2, 44, "door_event")


def test_clock_set_and_read(client):
    later = TODAY + timedelta(days=1, seconds=5)
    assert client.set_time(later) == later
    assert client.get_time() == later


def test_door_control_and_its_effect(client, sim):
    sim.allow(CARD)
    assert client.set_door_control(1, mode=2, delay=5) == DoorControl(1, 2, 5)
    assert client.get_door_control(1) == DoorControl(1, 2, 5)
    assert client.get_door_control(2) == DoorControl(2)
    assert sim.swipe(CARD, door=1).reason == 11  # normally closed


def test_push_target(client):
    assert client.get_push_target() == PushTarget("0.0.0.0", 0, 0)
    assert client.set_push_target("127.0.0.1", 9999, 10)
    assert client.get_push_target() == PushTarget("127.0.0.1", 9999, 10)


def test_discover_on_loopback(sim):
    found = discover(sim.address[0], sim.address[1], timeout=0.3)
    assert [(d.serial, d.ip, d.version) for d in found] == [(SERIAL, "127.0.0.1", "6.62")]


def test_read_index_needs_magic_and_is_kept(client, sim):
    assert client.get_read_index() == 0
    assert client.set_read_index(5)
    assert client.get_read_index() == 5
    assert sim.controller.read_index == 5


def test_gap_free_download_after_gateway_down(client, sim):
    sim.allow(CARD)
    for n in range(10):  # the gateway is down: nobody listens, nothing is pushed
        sim.swipe(CARD, direction="in" if n % 2 == 0 else "out")
    records = list(client.download_records())
    assert [r.index for r in records] == list(range(1, 11))
    assert all(r.card == CARD and r.granted for r in records)
    assert client.get_read_index() == 10
    assert list(client.download_records()) == []
    sim.swipe(CARD)
    sim.swipe(99)
    assert [(r.index, r.granted) for r in client.download_records()] == [(11, True), (12, False)]
    assert client.counters.records == 12 and client.counters.records_lost == 0


def test_download_stopped_early_commits_nothing(client, sim):
    for _ in range(3):
        sim.swipe(CARD)
    for record in client.download_records():
        break  # e.g. the store failed on the first record
    assert client.get_read_index() == 0
    assert [r.index for r in client.download_records()] == [1, 2, 3]


def test_download_when_the_ring_wrapped(sim):
    small = WgSimulator(SERIAL, capacity=5, clock=lambda: TODAY).start()
    try:
        with WgClient(*small.address, serial=SERIAL, timeout=2.0) as client:
            for _ in range(8):
                small.swipe(CARD)
            assert client.get_record(1).kind == "overwritten"
            assert [r.index for r in client.download_records()] == [4, 5, 6, 7, 8]
            assert client.counters.records_lost == 3
            assert client.get_read_index() == 8
    finally:
        small.stop()


def test_download_when_the_read_index_is_beyond_the_newest_record(client, sim):
    """The controller's records restarted (memory cleared or board replaced)."""
    assert client.set_read_index(100)
    for _ in range(3):
        sim.swipe(CARD)
    assert [r.index for r in client.download_records()] == [1, 2, 3]
    assert client.get_read_index() == 3


def test_dropped_replies_are_retried(sim):
    with WgClient(*sim.address, serial=SERIAL, timeout=0.3, retries=3) as client:
        sim.drop_next(2)
        assert client.privilege_count() == 0
        # >= : on a loaded machine a reply may also come late; it is still accepted (same sequence).
        assert client.counters.retries >= 2 and sim.counters["dropped"] == 2


def test_every_attempt_dropped_is_a_timeout(sim):
    with WgClient(*sim.address, serial=SERIAL, timeout=0.2, retries=2) as client:
        sim.drop_next(3)
        with pytest.raises(WgTimeout, match="after 3 attempts"):
            client.privilege_count()
        assert client.counters.timeouts == 1
        assert client.privilege_count() == 0  # and the next call works


def test_garbage_datagrams_are_skipped_and_counted(client, sim):
    sim.garbage_next(4)
    for _ in range(4):
        assert client.get_read_index() == 0
    assert client.counters.bad_packets + client.counters.foreign_packets == 4
    assert client.counters.retries == 0


def test_wrong_serial_gets_no_answer(sim):
    with WgClient(*sim.address, serial=123456789, timeout=0.2, retries=1) as client:
        with pytest.raises(WgTimeout):
            client.status()
    assert sim.controller.counters["not_for_us"] == 2


class OneShotPeer:
    """A UDP peer on 127.0.0.1 that answers one request with the datagrams ``answer`` returns."""

    def __init__(self, answer):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.thread = threading.Thread(target=self._run, args=(answer,))
        self.thread.start()

    def _run(self, answer):
        self.sock.settimeout(10)
        data, peer = self.sock.recvfrom(2048)
        for datagram in answer(decode_packet(data)):
            self.sock.sendto(datagram, peer)

    def close(self):
        self.thread.join()
        self.sock.close()


def test_stale_and_foreign_replies_are_not_accepted():
    """A peer that first answers with the wrong sequence number, function and serial."""
    peer = OneShotPeer(lambda req: [
        encode_reply(Function.PRIVILEGE_COUNT, SERIAL, 7, sequence=req.sequence + 1),
        encode_reply(Function.GET_READ_INDEX, SERIAL, 7, sequence=req.sequence),
        encode_reply(Function.PRIVILEGE_COUNT, 999, 7, sequence=req.sequence),
        encode_reply(Function.PRIVILEGE_COUNT, SERIAL, 5, sequence=req.sequence),
    ])
    try:
        with WgClient(*peer.sock.getsockname(), serial=SERIAL, timeout=2.0) as client:
            assert client.privilege_count() == 5
            assert client.counters.stale_replies == 2 and client.counters.foreign_packets == 1
    finally:
        peer.close()


def test_commit_refused_is_an_error():
    peer = OneShotPeer(lambda req: [encode_reply(Function.SET_READ_INDEX, SERIAL, False, sequence=req.sequence)])
    try:
        with WgClient(*peer.sock.getsockname(), serial=SERIAL, timeout=2.0) as client:
            with pytest.raises(WgError, match="refused to store read index 3"):
                client.commit_read_index(3)
    finally:
        peer.close()


def test_nobody_listening_is_a_timeout():
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now: ICMP port unreachable
    with WgClient("127.0.0.1", port, serial=SERIAL, timeout=0.2, retries=1) as client:
        with pytest.raises(WgTimeout):
            client.status()
