"""The wg-udp driver on the real road: the simulated controller on a real UDP socket on 127.0.0.1,
the driver's own push listener, the real pipeline on a temp store."""
from __future__ import annotations

import json
import socket
import threading
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from sitegate.buffer import Worker
from sitegate.clock import Clock
from sitegate.drivers.api import Observation
from sitegate.drivers.wg_udp import observe
from sitegate.drivers.wg_udp import privileges as priv
from sitegate.drivers.wg_udp.codec import decode_packet
from sitegate.drivers.wg_udp.driver import WgDriver
from sitegate.drivers.wg_udp.messages import RECORD_ALARM, Privilege, Record
from sitegate.drivers.wg_udp.controller import RecordRing
from sitegate.drivers.wg_udp.simulator import WgSimulator
from sitegate.errors import ProtocolError, StoreError
from sitegate.model import DenyReason, Direction
from tests.conftest import make_id
from tests.drivers.gate_fixtures import Gate, wait_for

SERIAL = 223000123
SHANGHAI = ZoneInfo("Asia/Shanghai")
ALICE, BOB, CAROL, DAVE, ERIN = (make_id(n) for n in range(21, 26))


def roster(**changes) -> list[Worker]:
    """Alice has a contract end, Bob none (rolling validity), Erin no card; pass e.g. carol=dict(blacklisted=True)."""
    base = {"alice": Worker(ALICE, "张三", card_no="1001", valid_to="2030-12-31", team_sys_no=7),
            "bob": Worker(BOB, "李四", card_no="1002"),
            "carol": Worker(CAROL, "王五", card_no="1003"),
            "dave": Worker(DAVE, "赵六", card_no="1004"),
            "erin": Worker(ERIN, "孙七")}
    for who, fields in changes.items():
        for k, v in fields.items():
            setattr(base[who], k, v)
    return list(base.values())


@pytest.fixture
def sim():
    simulator = WgSimulator(SERIAL).start()
    yield simulator
    simulator.stop()


def key(record: Record) -> str:
    """The source_key of a controller record: serial, index and the record's own time."""
    return f"{SERIAL}:{record.index}:{record.time:%Y%m%d%H%M%S}"


def wg_device(sim: WgSimulator, **options) -> dict:
    return {"id": "turnstile", "driver": "wg-udp", "lane": "east-2", "direction": "device", "host": "127.0.0.1",
            "port": sim.address[1], "serial": SERIAL, "poll_interval": 0.2, "timeout": 0.5, "retries": 2, **options}


@pytest.fixture
def gate_for(tmp_path):
    gates = []

    def make(dev: dict, workers: list[Worker] | None = None) -> Gate:
        g = Gate(tmp_path, roster() if workers is None else workers, [dev])
        gates.append(g)
        return g

    yield make
    for g in gates:
        g.close()


def held(sim: WgSimulator) -> dict[int, Privilege]:
    with sim._lock:   # the serve thread changes the table
        return dict(sim.controller.privileges)


def start(gate: Gate, **kw) -> WgDriver:
    driver = gate.start(WgDriver, "turnstile", **kw)
    assert wait_for(lambda: driver.health.state == "up" or driver.failures), driver.failures
    return driver


def synced(driver: WgDriver, n: int = 1) -> bool:
    return wait_for(lambda: driver.counters["privilege_syncs"] >= n)


# -- controller mode: privileges ------------------------------------------------------------------
def test_privileges_pushed_match_the_roster_and_leavers_are_removed(sim, gate_for):
    gate = gate_for(wg_device(sim))
    driver = start(gate)
    assert synced(driver)
    today = datetime.now(SHANGHAI).date()
    table = held(sim)
    assert set(table) == {1001, 1002, 1003, 1004}          # Erin has no card
    assert table[1001] == Privilege(1001, date(2000, 1, 1), date(2030, 12, 31), (True, False, False, False))
    assert table[1002].valid_to == today + timedelta(days=365)
    # Carol is blacklisted, Dave left: the daemon pushes the new admitted list
    gate.add_workers(roster(carol=dict(blacklisted=True), dave=dict(status="left")))
    driver.push_roster(gate.roster.admitted())
    assert wait_for(lambda: set(held(sim)) == {1001, 1002})

    def saved() -> dict:   # what the driver will diff against after a restart
        return json.loads(gate.store.kv_get("device.turnstile.privileges") or "{}")

    assert wait_for(lambda: set(saved().get("cards", ())) == {"1001", "1002"})
    assert saved()["serial"] == SERIAL


