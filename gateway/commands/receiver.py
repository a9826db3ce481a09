"""``sitegate receiver``: run the reference platform (national OpenAPI) until SIGTERM or Ctrl-C."""
from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import sys
import threading


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "receiver",
        help="reference platform (national OpenAPI) for demos and tests",
        description="Serve POST /open.api like the national construction-worker platform, with "
                    "fault injection, and GET /stats. Prints the URL once listening.",
    )
    p.add_argument("--listen", default="127.0.0.1:0", metavar="HOST:PORT",
                   help="address to bind (default %(default)s: loopback, any free port)")
    p.add_argument("--appid", required=True, help="the appid clients must send")
    p.add_argument("--appsecret-file", required=True, metavar="FILE",
                   help="file holding the 32-character appsecret (mode 0600 or stricter)")
    p.add_argument("--db", required=True, metavar="FILE", help="SQLite file of received records")
    p.add_argument("--roster", metavar="FILE", help="workers for ProjectWorker.Query (CSV or JSON)")
    p.add_argument("--error-rate", type=float, default=0.0, metavar="R",
                   help="share of requests answered HTTP 500 / code -5 alternately, unprocessed")
    p.add_argument("--latency-ms", type=int, default=0, metavar="N", help="delay before each answer")
    p.add_argument("--drop-rate", type=float, default=0.0, metavar="R",
                   help="share of requests processed and stored, then closed without an answer")
    p.add_argument("--garbage-rate", type=float, default=0.0, metavar="R",
                   help="share of requests processed and stored, then answered with a non-envelope body")
    p.add_argument("--reject-id-card", action="extend", nargs="+", default=[], metavar="N",
                   help="reject records of this ID number for their content (人员不在项目中)")
    p.add_argument("--reject-not-on-roster", action="store_true",
                   help="reject records of every ID number that is not on --roster")
    p.add_argument("--async-delay-s", type=float, default=0.0, metavar="S",
                   help="AsyncHandleResult.Query reports pending this long after a batch")
    p.add_argument("--timestamp-window-s", type=float, default=600.0, metavar="S",
                   help="allowed difference of a request's timestamp from now (default %(default)s)")
    p.add_argument("--seed", type=int, default=None, metavar="N", help="seed of the fault dice")
    p.set_defaults(func=_run)


def parse_listen(text: str) -> tuple[str, int]:
    from sitegate.errors import UsageError

    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not (port.isascii() and port.isdigit()) or not 0 <= int(port) <= 65535:
        raise UsageError(f"--listen: {text!r} is not HOST:PORT")
    return host, int(port)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _run(args: argparse.Namespace) -> int:
    from sitegate.errors import UsageError
    from sitegate.receiver import Faults, Receiver, load_roster
    from sitegate.secrets import read_secret
    from sitegate.uplink.national.codec import check_secret

    host, port = parse_listen(args.listen)
    secret = read_secret(args.appsecret_file)  # refuses a group/world-readable file
    check_secret(secret)
    if args.async_delay_s < 0 or args.timestamp_window_s <= 0:
        raise UsageError("--async-delay-s must be >= 0 and --timestamp-window-s > 0")
    db_dir = os.path.dirname(os.path.abspath(args.db))
    if not os.path.isdir(db_dir):
        raise UsageError(f"--db: directory {db_dir} does not exist")
    faults = Faults(error_rate=args.error_rate, latency_ms=args.latency_ms,
                    drop_rate=args.drop_rate, garbage_rate=args.garbage_rate)
    roster = load_roster(args.roster) if args.roster else []
    rx = Receiver(args.appid, secret, args.db, host=host, port=port, roster=roster, faults=faults,
                  seed=args.seed, reject_id_cards=args.reject_id_card,
                  reject_not_on_roster=args.reject_not_on_roster, async_delay_s=args.async_delay_s,
                  timestamp_window_s=args.timestamp_window_s)
    if not _is_loopback(host):
        print(f"sitegate receiver: warning: listening on {host}, not loopback", file=sys.stderr)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        rx.start()
    except OSError as exc:
        raise UsageError(f"--listen {args.listen}: {exc.strerror or exc}") from None
    try:
        print(f"sitegate receiver listening on {rx.url}", flush=True)
        while not stop.wait(0.5):  # short slices: signals are handled between them
            pass
    finally:
        rx.stop()
    return 0
