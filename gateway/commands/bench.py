"""``sitegate bench NAME|all``: run the benchmarks and print their figures."""
from __future__ import annotations

import argparse
import importlib
import pkgutil
from pathlib import Path


def _bench_modules() -> dict:
    from sitegate import bench

    return {
        m.name: f"{bench.__name__}.{m.name}"
        for m in pkgutil.iter_modules(bench.__path__)
        if not m.name.startswith("_") and not m.ispkg   # a package (soakkit) is a harness, not a benchmark
    }


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure speed and footprint against a baseline from the same run")
    names = p.add_subparsers(dest="bench", metavar="NAME", required=True)
    for name, modname in sorted(_bench_modules().items()):
        mod = importlib.import_module(modname)
        bp = names.add_parser(name, help=getattr(mod, "DESCRIPTION", "").replace("%", "%%"))
        if hasattr(mod, "add_arguments"):
            mod.add_arguments(bp)
        bp.set_defaults(func=_run, modules=[(name, modname)])
    allp = names.add_parser("all", help="every benchmark; writes a markdown table")
    allp.add_argument("--out", default="docs/benchmarks.md", help="where to write the table (default %(default)s)")
    allp.set_defaults(func=_run_all)


def _run_one(name: str, modname: str, args: argparse.Namespace) -> list:
    from sitegate.bench import table

    mod = importlib.import_module(modname)
    figures = mod.run(args)
    print(table([(name, f) for f in figures]))
    return [(name, f) for f in figures]


def _run(args: argparse.Namespace) -> int:
    rows = []
    for name, modname in args.modules:
        rows += _run_one(name, modname, args)
    return 0 if all(f.met is not False for _, f in rows) else 1


def _run_all(args: argparse.Namespace) -> int:
    from sitegate.bench import machine, table

    rows = []
    for name, modname in sorted(_bench_modules().items()):
        mod = importlib.import_module(modname)
        # each benchmark's own defaults
        sub = argparse.ArgumentParser()
        if hasattr(mod, "add_arguments"):
            mod.add_arguments(sub)
        own = sub.parse_args([])
        print(f"## {name}", flush=True)
        rows += _run_one(name, modname, own)
    text = f"# Benchmarks\n\nMachine: {machine()}\n\n{table(rows)}\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0 if all(f.met is not False for _, f in rows) else 1