def test_a_restart_sends_only_what_changed(sim, gate_for):
    gate = gate_for(wg_device(sim))
    driver = start(gate)
    assert synced(driver)
    gate.stop(driver)
    puts = sim.controller.counters["0x50"]
    gate.add_workers(roster(alice=dict(valid_to="2031-06-30")))
    driver = start(gate)
    assert synced(driver)
    assert sim.controller.counters["0x50"] == puts + 1             # Alice's new contract end, nothing else
    assert held(sim)[1001].valid_to == date(2031, 6, 30)


def test_a_controller_that_lost_or_gained_privileges_is_put_right(sim, gate_for):
    gate = gate_for(wg_device(sim))
    driver = start(gate)
    assert synced(driver)
    gate.stop(driver)
    with sim._lock:     # by hand, on the controller: one card gone, a stranger's card added
        del sim.controller.privileges[1002]
        sim.controller.privileges[9999] = Privilege(9999, doors=(True, True, True, True))
    driver = start(gate)
    assert synced(driver)                                           # each card read back at start
    assert set(held(sim)) == {1001, 1002, 1003, 1004}
    assert sim.controller.counters["0x54"] == 1                     # cleared once, then filled again
    gate.stop(driver)
    with sim._lock:     # memory lost entirely (a replaced board with the same serial)
        sim.controller.privileges.clear()
    driver = start(gate)
    assert synced(driver)
    assert set(held(sim)) == {1001, 1002, 1003, 1004} and sim.controller.counters["0x54"] == 1


def test_a_large_roster_is_put_once_then_kept_by_difference(sim, gate_for):
    workers = [Worker(make_id(n % 1000, birth=f"1990010{1 + n // 1000}"), f"工人{n}", card_no=str(5_000_000 + n))
               for n in range(2000)]
    gate = gate_for(wg_device(sim), workers)
    driver = start(gate)
    assert synced(driver)
    assert len(held(sim)) == 2000 and sim.controller.counters["0x50"] == 2000
    gate.add_workers([Worker(workers[0].id_card_number, workers[0].name, card_no=workers[0].card_no, status="left")])
    driver.push_roster(gate.roster.admitted())
    assert synced(driver, 2)
    assert len(held(sim)) == 1999 and sim.controller.counters["0x50"] == 2000 and sim.controller.counters["0x52"] == 1


# -- controller mode: records ---------------------------------------------------------------------
def test_a_swipe_is_an_event_with_the_controllers_decision(sim, gate_for):
    gate = gate_for(wg_device(sim))
    driver = start(gate)
    assert synced(driver)
    granted = sim.swipe(1001, door=1, direction="in")
    refused = sim.swipe(4242, door=1, direction="out")
    assert wait_for(lambda: len(gate.events()) == 2)
    first, second = gate.events()
    assert first.decision.admitted and first.direction is Direction.IN and first.worker.id_card_number == ALICE
    assert first.source_key == key(granted) and first.extra["credential"] == "card:1001"
    assert first.time.device_time == granted.time.replace(tzinfo=SHANGHAI)
    assert second.decision.reason is DenyReason.DEVICE_DENIED and second.decision.detail == "denied: no privilege"
    assert second.direction is Direction.OUT and not second.uploadable


def test_configured_direction_wins_unless_the_device_reports_it(sim, gate_for):
    gate = gate_for(wg_device(sim, direction="in"))
    start(gate)
    sim.swipe(1001, direction="out")
    assert wait_for(lambda: len(gate.events()) == 1)
    assert gate.events()[0].direction is Direction.IN


