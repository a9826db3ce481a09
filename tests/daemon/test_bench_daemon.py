"""``sitegate bench daemon``: a short run reports every figure (no speed or size is asserted here:
the figures carry their own baselines)."""
from __future__ import annotations

import argparse

import pytest

def test_bench_is_discovered_and_soakkit_is_not_a_benchmark():
    from sitegate.commands.bench import _bench_modules

    names = _bench_modules()
    assert "daemon" in names
    assert "soakkit" not in names and not any(n.startswith("_") for n in names)


@pytest.mark.timeout(240)
def test_short_run_reports_every_figure(tmp_path):
    from sitegate.bench import daemon

    parser = argparse.ArgumentParser()
    daemon.add_arguments(parser)
    args = parser.parse_args(["--minutes", "0.15", "--idle-seconds", "2", "--workers", "200", "--starts", "1",
                              "--keep", str(tmp_path / "run")])
    figures = {f.name.split(" (")[0].split(",")[0]: f for f in daemon.run(args)}

    start = next(f for n, f in figures.items() if n.startswith("start-up to READY=1"))
    assert start.value > 0 and start.baseline and start.baseline > 0 and start.met is not None
    rss = next(f for n, f in figures.items() if n.startswith("VmRSS after"))
    hwm = figures["VmHWM"]
    assert rss.baseline and 0 < rss.baseline < rss.value <= hwm.value      # the daemon is more than a bare python
    idle = next(f for n, f in figures.items() if n.startswith("idle CPU"))
    assert idle.value >= 0 and idle.baseline is not None and idle.met is not None
    assert figures["passages offered at the gates"].value > 0
    assert figures["events recorded by the daemon"].value > 0
    assert figures["daemon exit code after SIGTERM"].value == 0
    assert (tmp_path / "run" / "daemon.log").read_text(encoding="utf-8", errors="replace").count("sitegate running") >= 1
