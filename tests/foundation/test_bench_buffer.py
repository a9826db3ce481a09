"""``sitegate bench buffer``: a short run reports every figure, and both ways really stored the
events (no speed is asserted here: the figures carry their own same-run baselines)."""
from __future__ import annotations

import argparse
import sqlite3

import pytest


@pytest.mark.timeout(240)
def test_short_run_reports_every_figure_and_stores_what_it_counts(tmp_path):
    from sitegate.bench import buffer

    parser = argparse.ArgumentParser()
    buffer.add_arguments(parser)
    run = tmp_path / "run"
    args = parser.parse_args(["--events", "3000", "--keep", str(run)])
    figures = {f.name: f for f in buffer.run(args)}

    for n in (1, 4, 16):
        f = figures[f"durable appends/s, {n} producer(s)"]
        assert f.value > 0 and f.baseline > 0 and f.baseline_name == "one commit per event"
    assert figures["durable appends/s, 16 producer(s)"].met is not None
    plain = figures["bytes on disk per 1,000 events"].value
    assert plain > 0 and figures["bytes on disk per 1,000 events with a 30 KB photo each"].value > plain + 30_000_000

    for name, expected in (("store-16/sitegate.db", 3000), ("naive-16/naive.db", 1000)):
        conn = sqlite3.connect(run / name)
        events, deliveries = conn.execute(
            "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM deliveries WHERE state = 'pending')").fetchone()
        conn.close()
        assert events == deliveries == expected, name   # same rows both ways: the ratio is fair
