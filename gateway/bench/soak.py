"""``sitegate bench soak``: a whole site on simulators under load and faults, the gateway SIGKILLed
and restarted again and again, and a tally of every passage against the platform's records; beside
it, the same events through a plain local Mosquitto bridge killed on the same schedule.

The harness is sitegate.bench.soakkit; docs/soak.md defines every count and keeps the figures of
a full run. The full run (the defaults) takes 6-7 minutes on 2 cores; ``--quick`` is the short
form the CI smoke test runs.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sitegate.bench import Figure

DESCRIPTION = "soak under faults: events lost (must be 0) vs a local Mosquitto bridge, backlog, latency, RSS"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=int, default=3000, help="workers on the roster, each passes once (%(default)s)")
    p.add_argument("--lanes", type=int, default=8, help="lanes 1-8: ID-card, WG controller, ZK face, WG online, "
                                                         "Hik face, phones, ID-card, WG controller (%(default)s)")
    p.add_argument("--kills", type=int, default=20, help="SIGKILLs of the gateway (%(default)s)")
    p.add_argument("--minutes", type=float, default=5.0,
                   help="real minutes the 20-minute shift change is compressed into (%(default)s)")
    p.add_argument("--seed", type=int, default=20261128, help="seed of the workload and the fault schedule")
    p.add_argument("--clock-jump", default="+2h", help="how far the gateway's wall clock jumps (%(default)s)")
    p.add_argument("--no-mosquitto", action="store_true", help="skip the Mosquitto bridge comparison")
    p.add_argument("--quick", action="store_true", help="the CI size: 300 workers, 6 lanes, 5 kills, a 66 s shift")
    p.add_argument("--keep", metavar="DIR", help="run in DIR and keep it (logs, databases) for a post-mortem")


def settings_from(args: argparse.Namespace):
    from sitegate.bench.soakkit import SoakSettings

    common = dict(seed=args.seed, clock_jump=args.clock_jump, compare_mosquitto=not args.no_mosquitto,
                  workdir=Path(args.keep) if args.keep else None, keep=bool(args.keep))
    if args.quick:
        return SoakSettings.quick(**common)
    return SoakSettings(workers=args.workers, lanes=args.lanes, kills=args.kills, minutes=args.minutes, **common)


def run(args: argparse.Namespace) -> list[Figure]:
    from sitegate.bench.soakkit import run_soak
    from sitegate.bench.soakkit.report import figures, text

    result = run_soak(settings_from(args))
    sys.stdout.write(text(result) + "\n\n")
    return figures(result)
