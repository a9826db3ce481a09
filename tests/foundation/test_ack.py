"""The writer's acks: relayed waking must reach every waiter, whoever is missing from the relay."""
import threading
import time

import pytest

from sitegate.buffer.ack import Ack


def waiters(acks, timeout=10.0):
    """One thread per ack, waiting on it; returns (threads, results dict index -> value/exception)."""
    results: dict[int, object] = {}

    def wait(i: int, ack: Ack) -> None:
        try:
            results[i] = ack.result(timeout)
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            results[i] = exc

    threads = [threading.Thread(target=wait, args=(i, a)) for i, a in enumerate(acks)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while not all(a._waiting for a in acks) and time.monotonic() < deadline:
        time.sleep(0.001)   # all blocked before the writer resolves: the relay itself is tested
    return threads, results


def resolve_all(acks):
    for i, ack in enumerate(acks):
        ack.resolve(True, i)
    Ack.wake_in_turn(acks)


def test_every_waiter_of_a_group_is_woken_with_its_own_result():
    acks = [Ack() for _ in range(16)]
    threads, results = waiters(acks)
    resolve_all(acks)
    for t in threads:
        t.join(10)
    assert results == {i: i for i in range(16)}


def test_acks_nobody_waits_on_are_passed_over():
    # submit() without result() (an alarm raised in passing): the relay must go on past them
    acks = [Ack() for _ in range(12)]
    waited = [a for i, a in enumerate(acks) if i % 3 == 1]
    threads, results = waiters(waited)
    resolve_all(acks)
    for t in threads:
        t.join(10)
    assert sorted(results.values()) == [i for i in range(12) if i % 3 == 1]
    assert all(a.done() for a in acks)


def test_a_waiter_that_gave_up_does_not_stall_the_ones_behind_it():
    acks = [Ack() for _ in range(6)]
    quitter = threading.Thread(target=lambda: pytest.raises(TimeoutError, acks[2].result, 0.05))
    quitter.start()
    quitter.join(10)
    rest = [a for i, a in enumerate(acks) if i != 2]
    threads, results = waiters(rest)
    resolve_all(acks)
    for t in threads:
        t.join(10)
    assert sorted(results.values()) == [0, 1, 3, 4, 5]
    assert acks[2].result(0) == 2   # committed after all: asking again gives the result


def test_result_can_be_asked_twice_and_by_two_threads():
    ack = Ack()
    threads, results = waiters([ack, ack])
    ack.resolve(True, "id")
    Ack.wake_in_turn([ack])
    for t in threads:
        t.join(10)
    assert results == {0: "id", 1: "id"}
    assert ack.result() == "id"


def test_a_failed_job_raises_its_own_error_and_an_unresolved_one_times_out():
    ack = Ack()
    with pytest.raises(TimeoutError, match="not committed within 0.01 s"):
        ack.result(0.01)
    assert not ack.done()
    ack.resolve(False, ValueError("duplicate event id"))
    Ack.wake_in_turn([ack])
    with pytest.raises(ValueError, match="duplicate event id"):
        ack.result(1)
