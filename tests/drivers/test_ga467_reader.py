"""The reader client against the simulator on a real pseudo-terminal, opened by pyserial."""
from __future__ import annotations

import os
from datetime import date

import pytest
import serial

from sitegate.drivers.ga467_serial import codec
from sitegate.drivers.ga467_serial.card import card_from_dict
from sitegate.drivers.ga467_serial.codec import Command
from sitegate.drivers.ga467_serial.reader import Ga467Reader, ReaderDisconnected, ReaderError, ReaderTimeout
from sitegate.drivers.ga467_serial.simulator import Ga467Simulator
from sitegate.errors import SitegateError

TODAY = date(2025, 6, 1)
# Generous reply timeouts: a loaded CI machine must not turn into a failing test (nothing here
# measures speed).
SLOW = dict(find_timeout=3.0, select_timeout=3.0, read_timeout=5.0, command_timeout=3.0)


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def card(vectors):
    return card_from_dict(vectors["sam"]["read_reply"]["expect"], today=TODAY)


@pytest.fixture
def sim(tmp_path):
    simulator = Ga467Simulator(tmp_path / "ttyID0").start()
    yield simulator
    simulator.stop()


@pytest.fixture
def port(sim):
    p = serial.Serial(str(sim.link), 115200)
    yield p
    p.close()


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def reader(port, clock):
    return Ga467Reader(port, min_gap=0.0, clock=clock, today=lambda: TODAY, **SLOW)


def test_link_is_a_pty_pyserial_opens(sim, port):
    assert os.path.islink(sim.link) and os.readlink(sim.link) == sim.pty_name
    assert port.is_open


def test_initialise_and_sam_id(reader, sim):
    reader.initialise()
    assert reader.sam_id() == "0501000020130511000000010000002a"
    assert sim.counters["requests"] == 3


def test_one_result_per_presentation(reader, sim, card):
    assert reader.poll_once() is None
    sim.present(card)
    got = reader.poll_once()
    assert got is not None and got.id_number == card.id_number and got.name == "张三"
    assert got.photo_wlt == bytes(1024)
    # The card stays on the reader: found and read again, never reported again.
    for _ in range(3):
        assert reader.poll_once() is None
    assert reader.counters.duplicates == 3
    sim.remove()
    assert reader.poll_once() is None
    sim.present(card)
    assert reader.poll_once() is not None  # a new presentation
    assert reader.counters.cards == 2


def test_repeat_after_window_for_a_card_left_on_the_reader(port, sim, card, clock):
    reader = Ga467Reader(port, repeat_after=30.0, min_gap=0.0, clock=clock, today=lambda: TODAY, **SLOW)
    sim.present(card)
    assert reader.poll_once() is not None
    clock.now += 29
    assert reader.poll_once() is None
    clock.now += 2
    assert reader.poll_once() is not None


def test_min_gap_suppresses_a_card_that_flickers_out_of_the_field(port, sim, card, clock):
    reader = Ga467Reader(port, min_gap=2.0, clock=clock, today=lambda: TODAY, **SLOW)
    sim.present(card)
    assert reader.poll_once() is not None
    sim.remove()
    assert reader.poll_once() is None
    sim.present(card)
    clock.now += 1.0
    assert reader.poll_once() is None  # back within 2 s: the same presentation
    sim.remove()
    assert reader.poll_once() is None
    sim.present(card)
    clock.now += 5.0
    assert reader.poll_once() is not None


def test_garbage_before_a_reply_is_counted_and_survived(reader, sim, card):
    sim.present(card)
    sim.inject("garbage", 3)  # before find, select and read replies
    got = reader.poll_once()
    assert got is not None and got.id_number == card.id_number
    assert reader.parser.errors["garbage"] == 3
    assert sim.counters["injected_garbage"] == 3


def test_bad_checksum_is_a_corrupt_reply_then_the_next_poll_reads(reader, sim, card):
    sim.present(card)
    sim.inject("bad_checksum")
    with pytest.raises(ReaderError) as err:
        reader.poll_once()
    assert err.value.kind == "corrupt" and "checksum" in str(err.value)
    assert reader.counters.corrupt_replies == 1 and reader.parser.errors["checksum"] == 1
    assert reader.poll_once() is not None


def test_bad_checksum_on_the_big_read_reply(reader, sim, card):
    sim.present(card)
    reader.transact(codec.find_request(), 3)
    reader.transact(codec.select_request(), 3)
    sim.inject("bad_checksum")
    with pytest.raises(ReaderError, match="checksum"):
        reader.transact(codec.read_request(), 5)
    assert reader.poll_once() is not None


def test_no_answer_times_out_then_recovers(port, sim, card, clock):
    reader = Ga467Reader(port, min_gap=0.0, clock=clock, find_timeout=0.3, read_timeout=5.0, select_timeout=3.0)
    sim.present(card)
    sim.inject("no_answer")
    with pytest.raises(ReaderTimeout, match="no reply within") as err:
        reader.poll_once()
    assert err.value.category == "timeout" and reader.counters.timeouts == 1
    reader.find_timeout = 3.0
    assert reader.poll_once() is not None


