"""Each fault knob of the reference platform, observed through the real client over loopback."""
from __future__ import annotations

import pytest
from receiver_helpers import APPID, SECRET, item

from sitegate.errors import UsageError
from sitegate.receiver import Faults, Receiver
from sitegate.receiver.faults import FaultDice
from sitegate.receiver.store import ReceiverStore
from sitegate.uplink.national import GarbageResponse, NationalClient, PlatformError, TransportError
from sitegate.uplink.national.envelope import AsyncStatus, parse_response


def test_error_rate_alternates_http_500_and_minus_5_and_processes_nothing(client, receiver):
    receiver.set_faults(error_rate=1.0)
    with pytest.raises(TransportError) as info:
        client.attendance_add("P001", 100, [item(1)])
    assert info.value.status == 500 and info.value.retryable and info.value.maybe_delivered
    with pytest.raises(PlatformError) as info:
        client.attendance_add("P001", 100, [item(1)])
    assert info.value.code == -5 and info.value.retryable and not info.value.config_fault
    with pytest.raises(TransportError):
        client.check_sign()
    assert receiver.records() == []
    assert receiver.stats()["faults"] == {"http_500": 2, "rate_limited": 1}
    receiver.set_faults(error_rate=0.0)
    assert client.check_sign().ok


def test_dropped_answers_were_processed_and_a_resend_reconciles(client, receiver):
    receiver.set_faults(drop_rate=1.0)
    batch = [item(1), item(2)]
    data = client.attendance_add_data("P001", 100, batch)
    with pytest.raises(TransportError) as info:
        client.submit_attendance(data)
    assert info.value.maybe_delivered and info.value.status is None
    assert len(receiver.records()) == 2  # the batch arrived although the gateway got no answer
    assert receiver.stats()["faults"] == {"dropped": 1}
    receiver.set_faults(drop_rate=0.0)
    serial = client.submit_attendance(data)  # the identical data again: counted, not doubled
    assert len(receiver.records()) == 2 and sum(receiver.duplicates().values()) == 2
    assert client.async_result(serial).status is AsyncStatus.SUCCEEDED


def test_garbage_bodies_make_the_client_raise_garbage_response(client, receiver):
    receiver.set_faults(garbage_rate=1.0)
    for n in range(1, 13):
        with pytest.raises(GarbageResponse) as info:
            client.attendance_add("P001", 100, [item(n)])
        assert info.value.maybe_delivered
    assert len(receiver.records()) == 12  # processed, then the answer was mangled
    assert receiver.stats()["faults"] == {"garbage": 12}
    assert client.counters["garbage"] == 12


def test_latency_delays_the_answer_past_a_short_client_timeout(receiver, clock, tmp_path):
    receiver.set_faults(latency_ms=5000)
    impatient = NationalClient(receiver.url, APPID, SECRET, clock=clock, timeout=(2.0, 0.2))
    with pytest.raises(TransportError, match="timed out") as info:
        impatient.attendance_add("P001", 100, [item(1)])
    assert info.value.maybe_delivered and info.value.retryable
    assert receiver.stats()["faults"] == {"delayed": 1}
    receiver.stop()  # cuts the remaining latency short, waits for the request, then closes the store
    store = ReceiverStore(receiver.db_path)
    try:
        assert [r.id_card_number for r in store.records()] == [item(1)["idCardNumber"]]
    finally:
        store.close()


def test_latency_within_the_timeout_still_answers(client, receiver):
    receiver.set_faults(latency_ms=20)
    assert client.check_sign().ok
    assert receiver.stats()["faults"] == {"delayed": 1}


def test_the_same_seed_gives_the_same_faults(tmp_path, clock):
    outcomes = []
    for run in range(2):
        with Receiver(APPID, SECRET, str(tmp_path / f"{run}.db"), clock=clock, seed=42,
                      faults=Faults(error_rate=0.3, drop_rate=0.3, garbage_rate=0.3)) as rx:
            c = NationalClient(rx.url, APPID, SECRET, clock=clock)
            seen = []
            for _ in range(20):
                try:
                    c.check_sign()
                    seen.append("ok")
                except (TransportError, GarbageResponse, PlatformError) as exc:
                    seen.append(type(exc).__name__)
            outcomes.append(seen)
    assert outcomes[0] == outcomes[1]
    assert len(set(outcomes[0])) >= 3  # not all alike: the knobs really fire


def test_every_kind_of_garbage_is_not_an_envelope():
    answer = b'{"code":0,"message":"ok","data":{"requestSerialCode":"x"}}'
    dice = FaultDice(seed=3)
    bodies = [dice.garbage(answer) for _ in range(40)]
    assert len({b[:1] if b[:1] == b"\xff" else b[:3] for b in bodies}) == 4  # truncated JSON, HTML, raw bytes, foreign JSON
    for body in bodies:
        with pytest.raises(GarbageResponse):
            parse_response(body)


@pytest.mark.parametrize("changes", [{"error_rate": 1.5}, {"drop_rate": -0.1}, {"latency_ms": -1},
                                     {"garbage_rate": "a lot"}])
def test_bad_fault_values_are_refused(receiver, changes):
    with pytest.raises(UsageError):
        receiver.set_faults(**changes)
