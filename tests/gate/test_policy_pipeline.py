"""The gate policy and the pipeline on a real store."""
from datetime import date, datetime, timezone

import pytest

from sitegate.buffer import Roster, Store, Worker, backlog
from sitegate.clock import Stamp
from sitegate.drivers.api import Credential, CredentialKind, IdentityDoc, Observation
from sitegate.model import ADMIT, DenyReason, Direction, GateDecision, Method, Outcome
from sitegate.pipeline import Pipeline
from sitegate.policy import GatePolicy
from sitegate.roster_cache import RosterCache
from tests.conftest import make_id

A, B, C, D = make_id(1), make_id(2), make_id(3), make_id(4)


@pytest.fixture
def gate(tmp_path):
    store = Store.open(tmp_path / "d", uplinks=["national"])
    Roster(store).upsert_many([
        Worker(A, "张三", team_sys_no=1, card_no="3659533"),
        Worker(B, "李四", blacklisted=True, card_no="111"),
        Worker(C, "王五", valid_to="2020-01-01", card_no="222"),
        Worker(D, "赵六", status="left", card_no="333"),
    ])
    roster = RosterCache(store)
    policy = GatePolicy(roster, repeat_window_s=10, today=lambda: date(2026, 11, 28))
    pipe = Pipeline(store, policy, devices={"east": {"id": "east", "lane": "east-1", "direction": "in",
                                                     "driver": "wg-udp"}})
    yield store, policy, pipe
    store.close()


_mono = [10**12]


def obs(kind=CredentialKind.CARD, value="3659533", *, direction=None, t=None, **kw) -> Observation:
    _mono[0] += 1
    mono = int((t if t is not None else _mono[0] / 1e9) * 1e9)
    stamp = Stamp(wall=datetime(2026, 11, 28, 7, 30, tzinfo=timezone.utc), mono_ns=mono, boot_id="b", synced=True)
    return Observation(device_id="east", credential=Credential(kind, value), method=Method.CARD, received=stamp,
                       direction=direction, **kw)


@pytest.mark.parametrize("value,reason", [
    ("999", DenyReason.UNKNOWN), ("111", DenyReason.BLACKLISTED), ("222", DenyReason.CONTRACT_EXPIRED),
    ("333", DenyReason.LEFT_PROJECT),
])
def test_denials_are_recorded_with_their_reason_and_not_queued(gate, value, reason):
    store, _policy, pipe = gate
    out = pipe.emit(obs(value=value))
    assert not out.decision.admitted and out.decision.reason == reason
    ev = store.get_event(out.event_id)
    assert ev.decision.reason == reason and ev.extra["credential"] == f"card:{value}"
    assert backlog(store)["national"]["pending"] == 0


def test_admitted_card_swipe_becomes_a_queued_event_with_the_configured_direction(gate):
    store, _policy, pipe = gate
    out = pipe.emit(obs(value="0003659533"))   # leading zeros as some readers send them
    assert out.decision == ADMIT and out.worker.name == "张三"
    ev = store.get_event(out.event_id)
    assert ev.direction == Direction.IN and ev.source.lane == "east-1" and ev.source.driver == "wg-udp"
    assert ev.worker.id_card_number == A and ev.worker.team_sys_no == 1
    assert backlog(store)["national"]["pending"] == 1


def test_repeated_swipe_is_one_event(gate):
    store, _policy, pipe = gate
    first = pipe.emit(obs(t=100.0))
    again = pipe.emit(obs(t=105.0))
    later = pipe.emit(obs(t=111.0))
    assert first.event_id and again.event_id is None and again.decision.admitted
    assert later.event_id is not None   # outside the window: a new passage
    assert store.count_events() == 2


def test_anti_passback(gate):
    store, policy, pipe = gate
    policy.anti_passback = True
    assert pipe.emit(obs(t=100.0)).decision.admitted
    second_in = pipe.emit(obs(t=200.0))
    assert second_in.decision.reason == DenyReason.ANTI_PASSBACK
    assert pipe.emit(obs(t=300.0, direction=Direction.OUT)).decision.admitted
    assert pipe.emit(obs(t=400.0)).decision.admitted


def test_expired_id_card_read(gate):
    store, _policy, pipe = gate
    doc = IdentityDoc(id_number=A, name="张三", valid_to="2020-01-01", expired=True)
    out = pipe.emit(obs(CredentialKind.ID_NUMBER, A, identity=doc))
    assert out.decision.reason == DenyReason.ID_CARD_EXPIRED


def test_unknown_id_card_keeps_who_it_was_encrypted(gate):
    store, _policy, pipe = gate
    stranger = make_id(77)
    out = pipe.emit(obs(CredentialKind.ID_NUMBER, stranger, identity=IdentityDoc(stranger, "路人甲")))
    ev = store.get_event(out.event_id)
    assert ev.decision.reason == DenyReason.UNKNOWN and ev.worker.name == "路人甲"
    assert ev.worker.id_card_number == stranger


def test_device_resend_is_not_a_second_event(gate):
    store, _policy, pipe = gate
    first = pipe.emit(obs(source_key="223000123:1234"))
    resent = pipe.emit(obs(source_key="223000123:1234", t=999.0))
    assert resent.duplicate and resent.event_id == first.event_id and resent.decision == first.decision
    assert store.count_events() == 1


def test_device_decision_is_what_happened(gate):
    store, _policy, pipe = gate
    # the controller admitted a blacklisted card from a stale privilege list: the passage is real
    out = pipe.emit(obs(value="111", device_decision=ADMIT))
    assert out.decision.admitted and "blacklisted" in out.decision.detail
    # the controller denied a valid card: recorded as the device's denial
    refused = GateDecision(Outcome.DENIED, DenyReason.DEVICE_DENIED, "no privilege")
    out = pipe.emit(obs(value="3659533", device_decision=refused, t=50.0))
    assert out.decision == refused


def test_roster_changes_reach_the_cache(gate):
    store, _policy, pipe = gate
    assert not pipe.emit(obs(value="444")).decision.admitted
    Roster(store).upsert_many([Worker(make_id(5), "钱七", card_no="444")])
    pipe.policy.roster.refresh(force=True)
    assert pipe.emit(obs(value="444")).decision.admitted
