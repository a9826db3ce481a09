"""The store's one writer: a thread that owns the write connection and commits in groups.

Producers hand it small write jobs (functions of a connection) and wait on a future. The thread
takes whatever is queued (up to ``max_batch``), runs each job inside its own SAVEPOINT, and commits
them with one fsync. A job that raises is rolled back alone; the others still commit. A future is
resolved only after COMMIT has returned, so "acknowledged" always means "on disk".
"""
from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from concurrent.futures import Future
from typing import Any, Callable

from sitegate.errors import StoreError

log = logging.getLogger(__name__)

Job = Callable[[sqlite3.Connection], Any]
_STOP = object()


class GroupWriter:
    def __init__(self, conn: sqlite3.Connection, *, max_batch: int = 512, commit_delay_s: float = 0.0005, name: str = "store-writer"):
        self._conn = conn
        self._queue: queue.Queue = queue.Queue()
        self._max_batch = max_batch
        self.commit_delay_s = commit_delay_s
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._closed = False
        self.commits = 0        # for benchmarks: how many fsyncs served how many jobs
        self.jobs = 0
        self._thread.start()

    def submit(self, job: Job) -> Future:
        if self._closed:
            raise StoreError("the store is closed")
        fut: Future = Future()
        self._queue.put((job, fut))
        return fut

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
        last_group = 1
        while not stop:
            first = self._queue.get()
            if first is _STOP:
                break
            batch = [first]
            # Commit delay (as PostgreSQL's commit_delay): when the last group was large, other
            # producers are about to hand in their next job; a few hundred microseconds of waiting
            # for them costs less than the fsync they would otherwise need of their own.
            deadline = time.monotonic() + (self.commit_delay_s if last_group > 1 else 0)
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    if len(batch) >= last_group or time.monotonic() >= deadline:
                        break
                    time.sleep(0.00005)
                    continue
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            last_group = len(batch)
            self._commit(batch)
        self._conn.close()

    def _commit(self, batch: list) -> None:
        # Fast path: the whole group in one transaction without savepoints. Jobs rarely fail (a
        # duplicate event id, say); when one does, the group is rolled back and redone with a
        # savepoint per job so that only the failing job is refused.
        live = [(job, fut) for job, fut in batch if fut.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            results = self._transaction(live, isolate=False)
        except _JobFailed:
            try:
                results = self._transaction(live, isolate=True)
            except sqlite3.Error as exc:
                self._fail(live, exc)
                return
        except sqlite3.Error as exc:
            self._fail(live, exc)
            return
        self.commits += 1
        self.jobs += len(results)
        # only now, after COMMIT (fsync), tell the producers
        for fut, ok, value in results:
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)

    def _transaction(self, live: list, *, isolate: bool) -> list:
        conn = self._conn
        results: list[tuple[Future, bool, Any]] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            if not isolate:
                try:
                    results = self._run_grouped(conn, live)
                except BaseException as exc:  # noqa: BLE001
                    raise _JobFailed() from exc
            for job, fut in live if isolate else ():
                conn.execute("SAVEPOINT job")
                try:
                    value = job(conn)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller, not swallowed
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    results.append((fut, False, exc))
                else:
                    conn.execute("RELEASE job")
                    results.append((fut, True, value))
            conn.execute("COMMIT")
        except BaseException:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise
        return results

    @staticmethod
    def _run_grouped(conn: sqlite3.Connection, live: list) -> list:
        """Run the jobs in order; consecutive jobs of a class with ``run_many`` (event appends)
        go to the database together, which saves a statement per row on the hot path."""
        results = []
        i = 0
        while i < len(live):
            job, fut = live[i]
            run_many = getattr(type(job), "run_many", None)
            if run_many is None:
                results.append((fut, True, job(conn)))
                i += 1
                continue
            j = i
            while j < len(live) and type(live[j][0]) is type(job):
                j += 1
            values = run_many(conn, [jb for jb, _ in live[i:j]])
            results += [(f, True, v) for (_, f), v in zip(live[i:j], values, strict=True)]
            i = j
        return results

    def _fail(self, live: list, exc: Exception) -> None:
        log.error("store commit failed: %s", exc)
        err = StoreError(f"commit failed: {exc}")
        for _job, fut in live:
            if not fut.done():
                fut.set_exception(err)


class _JobFailed(Exception):
    pass
