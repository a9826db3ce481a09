"""``sitegate bench gate``: how fast the gate answers a turnstile, and how fast the parsers read.

Swipes through WG controller simulators in online mode (the gateway decides) on real UDP sockets,
with the real pipeline and a real store in a temp dir on disk: the time from the pushed packet
arriving at the driver to the 0x40 open command leaving it — the event is durable in between.
Several lanes swipe at once (a site has tens), each lane waiting for its gate to open before the
next swipe. Baseline, in the same run: the same swipes on a store that commits (fsyncs) every
event on its own, the naive way, instead of the store's group commit.

Parsers: frames per second through the SAM ``FrameParser`` fed in 4 KiB reads (as a port
delivers them; baseline: fed byte by byte) and WG packets decoded per second.
"""
from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from sitegate.bench import Figure, check

DESCRIPTION = "WG online mode: pushed swipe -> durable decision -> 0x40 open, p50/p99; SAM and WG frames parsed/s"
SERIAL0 = 223000100
OPEN_WAIT_S = 5.0


def add_arguments(p) -> None:
    p.add_argument("--swipes", type=int, default=10_000, help="swipes per measurement (default %(default)s)")
    p.add_argument("--lanes", type=int, default=4, help="turnstiles swiping at once (default %(default)s)")
    p.add_argument("--workers", type=int, default=1000, help="workers on the roster (default %(default)s)")
    p.add_argument("--dir", default=None, help="where to put the stores (default: a temp dir on /var/tmp)")


# -- the naive store: one transaction (one fsync) per event, on the caller's own connection --------
class _CommitPerEvent:
    def __init__(self, store):
        self._store = store
        self.cipher = store.cipher
        self._local = threading.local()
        self._conns: list = []

    def query(self, sql, params=()):
        return self._store.query(sql, params)

    def append(self, event, photo=None) -> str:
        from sitegate.buffer import db
        from sitegate.buffer.rows import INSERT_EVENT, event_to_row

        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = db.connect(self._store.path)
            self._conns.append(conn)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(INSERT_EVENT, event_to_row(event, self.cipher))
        conn.execute("INSERT INTO deliveries(event_id, uplink, state, updated_ts) VALUES (?, 'national', 'pending', ?)",
                     (event.event_id, time.time()))
        conn.execute("COMMIT")
        return event.event_id

    def close(self) -> None:
        for conn in self._conns:
            conn.close()


def _workers(n: int):
    from sitegate.buffer import Worker
    from sitegate.idcard import check_digit

    out = []
    for i in range(n):
        first17 = f"370102{1970 + i // 1000 % 30}0101{i % 1000:03d}"
        out.append(Worker(first17 + check_digit(first17), f"工人{i}", team_sys_no=100156750, card_no=str(3_000_000 + i)))
    return out


