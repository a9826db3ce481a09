"""``python -m sitegate.bench.soakkit.launch -c FILE [--trust-clock]``: ``sitegate run`` for the
soak harness where the plain command cannot be used as is. Everything else is the daemon itself:
the same Runtime, drivers, store, uplink, signals and sd_notify.

- ``--trust-clock``: the wall clock is taken as synchronised. On machines whose kernel never
  reports a synchronised clock (containers and CI runners without NTP: adjtimex(2) answers
  TIME_ERROR) ``sitegate run`` rightly holds every event until it is, and nothing is delivered.
- Under libfaketime (the clock-jump fault) with ``FAKETIME_DONT_FAKE_MONOTONIC=1``, libfaketime
  0.9.10 (Debian 12) breaks ``clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)``, which Python 3.11's
  ``time.sleep`` uses: every sleep raises EINVAL (https://github.com/wolfcw/libfaketime/issues/426).
  The launcher then replaces ``time.sleep`` with a ``select()`` timeout, which libfaketime leaves
  alone, before anything of sitegate is imported.
"""
from __future__ import annotations

import argparse
import logging
import os
import select
import sys
import time


def _select_sleep(seconds: float) -> None:
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    select.select([], [], [], seconds)


def under_faketime() -> bool:
    return "faketime" in os.environ.get("LD_PRELOAD", "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sitegate.bench.soakkit.launch")
    parser.add_argument("-c", "--config", required=True, metavar="FILE")
    parser.add_argument("--trust-clock", action="store_true", help="take the wall clock as synchronised")
    args = parser.parse_args(argv)
    if under_faketime():
        time.sleep = _select_sleep

    from sitegate.clock import Clock
    from sitegate.config import load
    from sitegate.daemon.logs import setup_logging
    from sitegate.daemon.runtime import Runtime

    setup_logging(1)
    log = logging.getLogger(__name__)
    if under_faketime():
        log.warning("soak launcher: under libfaketime; time.sleep is a select() timeout (libfaketime issue #426)")
    clock = None
    if args.trust_clock:
        log.warning("soak launcher: the wall clock is taken as synchronised (the kernel does not report it)")
        clock = Clock(synced=lambda: True)
    Runtime(load(args.config), config_path=args.config, clock=clock).run_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