def test_the_same_record_pushed_and_downloaded_is_one_event(sim, gate_for):
    gate = gate_for(wg_device(sim, poll_interval=3600))      # only the catch-up at start downloads
    driver = start(gate)
    assert wait_for(lambda: sim.controller.counters["0xB0"] >= 2)   # the catch-up at start found nothing
    record = sim.swipe(1001)
    assert wait_for(lambda: len(gate.events()) == 1)
    assert sim.push_status()                               # the interval push repeats it
    gate.stop(driver)
    assert sim.controller.read_index < record.index        # pushed, not yet downloaded
    driver = start(gate)
    assert wait_for(lambda: sim.controller.read_index >= record.index)
    assert driver.counters["swipes_seen_again"] == 1 and len(gate.events()) == 1


def test_swipes_made_while_the_driver_was_stopped_are_recorded_at_start(sim, gate_for):
    gate = gate_for(wg_device(sim))
    driver = start(gate)
    gate.stop(driver)
    made = [sim.swipe(card) for card in (1001, 1002, 4242)]
    start(gate)
    assert wait_for(lambda: len(gate.events()) == 3)
    assert [e.source_key for e in gate.events()] == [key(r) for r in made]
    assert wait_for(lambda: sim.controller.read_index == made[-1].index)


def test_records_cleared_on_the_controller_are_not_taken_for_old_ones(sim, gate_for):
    gate = gate_for(wg_device(sim))
    start(gate)
    before = sim.swipe(1001)
    assert wait_for(lambda: len(gate.events()) == 1)
    with sim._lock:     # a technician clears the records: indexes start again at 1, minutes later
        sim.controller.records = RecordRing()
        sim.controller.read_index = 0
        sim.controller._offset += timedelta(minutes=5)
    after = sim.swipe(1002)
    assert after.index == before.index == 1
    assert wait_for(lambda: len(gate.events()) == 2)      # the push is taken for a repeat; the download finds it
    assert [e.source_key for e in gate.events()] == [key(before), key(after)]


