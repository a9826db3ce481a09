"""What several commands share: the -c option, opening the site's store, printing JSON."""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from sitegate.errors import UsageError

DEFAULT_CONFIG = "/etc/sitegate/sitegate.toml"


def add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", default=DEFAULT_CONFIG, metavar="FILE",
                   help="configuration file (default %(default)s)")


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")


def load_config(args):
    from sitegate.config import load

    return load(args.config)


def open_store(cfg):
    from sitegate.buffer import Store

    return Store.from_config(cfg)


def print_json(value) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


def parse_local_time(text: str, tz: str) -> datetime:
    """'YYYY-MM-DD HH:MM:SS' (or 'YYYY-MM-DD') in the site's zone -> aware datetime."""
    text = text.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=ZoneInfo(tz))
        except ValueError:
            continue
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"time {text!r} is not 'YYYY-MM-DD HH:MM:SS'") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=ZoneInfo(tz))


def local(ts_or_dt, tz: str) -> str:
    if ts_or_dt is None:
        return "-"
    dt = datetime.fromtimestamp(ts_or_dt, ZoneInfo(tz)) if isinstance(ts_or_dt, (int, float)) else ts_or_dt.astimezone(ZoneInfo(tz))
    return dt.strftime("%Y-%m-%d %H:%M:%S")
