"""What a producer waits on after handing the writer a job: resolved only once COMMIT has returned.

It answers like ``concurrent.futures.Future`` (``result``, ``done``), but waking is relayed. The
writer wakes only the first producer of a committed group; each producer, as it wakes, wakes the
next. Woken all at once, sixteen producers queue up for the GIL together and the writer queues
behind them; woken in turn, each finds the GIL free (16 producers of `sitegate bench buffer` on the
2-core VM: about 11,500 appends/s woken at once, 15,000 in turn).

A relay must never stall on someone who is not there: an ack nobody waits on (``submit`` without
``result``), or whose waiter gave up on a timeout, is passed over by whoever wakes it.
"""
from __future__ import annotations

import threading
from typing import Any

_WAKING = threading.Lock()   # makes "release once" atomic; held for two attribute writes


class Ack:
    __slots__ = ("_lock", "_ok", "_value", "_next", "_released", "_waiting")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()          # released once, by wake()
        self._ok: bool | None = None  # set by the writer before the first wake()
        self._value: Any = None
        self._next: Ack | None = None
        self._released = False
        self._waiting = False

    # -- the writer's side ---------------------------------------------------------------------
    def resolve(self, ok: bool, value: Any) -> None:
        """Record the outcome; wake() makes it visible. Call only after COMMIT."""
        self._ok, self._value = ok, value

    @staticmethod
    def wake_in_turn(acks: list["Ack"]) -> None:
        """Wake the first of ``acks``; each waiter wakes the next one."""
        for ack, nxt in zip(acks, acks[1:]):
            ack._next = nxt
        if acks:
            acks[0].wake()

    def wake(self) -> None:
        ack: Ack | None = self
        while ack is not None:
            with _WAKING:
                if ack._released:
                    return
                ack._released = True
            ack._lock.release()
            if ack._waiting:
                return              # its waiter carries the relay on (see result())
            ack = ack._take_next()  # nobody there: pass it over ourselves

    def _take_next(self) -> "Ack | None":
        nxt = self._next
        self._next = None
        return nxt

    # -- the producer's side -------------------------------------------------------------------
    def done(self) -> bool:
        return self._released

    def result(self, timeout: float | None = None) -> Any:
        """The job's return value (or its exception, raised) once committed; TimeoutError after
        ``timeout`` seconds. The job may still commit later: a timeout only stops the waiting."""
        self._waiting = True
        try:
            got = self._lock.acquire(True, -1 if timeout is None else max(timeout, 0.0))
        finally:
            # Either wake() sees _waiting False and passes the relay on itself, or we see
            # _released True here and pass it on: never neither (both is harmless).
            self._waiting = False
            if self._released:
                nxt = self._take_next()
                if nxt is not None:
                    nxt.wake()
        if not got and not self._lock.acquire(False):
            raise TimeoutError(f"the write was not committed within {timeout:g} s")
        self._lock.release()          # left open: another result() call returns at once
        if self._ok:
            return self._value
        raise self._value
