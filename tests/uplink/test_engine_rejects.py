"""Records the platform refuses for their content: dead-lettered with the platform's own message,
one poison record never holding back the rest."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from engine_fixtures import engine, receiver, site_cfg, store  # noqa: F401  (pytest fixtures)
from engine_helpers import TEAM_A, drain, event, natural_key, received_keys, resident_id, states

NOT_IN_PROJECT = "[idCardNumber]人员不在项目中"


def dead_letters(store) -> dict[str, tuple[str, str]]:
    return {r["event_id"]: (r["reason"], r["code"]) for r in
            store.query("SELECT event_id, reason, code FROM dead_letters WHERE uplink = 'national'")}


def accepted_duplicates(receiver) -> dict:
    accepted = set(received_keys(receiver))
    return {k: n for k, n in receiver.duplicates().items() if k in accepted}


def load(store, n: int = 20, **kw) -> list:
    events = [event(i + 1, i, team=TEAM_A, **kw) for i in range(n)]
    for ev in events:
        store.append(ev)
    return events


def test_records_rejected_by_name_are_dead_letters_and_the_rest_delivered(receiver, engine, store):
    receiver.set_rules(reject_id_cards=[resident_id(3), resident_id(17)])
    events = load(store, 30)
    drain(engine, store)
    poison = {ev.event_id for ev in events if ev.worker.id_card_number in (resident_id(3), resident_id(17))}
    assert {e: reason for e, (reason, _code) in dead_letters(store).items()} == dict.fromkeys(poison, NOT_IN_PROJECT)
    assert sorted(received_keys(receiver)) == sorted(natural_key(ev) for ev in events if ev.event_id not in poison)
    assert receiver.duplicates() == {}                   # the others were checked, not resent
    assert states(store) == {"delivered": 28, "dead": 2}
    assert engine.counters["dead_platform"] == 2


def test_a_batch_failed_without_naming_a_record_is_checked_then_the_missing_one_dead(receiver, engine, store):
    receiver.set_rules(reject_id_cards=[resident_id(8)], failure_text=True)
    events = load(store, 20)
    drain(engine, store)
    poison = [ev.event_id for ev in events if ev.worker.id_card_number == resident_id(8)]
    assert list(dead_letters(store)) == poison
    assert dead_letters(store)[poison[0]][0] == NOT_IN_PROJECT
    assert len(received_keys(receiver)) == 19 and receiver.duplicates() == {}


def test_two_unnamed_poison_records_are_isolated_by_splitting(receiver, engine, store):
    receiver.set_rules(reject_id_cards=[resident_id(4), resident_id(15)], failure_text=True)
    events = load(store, 20)
    drain(engine, store)
    poison = {ev.event_id for ev in events if ev.worker.id_card_number in (resident_id(4), resident_id(15))}
    assert set(dead_letters(store)) == poison
    assert len(received_keys(receiver)) == 18 and accepted_duplicates(receiver) == {}
    assert engine.counters["splits"] >= 1


def test_without_the_query_an_unnamed_failure_is_found_by_halving(receiver, engine, store):
    receiver.set_rules(reject_id_cards=[resident_id(11)], failure_text=True,
                       denied_methods={"WorkerAttendance.Query"})
    events = load(store, 20)
    drain(engine, store)
    poison = [ev.event_id for ev in events if ev.worker.id_card_number == resident_id(11)]
    assert list(dead_letters(store)) == poison
    assert sorted(received_keys(receiver)) == sorted(natural_key(ev) for ev in events if ev.event_id not in poison)
    assert engine.counters["splits"] >= 4 and engine.counters["resent_unreconciled"] > 0


def test_bad_parameters_on_the_whole_call_are_isolated_and_dead_lettered_with_the_message(receiver, engine, store):
    good = load(store, 18)
    future = event(40, 0, team=TEAM_A, wall=datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=3))
    other_type = event(41, 5, team=TEAM_A, id_card_type="02")
    store.append(future)
    store.append(other_type)
    drain(engine, store)
    dead = dead_letters(store)
    assert dead[future.event_id] == ("[date]不能大于当天!", "-1")
    assert dead[other_type.event_id] == ("[idCardType]值超出范围或无效!", "-1")
    assert len(dead) == 2
    assert sorted(received_keys(receiver)) == sorted(natural_key(ev) for ev in good)
    assert receiver.duplicates() == {}
    assert engine.counters["splits"] >= 2 and receiver.stats()["codes"]["-1"] >= 3


def test_a_dead_letter_retried_after_the_cause_is_fixed_is_delivered(receiver, engine, store):
    receiver.set_rules(reject_id_cards=[resident_id(2)])
    events = load(store, 3)
    drain(engine, store)
    (dead_id,) = dead_letters(store)
    receiver.set_rules(reject_id_cards=[])             # the worker was added to the project
    assert engine.queue.requeue_dead(dead_id, "clerk", "added to the project")
    drain(engine, store)
    assert states(store) == {"delivered": 3}
    assert sorted(received_keys(receiver)) == sorted(natural_key(ev) for ev in events)


class ShiftedClock:
    """The platform's clock, ``offset_s`` behind real time (changeable while it serves)."""

    def __init__(self, offset_s: float):
        self.offset_s = offset_s

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) - timedelta(seconds=self.offset_s)


def test_a_platform_clock_behind_ours_delays_a_fresh_record_instead_of_dead_lettering_it(tmp_path):
    from engine_helpers import APPID, ROSTER, SECRET, load_site, make_engine, open_store, write_site

    from sitegate.receiver import Receiver

    platform_clock = ShiftedClock(300)
    rx = Receiver(APPID, SECRET, str(tmp_path / "p.db"), roster=ROSTER, clock=platform_clock)
    rx.start()
    try:
        cfg = load_site(write_site(tmp_path / "site", rx.url))
        with open_store(cfg) as store:
            older = load(store, 4)
            fresh = event(30, 0, team=TEAM_A, wall=datetime.now(timezone.utc).replace(microsecond=0)
                          - timedelta(seconds=20))
            store.append(fresh)
            engine = make_engine(cfg, store)
            engine.skew_retry_s = 0.05
            for _ in range(30):
                engine.step()
                if engine.counters["date_skew"]:
                    break
            assert engine.counters["date_skew"] >= 1 and dead_letters(store) == {}
            assert states(store).get("pending") == 1       # waits, it is not a dead letter
            platform_clock.offset_s = 0                    # the platform's clock is right again
            drain(engine, store)
            engine.close()
            assert dead_letters(store) == {} and states(store) == {"delivered": 5}
        assert sorted(received_keys(rx)) == sorted(natural_key(ev) for ev in [*older, fresh])
    finally:
        rx.stop()
