"""Events are dated by the passage (the device's record time, when trusted), not by their receipt."""
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from sitegate.buffer import Roster, Store, Worker, backlog
from sitegate.clock import Stamp
from sitegate.drivers.api import Credential, CredentialKind, Observation
from sitegate.drivers.wg_udp import observe
from sitegate.drivers.wg_udp.messages import Record
from sitegate.model import ADMIT, Direction, Method
from sitegate.passage_time import MAX_AHEAD, passage_time
from sitegate.pipeline import Pipeline
from sitegate.policy import GatePolicy
from sitegate.roster_cache import RosterCache
from sitegate.uplink.national.records import RecordBuilder
from tests.conftest import make_id

SHANGHAI = ZoneInfo("Asia/Shanghai")
SERIAL = 223000123
A = make_id(1)
# the gateway hears of the records at 08:30 Beijing time, its clock synchronised
RECEIPT = datetime(2026, 11, 28, 8, 30, tzinfo=SHANGHAI).astimezone(timezone.utc)
RECEIPT_MONO_S = 5_000.0


@pytest.fixture
def gate(tmp_path):
    store = Store.open(tmp_path / "d", uplinks=["national"])
    Roster(store).upsert_many([Worker(A, "张三", team_sys_no=1, card_no="3659533")])
    policy = GatePolicy(RosterCache(store), repeat_window_s=10, anti_passback=True,
                        today=lambda: date(2026, 11, 28))
    pipe = Pipeline(store, policy, devices={"wg": {"id": "wg", "lane": "east-1", "direction": "in",
                                                   "driver": "wg-udp"}})
    yield store, policy, pipe
    store.close()


def stamp(*, after_s: float = 0.0, synced: bool = True) -> Stamp:
    return Stamp(wall=RECEIPT + timedelta(seconds=after_s), mono_ns=int((RECEIPT_MONO_S + after_s) * 1e9),
                 boot_id="b", synced=synced)


def wg_swipe(index: int, at: datetime, *, received: Stamp, direction: int = 1) -> Observation:
    """A WG controller's stored swipe, as the real driver turns it into an observation."""
    record = Record(index=index, type=1, granted=True, door=1, direction=direction, card=3659533, time=at)

    def make(**kw):
        return Observation(device_id="wg", received=received, **kw)

    return observe.swipe_observation(make, SERIAL, record, SHANGHAI, device_direction=True,
                                     decision=observe.controller_decision(record))


def uploaded_date(store: Store, event_id: str) -> str:
    row = store.query("SELECT * FROM events WHERE event_id = ?", (event_id,))[0]
    return RecordBuilder(store).build(row, 1).item["date"]


def test_wg_record_downloaded_40_minutes_late_is_dated_at_its_record_time(gate):
    store, _policy, pipe = gate
    out = pipe.emit(wg_swipe(15, datetime(2026, 11, 28, 7, 50), received=stamp()))
    ev = store.get_event(out.event_id)
    assert ev.time.wall == datetime(2026, 11, 28, 7, 50, tzinfo=SHANGHAI)
    assert ev.time.synced and ev.time.device_time == ev.time.wall
    assert datetime.fromisoformat(ev.extra["received_at"]) == RECEIPT   # nothing lost
    assert "device_time_unused" not in ev.extra
    assert uploaded_date(store, out.event_id) == "2026-11-28 07:50:00"
    assert backlog(store)["national"]["pending"] == 1


def test_device_time_3_hours_in_the_future_is_not_used(gate):
    store, _policy, pipe = gate
    out = pipe.emit(wg_swipe(16, datetime(2026, 11, 28, 11, 30), received=stamp()))
    ev = store.get_event(out.event_id)
    assert ev.time.wall == RECEIPT
    assert ev.time.device_time == datetime(2026, 11, 28, 11, 30, tzinfo=SHANGHAI)
    assert datetime.fromisoformat(ev.extra["device_time"]) == ev.time.device_time
    assert "ahead" in ev.extra["device_time_unused"] and "received_at" not in ev.extra
    assert uploaded_date(store, out.event_id) == "2026-11-28 08:30:00"
    assert pipe.counts["device_time_unused", "wg"] == 1


