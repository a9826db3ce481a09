"""``python -m sitegate.bench._trusted_run run -c FILE``: exactly ``sitegate run`` (the same CLI,
imports, Runtime, drivers and uplink) with the kernel's clock taken as synchronised.

Why: in containers and CI runners without NTP, adjtimex(2) answers TIME_ERROR, so ``sitegate
run`` rightly holds every event until the clock is synchronised and uploads nothing. A gateway on
a site has NTP; the footprint bench must measure the daemon that uploads, so where the kernel
does not report a synchronised clock the bench starts the daemon through this module and says so.
"""
from __future__ import annotations

import sys

import sitegate.clock


def main() -> int:
    sitegate.clock.kernel_clock_synchronised = lambda: True    # read by Clock on every check
    from sitegate.cli import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
