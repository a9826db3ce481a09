"""``sitegate sim NAME …``: run a device simulator speaking the device's real protocol.

Every ``sitegate.drivers.<package>.simulator`` module that defines ``SIM_NAME``,
``add_arguments(parser)`` and ``main(args) -> int`` becomes ``sitegate sim <SIM_NAME>``: a new
simulator is a new module, no edit here. Simulator modules are imported each time the CLI starts,
so they must import heavy libraries inside their functions. A simulator runs until Ctrl-C or
SIGTERM (both end it with exit code 0).
"""
from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import signal
import threading
from types import ModuleType

log = logging.getLogger(__name__)


def simulator_modules() -> dict[str, ModuleType]:
    """SIM_NAME -> simulator module, for every driver package that ships one."""
    from sitegate import drivers

    found: dict[str, ModuleType] = {}
    for pkg in sorted(pkgutil.iter_modules(drivers.__path__), key=lambda m: m.name):
        if not pkg.ispkg or pkg.name.startswith("_") or not _has_simulator(pkg):
            continue
        name = f"{drivers.__name__}.{pkg.name}.simulator"
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # one broken simulator must not take the whole CLI down
            log.warning("simulator %s not loaded: %s", name, exc)
            continue
        if all(hasattr(module, attr) for attr in ("SIM_NAME", "add_arguments", "main")):
            if module.SIM_NAME in found:
                log.warning("simulator name %r claimed twice (%s); keeping %s", module.SIM_NAME, name,
                            found[module.SIM_NAME].__name__)
                continue
            found[module.SIM_NAME] = module
    return found


def _has_simulator(pkg: pkgutil.ModuleInfo) -> bool:
    # Looked up on disk: importing every driver package (numpy, OpenCV…) would slow every CLI call.
    spec = pkg.module_finder.find_spec(pkg.name)
    locations = spec.submodule_search_locations if spec is not None else None
    return bool(locations) and any(m.name == "simulator" for m in pkgutil.iter_modules(locations))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sim", help="device simulators speaking the real protocols (for tests, demos, vendors)")
    names = p.add_subparsers(dest="sim", metavar="NAME", required=True)
    for name, module in simulator_modules().items():
        sp = names.add_parser(name, help=_summary(module))
        module.add_arguments(sp)
        sp.set_defaults(func=_run, sim_module=module.__name__)


def _summary(module: ModuleType) -> str:
    """The docstring's first paragraph, without a leading ```sitegate sim x``:`` label."""
    first = " ".join((module.__doc__ or module.SIM_NAME).strip().split("\n\n")[0].split())
    label, sep, rest = first.partition("``: ")
    return rest if sep and label.startswith("``") else first


def _interrupt(signum, frame):  # noqa: ARG001 - signal handler signature
    raise KeyboardInterrupt


def _run(args: argparse.Namespace) -> int:
    module = importlib.import_module(args.sim_module)
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main else None
    try:
        return int(module.main(args) or 0)
    except KeyboardInterrupt:
        return 0  # stopping a simulator is its normal end
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
