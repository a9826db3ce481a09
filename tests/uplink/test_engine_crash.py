"""The gateway killed with SIGKILL during uploads, again and again: afterwards the platform holds
every admitted event exactly once, and — reconciliation being available — never got one twice."""
from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from engine_fixtures import receiver  # noqa: F401  (a pytest fixture)
from engine_helpers import TEAM_A, TEAM_B, drain, event, load_site, make_engine, natural_key, open_store, write_site

from sitegate.buffer.rows import row_to_event

HERE = Path(__file__).resolve().parent
KILLS = int(os.environ.get("SITEGATE_UPLINK_KILLS", "12"))


def open_batch_states(db: Path) -> dict[str, int]:
    """What the killed gateway left behind (read straight from its SQLite file)."""
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("SELECT state, count(*) FROM batches WHERE state NOT IN ('done', 'failed') "
                                 "GROUP BY state").fetchall())
    finally:
        conn.close()


def test_sigkill_during_uploads_loses_nothing_and_sends_nothing_twice(receiver, tmp_path):
    receiver.set_faults(latency_ms=15, drop_rate=0.1)      # slow, and some answers lost on top
    config = write_site(tmp_path / "site", receiver.url)
    cfg = load_site(config)
    with open_store(cfg) as store:
        for i in range(300):
            store.append(event(i % 60 + 1, i, team=TEAM_A if i % 2 else TEAM_B))
    rng = random.Random(20251128)
    acked: list[str] = []
    left_behind: list[dict[str, int]] = []
    for round_no in range(KILLS):
        child = subprocess.Popen([sys.executable, str(HERE / "engine_crash_child.py"), str(config), str(round_no)],
                                 cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            first = child.stdout.readline()
            if first == b"ready\n":
                time.sleep(rng.uniform(0.05, 0.6))         # uploads under way
        finally:
            os.kill(child.pid, signal.SIGKILL)             # by our own child's pid, never by name
        rest, err = child.communicate(timeout=30)
        assert first == b"ready\n", err.decode()
        acked += [line for line in rest.decode().split("\n") if len(line) == 36]
        left_behind.append(open_batch_states(Path(cfg["site"]["data_dir"]) / "sitegate.db"))

    receiver.set_faults(latency_ms=0, drop_rate=0.0)
    with open_store(cfg) as store:                          # the last restart runs to the end
        engine = make_engine(cfg, store)
        drain(engine, store)
        engine.close()
        stored = [row_to_event(r, store.cipher) for r in store.query("SELECT * FROM events")]
        undelivered = store.query("SELECT count(*) FROM deliveries WHERE state != 'delivered'")[0][0]
    ids = {ev.event_id for ev in stored}
    assert all(e in ids for e in acked), "an acknowledged event is missing from the store"
    assert undelivered == 0
    assert sorted(r.key for r in receiver.records("accepted")) == sorted(natural_key(ev) for ev in stored)
    assert receiver.duplicates() == {}                      # reconciled, never sent twice
    assert len(acked) >= KILLS
    # the kills really hit uploads: batches were left open (in flight, awaiting results) most times
    assert sum(1 for b in left_behind if b) >= KILLS // 2, left_behind
