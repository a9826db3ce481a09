"""Benchmarks: ``sitegate bench NAME``. One module per benchmark, discovered like the commands.

A benchmark module defines::

    DESCRIPTION = "one line"
    def add_arguments(parser): ...            # optional: its own flags (keep defaults sensible)
    def run(args) -> list[Figure]: ...        # measures, returns the figures

Every figure that has a target also carries the baseline measured in the same run, so a slow
machine shows as a slow baseline too, never as a flaky test. Speed is never asserted in tests.
"""
from __future__ import annotations

import platform
import os
from dataclasses import dataclass


@dataclass
class Figure:
    name: str                     # what was measured, e.g. "durable appends/s, 16 producers"
    value: float
    unit: str = ""
    baseline: float | None = None  # the naive way, measured in the same run
    baseline_name: str = ""       # what the baseline is, e.g. "one commit per event"
    target: str = ""              # e.g. ">= 5000" or "<= 20 ms"; "" for an informative figure
    met: bool | None = None       # None when there is no target

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline


def check(value: float, op: str, bound: float) -> bool:
    """Evaluate a target such as ``check(v, ">=", 5000)``."""
    return {">=": value >= bound, "<=": value <= bound, ">": value > bound, "<": value < bound}[op]


def machine() -> str:
    cpu = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{platform.machine()}, {os.cpu_count()} cores, {cpu or platform.processor()}, Python {platform.python_version()}"


def _fmt(v: float | None) -> str:
    if v is None:
        return ""
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{v:.4g}"


def table(rows: list[tuple[str, Figure]]) -> str:
    """A markdown table: benchmark, figure, value, baseline, ratio, target, met?"""
    out = ["| bench | figure | value | baseline | ratio | target | met? |", "|---|---|---|---|---|---|---|"]
    for bench, f in rows:
        base = f"{_fmt(f.baseline)} ({f.baseline_name})" if f.baseline is not None else ""
        ratio = f"{f.ratio:.1f}×" if f.ratio is not None else ""
        met = "" if f.met is None else ("yes" if f.met else "**no**")
        out.append(f"| {bench} | {f.name} | {_fmt(f.value)} {f.unit} | {base} | {ratio} | {f.target} | {met} |")
    return "\n".join(out)
