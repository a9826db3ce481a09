"""The ``sitegate`` command: parse, call one library function, map errors to exit codes.

Exit codes: 0 ok; 2 bad input or usage (with a message naming what is wrong); 1 failure.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from sitegate import __version__, commands
from sitegate.errors import ConfigError, SitegateError, UsageError


class _Parser(argparse.ArgumentParser):
    # argparse exits 2 on usage errors already; keep its message but make sure it names the command.
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sitegate", description="Edge attendance gateway for construction sites.")
    parser.add_argument("--version", action="version", version=f"sitegate {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for mod in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        importlib.import_module(f"{commands.__name__}.{mod.name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    func = getattr(args, "func", None)
    if func is None:  # a command group called without its subcommand
        parser.parse_args([*(argv if argv is not None else sys.argv[1:]), "--help"])
        return 2
    try:
        return int(func(args) or 0)
    except ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"sitegate {args.command}: {exc}", file=sys.stderr)
        return 2
    except SitegateError as exc:
        print(f"sitegate {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
