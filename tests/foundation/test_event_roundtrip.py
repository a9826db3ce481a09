"""Property tests: an AttendanceEvent survives its JSON form and the store, field for field."""
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings, strategies as st

from sitegate.ids import uuid7
from sitegate.model import (
    AttendanceEvent, DenyReason, Direction, EventTime, GateDecision, Location, Method, Outcome,
    Source, WorkerRef,
)
from tests.conftest import make_id

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
zones = st.sampled_from([timezone.utc, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30))])
walls = st.builds(
    lambda secs, us, tz: datetime.fromtimestamp(secs, tz).replace(microsecond=us),
    st.integers(0, 4_000_000_000), st.integers(0, 999_999), zones,
)
decisions = st.one_of(
    st.just(GateDecision(Outcome.ADMITTED)),
    st.builds(GateDecision, st.just(Outcome.DENIED), st.sampled_from(list(DenyReason)), text),
)
events = st.builds(
    AttendanceEvent,
    event_id=st.builds(lambda: str(uuid7())),
    worker=st.builds(WorkerRef, id_card_number=st.builds(make_id, st.integers(0, 999)), id_card_type=st.just("01"),
                     name=text, team_sys_no=st.one_of(st.none(), st.integers(0, 2**40)), team_name=text),
    direction=st.sampled_from(list(Direction)),
    method=st.sampled_from(list(Method)),
    source=st.builds(Source, device_id=text.filter(bool), lane=text, driver=text),
    time=st.builds(EventTime, wall=walls, mono_ns=st.integers(0, 2**62), boot_id=text, synced=st.booleans(),
                   device_time=st.one_of(st.none(), walls)),
    decision=decisions,
    location=st.one_of(st.none(), st.builds(Location, st.floats(-180, 180), st.floats(-90, 90),
                                            st.one_of(st.none(), st.floats(0, 1000)))),
    note=text,
    source_key=st.one_of(st.none(), st.builds(lambda: str(uuid7()))),
    extra=st.dictionaries(st.text(max_size=8), st.one_of(st.integers(-2**53, 2**53), text, st.booleans()), max_size=4),
)


@given(events)
def test_json_round_trip(ev):
    assert AttendanceEvent.from_dict(ev.to_dict()) == ev


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(ev=events)
def test_store_round_trip(store_for_props, ev):
    store_for_props.append(ev)
    back = store_for_props.get_event(ev.event_id)
    assert back == ev


import pytest  # noqa: E402


@pytest.fixture(scope="module")
def store_for_props(tmp_path_factory):
    from sitegate.buffer import Store

    s = Store.open(tmp_path_factory.mktemp("props"))
    yield s
    s.close()