def test_device_time_older_than_a_device_keeps_is_not_used(gate):
    store, _policy, pipe = gate
    out = pipe.emit(wg_swipe(17, datetime(2000, 1, 1, 0, 0), received=stamp()))   # a reset controller clock
    ev = store.get_event(out.event_id)
    assert ev.time.wall == RECEIPT and "days before receipt" in ev.extra["device_time_unused"]


def test_unsynchronised_gateway_keeps_receipt_time_and_stays_flagged(gate):
    store, _policy, pipe = gate
    out = pipe.emit(wg_swipe(18, datetime(2026, 11, 28, 8, 29, 50), received=stamp(synced=False)))
    ev = store.get_event(out.event_id)
    assert ev.time.wall == RECEIPT and not ev.time.synced
    assert "not synchronised" in ev.extra["device_time_unused"]
    assert backlog(store)["national"]["held"] == 1   # corrected from the monotonic clock later


def test_two_stored_swipes_downloaded_together_are_two_passages(gate):
    """Received 1 s apart (inside the repeat window) but made 40 minutes apart: both are attendance."""
    store, _policy, pipe = gate
    first = pipe.emit(wg_swipe(20, datetime(2026, 11, 28, 7, 10), received=stamp()))
    second = pipe.emit(wg_swipe(21, datetime(2026, 11, 28, 7, 50), received=stamp(after_s=1)))
    assert first.event_id and second.event_id and store.count_events() == 2


def test_a_double_swipe_kept_by_the_device_is_still_one_passage(gate):
    store, _policy, pipe = gate
    first = pipe.emit(wg_swipe(22, datetime(2026, 11, 28, 7, 10, 0), received=stamp()))
    again = pipe.emit(wg_swipe(23, datetime(2026, 11, 28, 7, 10, 4), received=stamp(after_s=30)))
    assert first.event_id and again.event_id is None and store.count_events() == 1


def test_a_late_old_record_is_history_not_an_anti_passback_denial(gate):
    store, policy, pipe = gate

    def live(after_s: float, direction: Direction) -> Observation:
        return Observation(device_id="wg", credential=Credential(CredentialKind.CARD, "3659533"),
                           method=Method.CARD, received=stamp(after_s=after_s), direction=direction)

    assert pipe.emit(live(0, Direction.IN)).event_id                     # 08:30 in, seen live
    # the controller of another lane hands over an 07:40 "in" it kept during an outage
    old = Observation(device_id="wg", credential=Credential(CredentialKind.CARD, "3659533"), method=Method.CARD,
                      received=stamp(after_s=60), direction=Direction.IN,
                      device_time=datetime(2026, 11, 28, 7, 40, tzinfo=SHANGHAI))
    assert policy.decide(old, Direction.IN, at_s=passage_time(old.received, old.device_time).mono_s).history
    out = pipe.emit(old)
    assert out.decision == ADMIT and out.event_id
    # who is inside did not change: a second "in" now is still refused, an "out" admitted
    assert not pipe.emit(live(120, Direction.IN)).decision.admitted
    assert pipe.emit(live(180, Direction.OUT)).decision.admitted


def test_device_clock_slightly_ahead_is_used_but_does_not_reorder_passages():
    received = stamp()
    ahead = passage_time(received, RECEIPT + MAX_AHEAD - timedelta(seconds=1))
    assert ahead.from_device and ahead.wall == RECEIPT + MAX_AHEAD - timedelta(seconds=1)
    assert ahead.mono_s == RECEIPT_MONO_S
    too_far = passage_time(received, RECEIPT + MAX_AHEAD + timedelta(seconds=1))
    assert not too_far.from_device and too_far.wall == RECEIPT


def test_naive_device_time_is_not_used():
    pt = passage_time(stamp(), datetime(2026, 11, 28, 8, 0))
    assert not pt.from_device and "zone" in pt.distrust


def test_no_device_time_is_the_receipt():
    pt = passage_time(stamp(synced=False), None)
    assert pt.wall == RECEIPT and not pt.synced and pt.distrust == "" and pt.mono_s == RECEIPT_MONO_S
