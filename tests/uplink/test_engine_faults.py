"""Faults on the road to the platform: the platform down, errors, lost answers, garbage. In every
case each admitted event ends in the platform's store exactly once; with reconciliation available
the platform never sees a record twice."""
from __future__ import annotations

import pytest
from engine_fixtures import engine, receiver, site_cfg, store  # noqa: F401  (pytest fixtures)
from engine_helpers import (
    APPID, ROSTER, SECRET, TEAM_A, TEAM_B, drain, event, make_engine, natural_key, received_keys, states,
)

from sitegate.receiver import Receiver
from sitegate.uplink.national import NationalClient


def load(store, n: int = 120, *, team: int | None = None) -> list:
    """``n`` events of workers 1..60, a second apart; two teams unless ``team`` is given."""
    events = [event(i % 60 + 1, i, team=team or (TEAM_A if i % 2 else TEAM_B)) for i in range(n)]
    for ev in events:
        store.append(ev)
    return events


def assert_exactly_once(receiver, events) -> None:
    assert sorted(received_keys(receiver)) == sorted(natural_key(ev) for ev in events)


@pytest.mark.parametrize("faults", [
    {"error_rate": 0.3},
    {"drop_rate": 0.3},
    {"garbage_rate": 0.3},
    {"error_rate": 0.15, "drop_rate": 0.15, "garbage_rate": 0.15},
], ids=["30%-errors", "dropped-answers", "garbage-bodies", "all-at-once"])
def test_faults_with_reconciliation_deliver_exactly_once_and_never_twice(receiver, engine, store, faults):
    receiver.set_faults(**faults)
    events = load(store)
    drain(engine, store)
    assert_exactly_once(receiver, events)
    assert receiver.duplicates() == {}
    assert states(store) == {"delivered": len(events)}
    seen = receiver.stats()["faults"]
    assert sum(seen.values()) > 0, "the faults must actually have happened"
    kinds = {k for k in engine.counters if k.startswith("error_")}
    if "garbage_rate" in faults:
        assert "error_garbage" in kinds
    if "drop_rate" in faults or "garbage_rate" in faults:
        assert engine.counters["answers_lost"] > 0


def test_lost_answers_without_reconciliation_are_resent_and_only_those_are_duplicates(receiver, engine, store):
    receiver.set_rules(denied_methods={"WorkerAttendance.Query"})
    receiver.set_faults(drop_rate=0.3, garbage_rate=0.2)
    events = load(store)
    drain(engine, store)
    assert_exactly_once(receiver, events)
    dups = receiver.duplicates()
    assert dups, "with lost answers and no WorkerAttendance.Query some records must come twice"
    assert all(n >= 1 for n in dups.values())
    assert engine.counters["resent_unreconciled"] >= len(dups)


def test_platform_down_for_a_while_then_back(receiver, engine, store):
    events = load(store, 60)
    port, db = receiver.port, receiver.db_path
    receiver.stop()
    for _ in range(20):                                  # connection refused: definitely not sent
        engine.step()
    assert states(store) == {"pending": 60}             # nothing lost, nothing stuck in flight
    assert engine.status.state == "retrying" and engine.counters["error_transport"] >= 1
    assert engine.ledger.counts().get("failed", 0) >= 1
    back = Receiver(APPID, SECRET, db, port=port, roster=ROSTER)
    back.start()
    try:
        drain(engine, store)
        assert_exactly_once(back, events)
        assert back.duplicates() == {}
        assert engine.status.state == "ok"
    finally:
        back.stop()


class TappedClient(NationalClient):
    """The real client, keeping a copy of every form it sends (a tap, not a mock)."""

    def __init__(self, *args, forms: list, **kw):
        super().__init__(*args, **kw)
        self.forms = forms

    def post_form(self, form):
        self.forms.append(dict(form))
        return super().post_form(form)


def tapped_engine(site_cfg, store, receiver, forms):
    return make_engine(site_cfg, store, client_factory=lambda: TappedClient(
        receiver.url, APPID, SECRET, timeout=(2.0, 5.0), forms=forms))


def adds(forms) -> list[dict]:
    return [f for f in forms if f["method"] == "WorkerAttendance.Add"]


def test_a_lost_batch_the_platform_does_not_have_is_resent_byte_identical(receiver, site_cfg, store):
    forms: list[dict] = []
    engine = tapped_engine(site_cfg, store, receiver, forms)
    events = load(store, 5, team=TEAM_A)
    receiver.set_faults(error_rate=1.0)          # the first answer is an HTTP 500: maybe delivered
    engine.step()
    assert engine.ledger.counts() == {"unknown": 1} and states(store) == {"inflight": 5}
    receiver.set_faults(error_rate=0.0)
    drain(engine, store)
    sent = adds(forms)
    assert len(sent) == 2
    assert sent[0]["data"] == sent[1]["data"]                       # byte-identical data
    assert sent[0]["nonce"] != sent[1]["nonce"] and sent[0]["sign"] != sent[1]["sign"]
    assert any(f["method"] == "WorkerAttendance.Query" for f in forms)   # it asked first
    assert_exactly_once(receiver, events)
    assert receiver.duplicates() == {} and engine.counters["resent_identical"] == 1
    engine.close()


def test_without_the_query_a_lost_batch_is_resent_identically_and_counted(receiver, site_cfg, store):
    forms: list[dict] = []
    engine = tapped_engine(site_cfg, store, receiver, forms)
    receiver.set_rules(denied_methods={"WorkerAttendance.Query"})
    events = load(store, 4, team=TEAM_A)
    receiver.set_faults(drop_rate=1.0)           # processed and stored, the answer never comes
    engine.step()
    receiver.set_faults(drop_rate=0.0)
    drain(engine, store)
    sent = adds(forms)
    assert len(sent) == 2 and sent[0]["data"] == sent[1]["data"]
    assert_exactly_once(receiver, events)
    assert sorted(receiver.duplicates()) == sorted(natural_key(ev) for ev in events)
    assert engine.counters["resent_unreconciled"] == 4
    engine.close()


def test_a_lost_batch_the_platform_has_is_not_sent_again(receiver, site_cfg, store):
    forms: list[dict] = []
    engine = tapped_engine(site_cfg, store, receiver, forms)
    events = load(store, 6, team=TEAM_A)
    receiver.set_faults(garbage_rate=1.0)        # processed, the answer is garbage
    engine.step()
    receiver.set_faults(garbage_rate=0.0)
    drain(engine, store)
    assert len(adds(forms)) == 1
    assert_exactly_once(receiver, events)
    assert receiver.duplicates() == {} and engine.counters["reconciled_found"] == 6
    engine.close()