def _lane(sim, driver, cards: list[int], count: int, missed: list[int]) -> None:
    opened = threading.Event()
    sim.controller.on_open = lambda _o: opened.set()
    for k in range(count):
        card = cards[k % len(cards)]
        direction = "in" if (k // len(cards)) % 2 == 0 else "out"   # a worker's swipes alternate in/out
        opened.clear()
        sim.swipe(card, door=1, direction=direction)
        if not opened.wait(OPEN_WAIT_S):
            missed.append(card)


def _measure(base: Path, args, naive: bool) -> tuple[list[int], float, int, int]:
    """Latencies (ns) of every answered swipe, swipes/s over all lanes, missed opens, events stored."""
    from sitegate.buffer import Roster, Store
    from sitegate.drivers.api import DriverContext
    from sitegate.drivers.wg_udp.driver import WgDriver
    from sitegate.drivers.wg_udp.simulator import WgSimulator
    from sitegate.pipeline import Pipeline
    from sitegate.policy import GatePolicy
    from sitegate.roster_cache import RosterCache

    lanes = max(1, args.lanes)
    workers = _workers(max(args.workers, lanes))
    store = Store.open(base, uplinks=["national"])
    sims, drivers, threads, stops = [], [], [], []
    target = _CommitPerEvent(store) if naive else store
    try:
        Roster(store).upsert_many(workers)
        roster = RosterCache(store)
        devices = {}
        for lane in range(lanes):
            sim = WgSimulator(SERIAL0 + lane).start()
            sims.append(sim)
            devices[f"lane-{lane}"] = {"id": f"lane-{lane}", "driver": "wg-udp", "lane": f"gate {lane}",
                                       "direction": "device", "host": "127.0.0.1", "port": sim.address[1],
                                       "serial": SERIAL0 + lane, "mode": "online"}
        pipeline = Pipeline(target, GatePolicy(roster), devices=devices)
        for dev_id, dev in devices.items():
            ctx = DriverContext(device_id=dev_id, lane=dev["lane"], direction="device", options=dev,
                                emit=pipeline.emit, state_get=store.kv_get, state_set=store.kv_set,
                                roster=roster.admitted, clock_synced=lambda: True)
            driver, stop = WgDriver(ctx), threading.Event()
            thread = threading.Thread(target=driver.run, args=(stop,), name=f"bench-{dev_id}", daemon=True)
            thread.start()
            drivers.append(driver)
            threads.append(thread)
            stops.append(stop)
        deadline = time.monotonic() + 30
        while not all(d.health.state == "up" for d in drivers):
            if time.monotonic() > deadline:
                raise RuntimeError("bench gate: a lane did not come up: " + "; ".join(d.health.reason for d in drivers))
            time.sleep(0.02)
        per_lane = max(1, args.swipes // lanes)
        slice_size = max(1, len(workers) // lanes)
        missed: list[int] = []
        swipers = [threading.Thread(target=_lane, args=(sim, drv, [int(w.card_no) for w in
                                                                   workers[i * slice_size:(i + 1) * slice_size]],
                                                            per_lane, missed))
                   for i, (sim, drv) in enumerate(zip(sims, drivers))]
        t0 = time.perf_counter()
        for s in swipers:
            s.start()
        for s in swipers:
            s.join()
        elapsed = time.perf_counter() - t0
        latencies = [ns for d in drivers for ns in d.open_latency_ns]
        stored = store.count_events()
        return latencies, per_lane * lanes / elapsed, len(missed), stored
    finally:
        for stop, driver, thread in zip(stops, drivers, threads):
            stop.set()
            driver.close()
            thread.join(5)
        for sim in sims:
            sim.stop()
        if naive:
            target.close()
        store.close()


def _percentile(values: list[int], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 1000) - 1] / 1e6 if len(values) > 1 \
        else (values[0] / 1e6 if values else float("nan"))


def _parse_rates() -> list[Figure]:
    from sitegate.drivers.ga467_serial.bench import parse_frames, sample_stream
    from sitegate.drivers.wg_udp.bench import decode_packets, sample_packets

    def rate(fn, n: int) -> float:
        t0 = time.perf_counter()
        found = fn()
        if found != n:
            raise RuntimeError(f"bench gate: parsed {found} of {n} frames")
        return n / (time.perf_counter() - t0)

    stream, small = sample_stream(20_000, garbage_every=50), sample_stream(2_000, garbage_every=50)
    chunked = rate(lambda: parse_frames(stream, 4096), 20_000)
    bytewise = rate(lambda: parse_frames(small, 1), 2_000)
    packets = sample_packets(50_000)
    return [
        Figure("SAM frames parsed/s, 4 KiB reads", chunked, "frames/s", baseline=bytewise,
               baseline_name="fed byte by byte"),
        Figure("WG packets decoded/s (validated, record decoded)", rate(lambda: decode_packets(packets), 50_000),
               "packets/s"),
    ]


def run(args) -> list[Figure]:
    base_dir = args.dir or ("/var/tmp" if os.path.isdir("/var/tmp") else None)
    with tempfile.TemporaryDirectory(prefix="sitegate-bench-gate-", dir=base_dir) as tmp:
        ours, ours_rate, ours_missed, stored = _measure(Path(tmp) / "group", args, naive=False)
        naive, naive_rate, naive_missed, _ = _measure(Path(tmp) / "naive", args, naive=True)
    if not ours:
        raise RuntimeError("bench gate: no swipe was answered")
    p50, p99 = _percentile(ours, 0.50), _percentile(ours, 0.99)
    base50, base99 = _percentile(naive, 0.50), _percentile(naive, 0.99)
    lanes = max(1, args.lanes)
    what = f"{len(ours):,} swipes, {lanes} lanes at once"
    figures = [
        Figure(f"push -> durable event -> 0x40 open, p50 ({what})", p50, "ms", baseline=base50,
               baseline_name="store committing each event alone"),
        Figure(f"push -> durable event -> 0x40 open, p99 ({what})", p99, "ms", baseline=base99,
               baseline_name="store committing each event alone", target="<= 20 ms", met=check(p99, "<=", 20.0)),
        Figure("swipes answered per second, all lanes", ours_rate, "swipes/s", baseline=naive_rate,
               baseline_name="store committing each event alone"),
        Figure("swipes without an open within 5 s", float(ours_missed + naive_missed), "",
               target="= 0", met=ours_missed + naive_missed == 0),
        Figure("events stored", float(stored), "", target=f"= {len(ours):,}", met=stored == len(ours)),
    ]
    return figures + _parse_rates()
