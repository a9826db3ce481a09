"""Durability under SIGKILL: every acknowledged event is present exactly once after a restart."""
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
KILLS = int(os.environ.get("SITEGATE_CRASH_KILLS", "50"))


@pytest.mark.slow
def test_sigkill_never_loses_an_acknowledged_event(tmp_path):
    from sitegate.buffer import Store

    data = tmp_path / "data"
    rng = random.Random(20261128)
    acked: list[str] = []
    for round_no in range(KILLS):
        child = subprocess.Popen([sys.executable, "-m", "tests.foundation.crash_child", str(data)],
                                 cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            first = child.stdout.readline()       # it is up and acknowledging
            assert first, child.stderr.read().decode()
            time.sleep(rng.uniform(0.0, 0.25))
        finally:
            os.kill(child.pid, signal.SIGKILL)    # by our own child's pid, never by name
        rest, _err = child.communicate(timeout=30)
        acked += [line for line in (first + rest).decode().split("\n") if len(line) == 36]

        with Store.open(data, uplinks=["national"]) as store:
            assert store.active_alarms() == [], f"round {round_no}: store alarmed after restart"
            assert store.integrity_problem(full=True) is None
        conn = sqlite3.connect(data / "sitegate.db")
        present = {r[0]: r[1] for r in conn.execute(
            "SELECT e.event_id, count(d.event_id) FROM events e LEFT JOIN deliveries d USING (event_id) "
            "GROUP BY e.event_id")}
        conn.close()
        missing = [e for e in acked if e not in present]
        assert not missing, f"round {round_no}: {len(missing)} acknowledged event(s) lost"
        assert all(present[e] == 1 for e in acked), "each event has exactly one delivery row"
    assert len(acked) == len(set(acked)) and len(acked) > KILLS
