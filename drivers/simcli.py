"""What the simulators' command lines (`sitegate sim NAME`) share: argument types for fault rates
and the loop that replays a list of credentials at a fixed pace until interrupted."""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence


def rate(text: str) -> float:
    """argparse type for a share of replies or requests, 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 1")
    return value


def replay_forever(items: Sequence, every_s: float, act: Callable[[object, bool], None]) -> None:
    """Every ``every_s`` seconds hand the next item to ``act(item, going_in)``, alternating in and
    out, cycling through ``items``; with no items just wait. Returns only by an exception
    (KeyboardInterrupt: `sitegate sim` turns SIGTERM into one)."""
    step = 0
    while True:
        time.sleep(every_s if items else 3600)
        if items:
            act(items[step % len(items)], step % 2 == 0)
            step += 1
