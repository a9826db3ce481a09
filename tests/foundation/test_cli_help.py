"""Every command's --help renders: a stray '%' in a help text (argparse formats them) makes
`sitegate bench --help` crash with a traceback instead of helping."""
from __future__ import annotations

import argparse

from sitegate.cli import build_parser


def _parsers(parser: argparse.ArgumentParser, prefix: str):
    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{prefix} {name}")


def test_every_command_help_renders():
    seen = []
    for name, parser in _parsers(build_parser(), "sitegate"):
        assert parser.format_help().strip(), name
        seen.append(name)
    assert {"sitegate bench", "sitegate bench daemon", "sitegate sim", "sitegate config check"} <= set(seen)
