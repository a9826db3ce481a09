"""The national engine's threads: units of work (``work_once``) run by ``workers`` threads, each
with its own HTTP client (the client is not thread-safe), so polls and sends to a slow platform
overlap. ``step()`` runs units in the caller's thread until none is due (tests).

What a unit does is the engine's business (engine.py); this module only schedules them, keeps two
workers off the same batch, and sleeps until something is due.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Protocol

from sitegate.uplink.base import Uplink
from sitegate.uplink.national.client import NationalClient


class _HasId(Protocol):
    batch_id: str


class ThreadedUplink(Uplink):
    def __init__(self, cfg, store, *, metrics=None, clock=None, workers: int = 4,
                 client_factory: Callable[[], NationalClient] | None = None):
        super().__init__(cfg, store, metrics=metrics, clock=clock)
        self.workers = max(1, workers)
        self.max_units_per_step = 200
        self._client_factory = client_factory
        self._lock = threading.Lock()          # in-memory state only; never held across I/O
        self._claimed: set[str] = set()
        self._local = threading.local()
        self._clients: list[NationalClient] = []

    # -- to be provided by the engine ---------------------------------------------------------------
    def work_once(self) -> bool:
        raise NotImplementedError

    def idle_wait(self) -> float:
        """How long a worker with nothing to do sleeps."""
        return self.idle_sleep_s

    # -- running ------------------------------------------------------------------------------------
    def step(self) -> bool:
        busy = False
        for _ in range(self.max_units_per_step):
            if not self.work_once():
                break
            busy = True
        return busy

    def run(self, stop: threading.Event) -> None:
        helpers = [threading.Thread(target=self._loop, args=(stop,), name=f"uplink-{self.NAME}-{i}", daemon=True)
                   for i in range(1, self.workers)]
        for t in helpers:
            t.start()
        try:
            self._loop(stop)
        finally:
            for t in helpers:
                t.join()

    def _loop(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    busy = self.work_once()
                except Exception:  # noqa: BLE001 - the loop must survive; the trace is logged
                    self.log.exception("uplink %s: a unit of work failed", self.NAME)
                    busy = False
                if not busy:
                    stop.wait(self.idle_wait())
        finally:
            self._close_own_client()

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for c in clients:
            c.close()

    # -- one batch, one worker ---------------------------------------------------------------------
    def claim(self, candidates: Iterable[_HasId]):
        """The first candidate no other worker holds, now held by this one (or None)."""
        for batch in candidates:
            with self._lock:
                if batch.batch_id not in self._claimed:
                    self._claimed.add(batch.batch_id)
                    return batch
        return None

    def hold(self, batch_id: str) -> None:
        with self._lock:
            self._claimed.add(batch_id)

    def release(self, batch_id: str) -> None:
        with self._lock:
            self._claimed.discard(batch_id)

    # -- one client per thread ---------------------------------------------------------------------
    def client(self) -> NationalClient:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._client_factory()
            with self._lock:
                self._clients.append(client)
        return client

    def _close_own_client(self) -> None:
        client = getattr(self._local, "client", None)
        if client is not None:
            self._local.client = None
            with self._lock:
                if client in self._clients:
                    self._clients.remove(client)
            client.close()
