"""``sitegate geo convert --from S --to S LNG LAT``: WGS-84 / GCJ-02 / BD-09 conversion.

Prints ``lng lat`` with 12 decimals. A bad system name or an out-of-range coordinate is a usage
error (exit 2) naming what was wrong.
"""
from __future__ import annotations

import argparse
import math

from sitegate.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("geo", help="coordinate systems: WGS-84, GCJ-02 (Amap/Tencent), BD-09 (Baidu)")
    geo = p.add_subparsers(dest="geo_command", metavar="SUBCOMMAND", required=True)
    c = geo.add_parser("convert", help="convert one point between wgs84, gcj02 and bd09",
                       description="Convert one point. Systems: wgs84 (GPS), gcj02 (Amap, Tencent), bd09 (Baidu). "
                                   "Output: 'lng lat' with 12 decimals.")
    # Systems and numbers are checked by us, not argparse, so a mistake exits 2 with our message
    # (argparse would call sys.exit itself) and negative numbers are not taken for options.
    c.add_argument("--from", dest="src", required=True, metavar="SYSTEM", help="wgs84 | gcj02 | bd09")
    c.add_argument("--to", dest="dst", required=True, metavar="SYSTEM", help="wgs84 | gcj02 | bd09")
    c.add_argument("lng", metavar="LNG", help="longitude, degrees east (-180..180)")
    c.add_argument("lat", metavar="LAT", help="latitude, degrees north (-90..90)")
    c.set_defaults(func=_convert)


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{what} must be a number of degrees, got {text!r}") from None
    if not math.isfinite(value):
        raise UsageError(f"{what} must be a finite number of degrees, got {text!r}")
    return value


def _convert(args: argparse.Namespace) -> int:
    from sitegate.geofence.coords import convert  # numpy import only when the command runs

    lng, lat = _number(args.lng, "LNG"), _number(args.lat, "LAT")
    out_lng, out_lat = convert(lng, lat, args.src, args.dst)  # CoordinateError is a UsageError
    print(f"{out_lng:.12f} {out_lat:.12f}")
    return 0