def test_the_read_index_is_committed_only_after_the_records_are_stored(sim, gate_for):
    gate = gate_for(wg_device(sim, push=False))
    failing = threading.Event()
    failing.set()

    def emit(obs):
        if failing.is_set():
            raise StoreError("disk full")
        return gate.pipeline.emit(obs)

    for card in (1001, 1002):
        sim.swipe(card)
    driver = WgDriver(gate.context("turnstile"))
    driver.ctx._emit = emit
    stop = threading.Event()
    thread = threading.Thread(target=driver.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert wait_for(lambda: driver.counters["not_stored"] >= 2)
        assert sim.controller.read_index == 0 and gate.events() == []
        failing.clear()
        assert wait_for(lambda: len(gate.events()) == 2)
        assert wait_for(lambda: sim.controller.read_index == 2)
    finally:
        stop.set()
        thread.join(10)


def test_door_events_and_alarms_are_not_attendance(sim, gate_for):
    gate = gate_for(wg_device(sim))
    driver = start(gate)
    driver.open()                                        # a remote open leaves a door record (reason 44)
    with sim._lock:
        sim.controller.records.append(Record(0, RECORD_ALARM, False, 1, 1, 0, sim.controller.now(), 38))
    assert wait_for(lambda: driver.counters["records_alarm"] == 1 and driver.counters["records_door"] == 1)
    assert gate.events() == []
    assert wait_for(lambda: "alarm: forced entry at door 1" in driver.health.reason)
    assert driver.health.state == "up"


# -- online mode ----------------------------------------------------------------------------------
def test_online_mode_opens_only_after_the_admitted_event_is_on_disk(sim, gate_for):
    gate = gate_for(wg_device(sim, mode="online"))
    on_disk_at_open: list = []
    sim.controller.on_open = lambda _opened: on_disk_at_open.append(
        [(r["source_key"], r["outcome"]) for r in gate.store.query("SELECT source_key, outcome FROM events")])
    with sim._lock:     # left over from controller mode: would let the controller decide
        sim.controller.privileges[1001] = Privilege(1001, doors=(True, True, True, True))
    driver = start(gate)
    assert held(sim) == {}
    stranger = sim.swipe(4242)
    known = sim.swipe(1001, direction="out")
    assert wait_for(lambda: len(sim.opens) == 1)
    assert on_disk_at_open == [[(key(stranger), "denied"), (key(known), "admitted")]]
    assert wait_for(lambda: len(gate.events()) == 2)
    assert gate.events()[0].decision.reason is DenyReason.UNKNOWN        # the gateway decided, not the controller
    assert len(driver.open_latency_ns) == 1 and driver.counters["opens"] == 1
    sim.swipe(1001, direction="out")      # again at once: the same passage (no new event), but the gate opens
    assert wait_for(lambda: len(sim.opens) == 2)
    assert len(gate.events()) == 2


def test_online_mode_never_opens_for_a_swipe_it_learns_of_too_late(sim, gate_for):
    gate = gate_for(wg_device(sim, mode="online"))
    driver = start(gate)
    gate.stop(driver)
    late = sim.swipe(1001)
    with sim._lock:     # the controller's clock moved on a minute before the gateway came back
        sim.controller._offset += timedelta(minutes=1)
    driver = start(gate, clock_synced=lambda: False)
    assert wait_for(lambda: len(gate.events()) == 1)
    ev = gate.events()[0]
    assert ev.source_key == key(late) and ev.decision.reason is DenyReason.DEVICE_DENIED
    assert "did not decide in time" in ev.decision.detail and sim.opens == []


# -- clock ----------------------------------------------------------------------------------------
def fixed_clock(synced: bool) -> Clock:
    wall = datetime(2031, 5, 5, 2, 0, 0, tzinfo=timezone.utc)
    return Clock(wall_ns=lambda: int(wall.timestamp() * 1e9), synced=lambda: synced)


def test_controller_clock_is_set_from_a_synchronised_gateway_clock(sim, gate_for):
    gate = gate_for(wg_device(sim))
    clock = fixed_clock(True)
    start(gate, clock=clock, clock_synced=lambda: True)
    assert wait_for(lambda: sim.controller.counters["0x30"] == 1)
    assert abs(sim.controller.now() - datetime(2031, 5, 5, 10, 0, 0)) < timedelta(seconds=30)  # Beijing time


def test_controller_clock_is_left_alone_when_the_gateway_clock_is_not_synchronised(sim, gate_for):
    gate = gate_for(wg_device(sim))
    driver = start(gate, clock=fixed_clock(False), clock_synced=lambda: False)
    assert synced(driver)
    assert sim.controller.counters["0x30"] == 0 and sim.controller.now().year != 2031
    assert driver.counters["clock_not_set_unsynced"] == 1


# -- faults ---------------------------------------------------------------------------------------
def test_unreachable_controller_is_down_then_back_by_itself(gate_for):
    first = WgSimulator(SERIAL).start()
    port = first.address[1]
    gate = gate_for(wg_device(first, timeout=0.2, retries=1))
    runner = gate.supervise("turnstile")
    again = None
    try:
        assert wait_for(lambda: runner.health()["state"] == "up")
        first.stop()
        assert wait_for(lambda: runner.health()["state"] == "down" and "not answering" in runner.health()["reason"])
        again = WgSimulator(SERIAL, port=port).start()       # the controller is back, same address
        assert wait_for(lambda: runner.health()["state"] == "up")
        again.swipe(1001)
        assert wait_for(lambda: len(gate.events()) == 1)
    finally:
        runner.stop()
        first.stop()
        if again is not None:
            again.stop()


def test_garbage_packets_are_counted_and_survived(sim, gate_for):
    gate = gate_for(wg_device(sim))
    runner = gate.supervise("turnstile")
    assert wait_for(lambda: runner.health()["state"] == "up")
    driver = runner.driver
    sim.garbage_next(4)                                   # before replies to the driver's requests
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as noise:
        for junk in (b"\x00" * 10, b"\x17\x20" + bytes(62), b"\x42" * 64):
            noise.sendto(junk, driver.push_address)       # and at its push listener
    sim.swipe(1001)
    assert wait_for(lambda: len(gate.events()) == 1)
    assert wait_for(lambda: driver.protocol_errors >= 7)
    assert runner.health()["state"] == "up" and runner.restarts == 0


def test_probe(sim):
    assert WgDriver.probe({"host": "127.0.0.1", "port": sim.address[1], "serial": SERIAL}) is None
    problem = WgDriver.probe({"host": "127.0.0.1", "port": sim.address[1], "serial": SERIAL + 1}, timeout=0.4)
    assert f"controller {SERIAL + 1}" in problem and "did not answer" in problem


def test_config_check_refuses_a_listen_address_the_controller_cannot_reach(site):
    site.write_config('\n[[devices]]\nid = "t"\ndriver = "wg-udp"\ndirection = "device"\nhost = "192.168.1.50"\n'
                      'serial = 223000123\nlisten = "0.0.0.0:60001"\nmode = "offline"\n')
    code, _, err = site.cli("config", "check", "-c", str(site.config))
    assert code == 2
    assert "devices[0].listen: '0.0.0.0:60001' names no address the controller can send to" in err
    assert "devices[0].mode: 'offline' is not allowed" in err


def test_conformance_run_passes_against_the_simulator(site):
    with WgSimulator(SERIAL, garbage_rate=0.2, seed=5) as simulator:
        simulator.garbage_next(5)         # the first replies come with garbage, whatever the dice say
        site.write_config(f'\n[[devices]]\nid = "t"\ndriver = "wg-udp"\ndirection = "device"\nhost = "127.0.0.1"\n'
                          f'port = {simulator.address[1]}\nserial = {SERIAL}\npoll_interval = 0.2\ntimeout = 0.5\n')
        stop = threading.Event()

        def turnstile_traffic():
            while not stop.wait(0.2):
                simulator.swipe(1001)

        traffic = threading.Thread(target=turnstile_traffic, daemon=True)
        traffic.start()
        try:
            code, out, err = site.cli("drivers", "test", "t", "-c", str(site.config), "--no-prompt", "--timeout", "15",
                                      "--json")
        finally:
            stop.set()
            traffic.join()
        opens = simulator.opens
    steps = {s["name"]: s for s in json.loads(out)}
    assert code == 0, out + err
    assert all(s["passed"] for s in steps.values()), steps
    assert not steps["rejects garbage"]["skipped"]
    assert "card 1001 via card" in steps["produces an observation"]["detail"]
    assert len(opens) == 1


# -- privilege planning (pure) --------------------------------------------------------------------
TODAY = date(2025, 3, 15)


def test_wanted_skips_bad_card_numbers_and_keeps_the_longer_validity():
    workers = [Worker(ALICE, "a", card_no="0001001", valid_to="2026-01-01"),
               Worker(BOB, "b", card_no="1001", valid_to="2027-01-01"),
               Worker(CAROL, "c", card_no="12ab"), Worker(DAVE, "d", card_no="99999999999")]
    want = priv.wanted(workers, today=TODAY, valid_days=365, door=2)
    assert list(want.privileges) == [1001] and want.privileges[1001].valid_to == date(2027, 1, 1)
    assert want.privileges[1001].doors == (False, True, False, False)
    assert len(want.skipped) == 2 and "12ab" in want.skipped[0] and ALICE not in " ".join(want.skipped)


def test_rolling_validity_is_resent_only_when_half_is_used_up():
    want = priv.wanted([Worker(BOB, "b", card_no="1002")], today=TODAY, valid_days=365, door=1)
    pushed = dict(want.privileges)
    later = TODAY + timedelta(days=100)
    assert len(priv.plan(want, pushed, today=TODAY, valid_days=365)) == 0
    assert len(priv.plan(priv.wanted([Worker(BOB, "b", card_no="1002")], today=later, valid_days=365, door=1),
                         pushed, today=later, valid_days=365)) == 0
    much_later = TODAY + timedelta(days=200)
    again = priv.plan(priv.wanted([Worker(BOB, "b", card_no="1002")], today=much_later, valid_days=365, door=1),
                      pushed, today=much_later, valid_days=365)
    assert [p.valid_to for p in again.puts] == [much_later + timedelta(days=365)]


def test_plan_removes_first_and_puts_changed_doors_and_dates():
    want = priv.wanted([Worker(ALICE, "a", card_no="1", valid_to="2026-01-01"), Worker(BOB, "b", card_no="2")],
                       today=TODAY, valid_days=365, door=1)
    pushed = {1: Privilege(1, priv.VALID_FROM, date(2025, 12, 31), priv.doors_for(1)),
              2: Privilege(2, priv.VALID_FROM, TODAY + timedelta(days=365), priv.doors_for(2)),
              3: Privilege(3, priv.VALID_FROM, None, priv.doors_for(1))}
    changes = priv.plan(want, pushed, today=TODAY, valid_days=365)
    assert changes.removes == [3] and sorted(p.card for p in changes.puts) == [1, 2]
    assert len(priv.plan(want, pushed, today=TODAY, valid_days=365, force=True).puts) == 2


def test_pushed_table_round_trip_and_bad_state():
    table = priv.PushedTable(SERIAL, {1001: Privilege(1001, priv.VALID_FROM, date(2030, 12, 31), priv.doors_for(3))})
    text = table.dump()
    assert priv.PushedTable.load(text, SERIAL).privileges == table.privileges
    assert len(priv.PushedTable.load(text, SERIAL + 1)) == 0          # another controller
    assert len(priv.PushedTable.load('{"serial": 223000123, "cards": {"1": "x"}}', SERIAL)) == 0
    assert len(priv.PushedTable.load("not json", SERIAL)) == 0


# -- properties -----------------------------------------------------------------------------------
_dates = st.one_of(st.none(), st.dates(date(2024, 1, 1), date(2030, 12, 31)))
_privileges = st.dictionaries(st.integers(1, 50), st.builds(
    lambda card, end, door: Privilege(card, priv.VALID_FROM, end, priv.doors_for(door)),
    st.integers(1, 50), _dates, st.integers(1, 4)), max_size=20).map(
    lambda d: {p.card: p for p in d.values()})


@settings(max_examples=150, deadline=None)
@given(pushed=_privileges, cards=st.dictionaries(st.integers(1, 50), _dates, max_size=20),
       door=st.integers(1, 4), force=st.booleans())
def test_applying_the_plan_gives_the_wanted_table(pushed, cards, door, force):
    workers = [Worker(make_id(card), "w", card_no=str(card), valid_to=end.isoformat() if end else None)
               for card, end in cards.items()]
    want = priv.wanted(workers, today=TODAY, valid_days=365, door=door)
    changes = priv.plan(want, pushed, today=TODAY, valid_days=365, force=force)
    after = dict(pushed)
    for card in changes.removes:
        del after[card]
    after.update({p.card: p for p in changes.puts})
    assert set(after) == set(want.privileges)
    for card, p in want.privileges.items():
        if card not in want.rolling:
            assert after[card] == p
        else:    # rolling validity: any date in the second half of its span will do
            assert after[card].doors == p.doors and TODAY + timedelta(days=182) <= after[card].valid_to
    assert len(priv.plan(want, after, today=TODAY, valid_days=365)) == 0   # nothing left to do


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=200), st.builds(json.dumps, st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12))))
def test_a_damaged_stored_table_never_raises(text):
    table = priv.PushedTable.load(text, SERIAL)
    assert isinstance(table.privileges, dict)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=64, max_size=64))
def test_any_decodable_record_becomes_an_observation_or_nothing(raw):
    packet = bytes([0x17, 0x20, 0, 0]) + SERIAL.to_bytes(4, "little") + raw[8:]
    try:
        record = Record.from_packet(decode_packet(packet))
    except ProtocolError:
        return

    def make(**kw):
        return Observation(device_id="t", received=Clock().now(), **kw)

    obs = observe.swipe_observation(make, SERIAL, record, SHANGHAI, device_direction=True,
                                    decision=observe.controller_decision(record))
    assert obs.source_key.startswith(f"{SERIAL}:{record.index}:") and obs.credential.value == str(record.card)
    assert obs.direction in (Direction.IN, Direction.OUT, None)
