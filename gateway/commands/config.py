"""``sitegate config check -c FILE``: validate; exit 0, or 2 with FILE:LINE: key: problem."""
from __future__ import annotations

from sitegate.commands._common import add_config, load_config


def register(sub) -> None:
    p = sub.add_parser("config", help="check a configuration file")
    s = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    c = s.add_parser("check", help="validate; exit 0, or 2 with FILE:LINE: key: problem")
    add_config(c)
    c.set_defaults(func=check)
    r = s.add_parser("reference", help="print every configuration key as a markdown reference")
    r.set_defaults(func=reference)


def check(args) -> int:
    cfg = load_config(args)   # ConfigError -> the CLI prints each problem and exits 2
    devices = len(cfg["devices"])
    print(f"{args.config}: ok ({devices} device(s), uplink {cfg['uplink']['profile']}"
          f"{'' if cfg['uplink']['enabled'] else ' (disabled)'})")
    return 0


def reference(args) -> int:
    from sitegate.config.reference import markdown

    print(markdown(), end="")
    return 0
