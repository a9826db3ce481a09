"""``sitegate sim phone``: a worker's phone walking into a fence and clocking in over HTTP.

It walks a path (waypoints from a JSON file, or generated from a fence in a sitegate config:
into the fence, along a corridor, out), signs each fix with the phone's key and POSTs it to the
gateway's clock-in URL. ``--replay K`` resends the K-th request verbatim (the gateway must refuse
it as ``replayed``); ``--dry-run`` prints the request bodies instead of sending them.

Example::

    sitegate sim phone --phone-id P-0001 --key-file phone.key --fences site.toml --fence north-yard \\
        --crs gcj02 --accuracy 8 --interval 15 --url http://127.0.0.1:8080/api/clockin
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import requests

from sitegate.errors import UsageError

if TYPE_CHECKING:
    from sitegate.drivers.phone.walker import PhoneWalker, Waypoint

# `sitegate sim` imports this module at every CLI start, the daemon's included: the walker, the
# fences and the coordinate systems load numpy, shapely and pyproj (~35 MB RSS), so they are
# imported where a phone is simulated. Same values as sitegate.geofence.coords.SYSTEMS.
CRS_CHOICES = ("wgs84", "gcj02", "bd09")

SIM_NAME = "phone"
DESCRIPTION = "a worker's phone walking a path and sending signed geofence clock-ins over HTTP"
DEFAULT_URL = "http://127.0.0.1:8080/api/clockin"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=DEFAULT_URL, help="the gateway's clock-in URL (default %(default)s)")
    parser.add_argument("--phone-id", required=True, help="the phone's registered id")
    parser.add_argument("--key-file", required=True, help="file holding the phone's key (base32 or hex, mode 0600)")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--path", help='JSON waypoints: [[lng, lat], [lng, lat, dwell_s], ...] (WGS-84) '
                                      'or {"crs": "gcj02", "points": [...]}')
    where.add_argument("--fences", help="a sitegate TOML config with [[geofences]]: walk in and out of --fence")
    parser.add_argument("--fence", help="the id of the fence to walk through (with --fences)")
    parser.add_argument("--crs", default="wgs84", choices=CRS_CHOICES, help="system the phone sends (default %(default)s)")
    parser.add_argument("--accuracy", type=float, default=8.0, help="typical reported accuracy, metres (default 8)")
    parser.add_argument("--no-accuracy", action="store_true", help="send accuracy_m null (phone without accuracy)")
    parser.add_argument("--jitter", type=float, default=None, help="position noise sigma, metres (default 0.66 x accuracy)")
    parser.add_argument("--seed", type=int, default=1, help="random seed for the noise (default 1)")
    parser.add_argument("--mock", action="store_true", help="claim a mock location provider (is_mock true)")
    parser.add_argument("--provider", default="gps", help="location provider to report (default gps)")
    parser.add_argument("--interval", type=float, default=15.0, help="seconds between fixes (default 15)")
    parser.add_argument("--speed", type=float, default=1.4, help="walking speed, m/s (default 1.4)")
    parser.add_argument("--dwell", type=float, default=120.0, help="seconds spent inside the fence (default 120)")
    parser.add_argument("--count", type=int, default=None, help="stop after this many fixes")
    parser.add_argument("--replay", type=int, default=None, metavar="K", help="resend the K-th request verbatim")
    parser.add_argument("--no-wait", action="store_true", help="do not wait --interval between requests")
    parser.add_argument("--dry-run", action="store_true", help="print the request bodies, send nothing")
    parser.add_argument("--timeout", type=float, default=10.0, help="HTTP timeout, seconds (default 10)")


def _waypoints(args: argparse.Namespace) -> list[Waypoint]:
    from sitegate.drivers.phone.walker import load_waypoints, path_through_fence
    from sitegate.geofence.fences import parse_fences

    if args.path:
        try:
            data = json.loads(Path(args.path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise UsageError(f"--path {args.path}: {exc.strerror}") from None
        except ValueError as exc:
            raise UsageError(f"--path {args.path}: not JSON: {exc}") from None
        return load_waypoints(data)
    if not args.fence:
        raise UsageError("--fences needs --fence ID (which fence to walk through)")
    try:
        config = tomllib.loads(Path(args.fences).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"--fences {args.fences}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"--fences {args.fences}: not TOML: {exc}") from None
    fences, problems = parse_fences(config.get("geofences", []))
    if args.fence not in fences.ids:
        detail = "; ".join(f"{k}: {m}" for k, m in problems) or f"known fences: {', '.join(fences.ids) or 'none'}"
        raise UsageError(f"--fence {args.fence!r} not found in {args.fences} ({detail})")
    return path_through_fence(fences.by_id(args.fence), fences, dwell_s=args.dwell)


def build_walker(args: argparse.Namespace) -> PhoneWalker:
    from sitegate.drivers.phone.walker import PhoneWalker, WalkSettings
    from sitegate.geofence.phonekeys import read_key_file

    key, private = read_key_file(args.key_file)
    if not private:
        log.warning("key file %s can be read by other users: chmod 600 it", args.key_file)
    settings = WalkSettings(speed_mps=args.speed, interval_s=args.interval,
                            accuracy_m=None if args.no_accuracy else args.accuracy, jitter_m=args.jitter,
                            seed=args.seed, is_mock=args.mock, crs=args.crs, provider=args.provider)
    return PhoneWalker(args.phone_id, key, _waypoints(args), settings)


def post_all(bodies: Iterable[tuple[bytes, bool]], url: str, *, timeout: float = 10.0,
             session: requests.Session | None = None) -> Counter[str]:
    """POST each body; returns a tally of outcomes ("2xx", "4xx", "replay 4xx", ...). Raises
    ``requests.RequestException`` when the gateway cannot be reached."""
    http = session or requests.Session()
    tally: Counter[str] = Counter()
    try:
        for n, (body, is_replay) in enumerate(bodies, start=1):
            resp = http.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=timeout)
            outcome = f"{'replay ' if is_replay else ''}{resp.status_code // 100}xx"
            tally[outcome] += 1
            log.info("%s -> %s %s", "replay" if is_replay else f"request {n}", resp.status_code, resp.text[:200])
    finally:
        if session is None:
            http.close()
    return tally


def main(args: argparse.Namespace) -> int:
    from sitegate.drivers.phone.walker import request_bodies

    walker = build_walker(args)
    if args.dry_run:      # a simulated timeline from now: fix i dated now + i x interval
        payloads: Iterable[dict] = walker.payloads(start_time=time.time())
    else:                 # live: each fix dated when it is made, --interval apart unless --no-wait
        payloads = walker.payloads(pace=None if args.no_wait else time.sleep)
    if args.count is not None:
        payloads = (p for _, p in zip(range(args.count), payloads))
    bodies = request_bodies(payloads, replay=args.replay)
    if args.dry_run:
        for body, _ in bodies:
            sys.stdout.write(body.decode("utf-8") + "\n")
        return 0
    try:
        tally = post_all(bodies, args.url, timeout=args.timeout)
    except requests.RequestException as exc:
        sys.stderr.write(f"sitegate sim phone: cannot reach {args.url}: {exc}\n")
        return 1
    sys.stdout.write("sent: " + ", ".join(f"{k}={v}" for k, v in sorted(tally.items())) + "\n")
    return 0
