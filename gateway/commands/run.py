"""``sitegate run -c FILE``: the daemon (systemd runs it)."""
from __future__ import annotations

from sitegate.commands._common import add_config


def register(sub) -> None:
    p = sub.add_parser("run", help="run the gateway daemon (systemd runs this)")
    add_config(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import logging

    from sitegate.daemon.logs import setup_logging
    from sitegate.daemon.runtime import run as run_daemon

    setup_logging(max(args.verbose, 1))
    logging.getLogger(__name__).info("starting with %s", args.config)
    run_daemon(args.config)
    return 0
