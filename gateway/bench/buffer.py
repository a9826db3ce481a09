"""Durable appends per second with 1, 4 and 16 producers: the group-commit store vs. one commit per
event (the naive way), measured in the same run on the same disk, and bytes on disk per 1,000 events."""
from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

from sitegate.bench import Figure, check

UPLINKS = ("national",)
DESCRIPTION = "durable appends/s (1, 4, 16 producers) vs one commit per event; bytes per 1,000 events"


def add_arguments(p) -> None:
    p.add_argument("--events", type=int, default=40000, help="events per measurement (default %(default)s)")
    p.add_argument("--dir", default=None, help="where to put the test databases (default: a temp dir on /var/tmp)")
    p.add_argument("--keep", metavar="DIR", help="put the test databases in DIR (new) and keep them")


def _event(i: int, stamp):
    from sitegate.ids import uuid7
    from sitegate.model import AttendanceEvent, Direction, EventTime, Method, Source, WorkerRef

    return AttendanceEvent(
        event_id=str(uuid7()),
        worker=WorkerRef(id_card_number="11010119900307002X", name="张三", team_sys_no=100156750, team_name="钢筋班"),
        direction=Direction.IN if i % 2 else Direction.OUT,
        method=Method.CARD,
        source=Source(device_id="east-gate", lane="east-1", driver="wg-udp"),
        time=EventTime(wall=stamp.wall, mono_ns=stamp.mono_ns, boot_id=stamp.boot_id, synced=True),
        extra={"record_index": i},
    )


def _run_producers(events: list, producers: int, append) -> float:
    """Producer k appends events[k::producers], each call waiting until durable; returns events/s."""
    def loop(k: int) -> None:
        for ev in events[k::producers]:
            append(ev)

    threads = [threading.Thread(target=loop, args=(k,)) for k in range(producers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(events) / (time.perf_counter() - t0)


def _store_rate(base: Path, events: list, producers: int) -> float:
    from sitegate.buffer import Store

    with Store.open(base / f"store-{producers}", uplinks=UPLINKS) as store:
        return _run_producers(events, producers, store.append)


def _naive_rate(base: Path, events: list, producers: int) -> float:
    """The same rows and the same statement, but each producer commits its own event: one fsync
    per event. Each event is one INSERT (its deliveries come from the trigger), committed on its
    own as SQLite does outside BEGIN, which is the quickest way to commit one event at a time."""
    from sitegate.buffer import db
    from sitegate.buffer.crypto import FieldCipher, load_or_create_key
    from sitegate.buffer.rows import INSERT_EVENT, event_to_row

    d = base / f"naive-{producers}"
    d.mkdir()
    cipher = FieldCipher(load_or_create_key(d))
    conn = db.connect(d / "naive.db")
    db.migrate(conn)
    conn.close()
    local = threading.local()
    conns = []

    def append(ev) -> None:
        c = getattr(local, "c", None)
        if c is None:
            c = local.c = db.connect(d / "naive.db")
            conns.append(c)
        c.execute(INSERT_EVENT, event_to_row(ev, cipher, UPLINKS))

    rate = _run_producers(events, producers, append)
    for c in conns:
        c.close()
    return rate


def _bytes_per_1000(base: Path, with_photo: bool, n: int = 2000) -> float:
    from sitegate.buffer import Store
    from sitegate.clock import Clock

    clock = Clock()
    photo = b"\xff\xd8\xff\xe0" + os.urandom(30 * 1024 - 4) if with_photo else None
    d = base / f"size-{int(with_photo)}"
    with Store.open(d, uplinks=UPLINKS) as store:
        futures = [store.submit_append(_event(i, clock.now()), photo) for i in range(n)]
        for f in futures:
            f.result()
    size = sum(os.path.getsize(d / f) for f in os.listdir(d) if f.startswith("sitegate.db"))
    return size / n * 1000


def run(args) -> list[Figure]:
    from sitegate.clock import Clock

    base_dir = args.dir or ("/var/tmp" if os.path.isdir("/var/tmp") else None)
    clock = Clock()
    # events are made before the clock starts: both ways store the very same records
    events = [_event(i, clock.now()) for i in range(args.events)]
    naive_events = events[: max(args.events // 5, 1000)]
    figures: list[Figure] = []
    if args.keep:
        Path(args.keep).mkdir(parents=True)
    with contextlib.nullcontext(args.keep) if args.keep else \
            tempfile.TemporaryDirectory(prefix="sitegate-bench-", dir=base_dir) as tmp:
        base = Path(tmp)
        for n in (1, 4, 16):
            ours = _store_rate(base, events if n > 1 else naive_events, n)
            naive = _naive_rate(base, naive_events, n)
            f = Figure(f"durable appends/s, {n} producer(s)", ours, "ev/s", baseline=naive,
                       baseline_name="one commit per event")
            if n == 16:
                f.target = ">= 5,000 ev/s and >= 4x baseline"
                f.met = check(ours, ">=", 5000) and check(ours / naive, ">=", 4)
            figures.append(f)
        figures.append(Figure("bytes on disk per 1,000 events", _bytes_per_1000(base, False), "B"))
        figures.append(Figure("bytes on disk per 1,000 events with a 30 KB photo each",
                              _bytes_per_1000(base, True), "B"))
    return figures
