"""The store's one writer: a thread that owns the write connection and commits in groups.

Producers hand it small write jobs (functions of a connection) and wait on an ``Ack``. The thread
takes whatever is queued (up to ``max_batch``) and commits it with one fsync. A job that raises is
rolled back alone; the others still commit. An ack is resolved only after COMMIT has returned, so
"acknowledged" always means "on disk".

Why it is shaped the way it is (figures from `sitegate bench buffer`, docs/store.md): on a fast
disk the cost of a group is less the fsync than the GIL. Every call into SQLite releases the GIL,
and with sixteen producers running the writer waits to get it back each time. So a group of event
appends (the hot path) goes to SQLite as one multi-row INSERT that SQLite commits on its own
(autocommit: atomic, and synced before it returns), where BEGIN, two INSERTs and COMMIT were four
calls; and producers are woken one after another (buffer/ack.py), not all at once.
"""
from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from typing import Any, Callable

from sitegate.buffer.ack import Ack
from sitegate.errors import StoreError

log = logging.getLogger(__name__)

Job = Callable[[sqlite3.Connection], Any]
_STOP = object()


class GroupWriter:
    def __init__(self, conn: sqlite3.Connection, *, max_batch: int = 512, name: str = "store-writer"):
        self._conn = conn
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._max_batch = max_batch
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._closed = False
        self.commits = 0        # for benchmarks: how many fsyncs served how many jobs
        self.jobs = 0
        self._thread.start()

    def submit(self, job: Job) -> Ack:
        if self._closed:
            raise StoreError("the store is closed")
        ack = Ack()
        self._queue.put((job, ack))
        return ack

    def run(self, job: Job, timeout: float | None = 60.0) -> Any:
        """Submit and wait: returns the job's result once it is committed."""
        return self.submit(job).result(timeout)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join()

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is _STOP:
                break
            # No commit delay: what queued up while the last group was committing is the next
            # group. Waiting for more costs more than it saves here (measured).
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            self._commit(batch)
        self._conn.close()

    def _commit(self, batch: list) -> None:
        # Fast path: the whole group in one transaction without savepoints. Jobs rarely fail (a
        # duplicate event id, say); when one does, the group is rolled back and redone with a
        # savepoint per job so that only the failing job is refused.
        try:
            results = self._transaction(batch, isolate=False)
        except _JobFailed:
            try:
                results = self._transaction(batch, isolate=True)
            except sqlite3.Error as exc:
                self._fail(batch, exc)
                return
        except sqlite3.Error as exc:
            self._fail(batch, exc)
            return
        self.commits += 1
        self.jobs += len(results)
        # only now, after COMMIT (fsync), tell the producers
        for (_job, ack), (ok, value) in zip(batch, results, strict=True):
            ack.resolve(ok, value)
        Ack.wake_in_turn([ack for _job, ack in batch])

    def _transaction(self, batch: list, *, isolate: bool) -> list[tuple[bool, Any]]:
        conn = self._conn
        jobs = [job for job, _ack in batch]
        if not isolate:
            one = _one_statement(jobs)
            if one is not None:
                # One statement outside BEGIN is its own transaction: all or nothing, and synced
                # (synchronous=FULL) before it returns.
                try:
                    return [(True, v) for v in one(conn, jobs)]
                except BaseException as exc:  # noqa: BLE001 - redone job by job
                    raise _JobFailed() from exc
        results: list[tuple[bool, Any]] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            if not isolate:
                try:
                    results = self._run_grouped(conn, jobs)
                except BaseException as exc:  # noqa: BLE001
                    raise _JobFailed() from exc
            for job in jobs if isolate else ():
                conn.execute("SAVEPOINT job")
                try:
                    value = job(conn)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller, not swallowed
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    results.append((False, exc))
                else:
                    conn.execute("RELEASE job")
                    results.append((True, value))
            conn.execute("COMMIT")
        except BaseException:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise
        return results

    @staticmethod
    def _run_grouped(conn: sqlite3.Connection, jobs: list) -> list[tuple[bool, Any]]:
        """Run the jobs in order; consecutive jobs of a class with ``run_many`` (event appends)
        go to the database together, which saves a statement per row on the hot path."""
        results: list[tuple[bool, Any]] = []
        i = 0
        while i < len(jobs):
            run_many = getattr(type(jobs[i]), "run_many", None)
            if run_many is None:
                results.append((True, jobs[i](conn)))
                i += 1
                continue
            j = i
            while j < len(jobs) and type(jobs[j]) is type(jobs[i]):
                j += 1
            results += [(True, v) for v in run_many(conn, jobs[i:j])]
            i = j
        return results

    def _fail(self, batch: list, exc: Exception) -> None:
        log.error("store commit failed: %s", exc)
        err = StoreError(f"commit failed: {exc}")
        for _job, ack in batch:
            ack.resolve(False, err)
        Ack.wake_in_turn([ack for _job, ack in batch])


def _one_statement(jobs: list) -> Callable | None:
    """``run_many`` of the jobs' class when it would run them as one single statement."""
    cls = type(jobs[0])
    if any(type(j) is not cls for j in jobs):
        return None
    fits = getattr(cls, "one_statement", None)
    return cls.run_many if fits is not None and fits(jobs) else None


class _JobFailed(Exception):
    pass