@pytest.mark.parametrize("command, sw3, what", [
    (Command.FIND_CARD, 0x24, "unrecognised error"),
    (Command.SELECT_CARD, 0x81, "selecting the card failed"),
    (Command.READ_TEXT_PHOTO, 0x41, "reading the card failed"),
    (Command.READ_TEXT_PHOTO, 0x32, "SAM failed to authenticate the card"),
])
def test_reader_status_errors_carry_code_and_reason(reader, sim, card, command, sw3, what):
    sim.present(card)
    sim.fail_next(command, sw3)
    with pytest.raises(ReaderError) as err:
        reader.poll_once()
    assert err.value.code == sw3 and err.value.kind == "status" and what in err.value.reason
    assert err.value.category == ("reader" if sw3 == 0x24 else "card")
    assert reader.counters.status_errors[sw3] == 1
    assert reader.poll_once() is not None  # next presentation cycle works


def test_sam_status_failure(reader, sim):
    sim.fail_next(Command.SAM_STATUS, 0x60)
    with pytest.raises(ReaderError, match="SAM self-test failed"):
        reader.initialise()


def test_appended_address(reader, sim, card):
    sim.present(card, appended_address="济南市市中区")
    assert reader.poll_once() is not None
    assert reader.read_appended_address() == "济南市市中区"
    sim.present(card)
    reader.poll_once()
    assert reader.read_appended_address() is None


def test_fingerprint_read(port, sim, card, clock):
    from dataclasses import replace

    reader = Ga467Reader(port, fingerprint=True, min_gap=0.0, clock=clock, today=lambda: TODAY, **SLOW)
    sim.present(replace(card, fingerprint=bytes(range(256)) * 4))
    got = reader.poll_once()
    assert got is not None and got.fingerprint == bytes(range(256)) * 4


def test_expired_card_flagged(reader, sim, vectors):
    expired = card_from_dict({**vectors["sam"]["read_reply"]["expect"], "valid_to": "20250531"}, today=TODAY)
    sim.present(expired)
    got = reader.poll_once()
    assert got is not None and got.expired


def test_request_with_bad_checksum_gets_sw3_10(port, sim):
    bad = codec.find_request()[:-1] + b"\x00"
    port.write(bad)
    port.timeout = 3
    frame = codec.FrameParser().feed(port.read(11))
    assert codec.decode_reply(frame[0]).sw3 == 0x10
    assert sim.counters["bad_requests_checksum"] == 1


def test_unplug_and_replug(sim, port, card, clock):
    reader = Ga467Reader(port, min_gap=0.0, clock=clock, today=lambda: TODAY, **SLOW)
    sim.present(card)
    assert reader.poll_once() is not None
    sim.unplug()
    assert not os.path.lexists(sim.link)
    with pytest.raises(ReaderDisconnected):
        reader.poll_once()
    assert reader.counters.disconnects == 1
    sim.replug()
    assert os.readlink(sim.link) == sim.pty_name
    port.close()
    with serial.Serial(str(sim.link), 115200) as again:
        reader.attach(again)
        got = reader.poll_once()  # reported again after a reconnect: never lose a presentation
        assert got is not None and got.id_number == card.id_number
    assert sim.counters["unplugs"] == 1 and sim.counters["replugs"] == 1


def test_schedule_presents_and_removes(tmp_path, card, clock):
    from sitegate.drivers.ga467_serial.simulator import ScheduledCard

    with Ga467Simulator(tmp_path / "ttyID1", [ScheduledCard(card, present_for=0.2, absent_for=0.2)],
                        repeat=False) as sim, serial.Serial(str(sim.link)) as p:
        reader = Ga467Reader(p, min_gap=0.0, clock=clock, today=lambda: TODAY, **SLOW)
        seen = []
        # Poll until the scheduled card has come and gone (bounded by request count, not time).
        for _ in range(2000):
            try:
                got = reader.poll_once()
            except ReaderError as exc:  # the card left between find and read, as on a real reader
                assert exc.code in (0x81, 0x41)
                continue
            if got is not None:
                seen.append(got.id_number)
            if seen and sim.device.presented is None:
                break
        assert seen == [card.id_number]
        assert sim.counters["presentations"] == 1


def test_stop_removes_link(tmp_path):
    sim = Ga467Simulator(tmp_path / "ttyID2").start()
    link = sim.link
    assert os.path.islink(link)
    sim.stop()
    assert not os.path.lexists(link)


def test_never_replaces_a_real_file(tmp_path):
    precious = tmp_path / "ttyUSB0"
    precious.write_text("not a link")
    with pytest.raises(SitegateError, match="not a symlink"):
        Ga467Simulator(precious).start()
    assert precious.read_text() == "not a link"
