"""``sitegate drivers list|show|test``: installed drivers, their keys, and the conformance run."""
from __future__ import annotations

from sitegate.commands._common import add_config, add_json, print_json
from sitegate.errors import UsageError


def register(sub) -> None:
    p = sub.add_parser("drivers", help="installed device drivers, their configuration keys, conformance test")
    s = p.add_subparsers(dest="drivers_command", metavar="ACTION", required=True)
    ls = s.add_parser("list", help="built-in and installed drivers")
    add_json(ls)
    ls.set_defaults(func=list_drivers)
    sh = s.add_parser("show", help="a driver's description and [[devices]] keys")
    sh.add_argument("name")
    add_json(sh)
    sh.set_defaults(func=show)
    t = s.add_parser("test", help="conformance run against a device or simulator configured in FILE")
    t.add_argument("name", help="the device id in the configuration (or the driver name if only one device uses it)")
    add_config(t)
    t.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for each step")
    t.add_argument("--no-prompt", action="store_true",
                   help="do not ask for a card/face: expect the device (e.g. a simulator) to produce one")
    add_json(t)
    t.set_defaults(func=test)


def list_drivers(args) -> int:
    from sitegate.drivers import registry

    rows = []
    for name in sorted(registry._targets()):
        try:
            cls = registry.driver_class(name)
            rows.append({"name": name, "origin": registry.origin(name), "transport": cls.TRANSPORT, "mode": cls.MODE,
                         "description": cls.DESCRIPTION, "available": True})
        except Exception as exc:  # noqa: BLE001 - show a broken driver as such
            rows.append({"name": name, "origin": registry.origin(name), "available": False, "error": str(exc)})
    if args.json:
        print_json(rows)
        return 0
    for r in rows:
        if r["available"]:
            print(f"{r['name']:<16} {r['transport']:<7} {r['mode']:<5} {r['origin']:<24} {r['description']}")
        else:
            print(f"{r['name']:<16} unavailable ({r['origin']}): {r['error']}")
    return 0


def show(args) -> int:
    from sitegate.drivers import registry

    try:
        cls = registry.driver_class(args.name)
    except KeyError:
        raise UsageError(f"no driver named {args.name!r} (see sitegate drivers list)") from None
    d = cls.describe()
    d["origin"] = registry.origin(args.name)
    if args.json:
        print_json(d)
        return 0
    print(f"{d['name']} — {d['description']}\n  transport {d['transport']}, {d['mode']}, from {d['origin']}")
    print(f"  reports direction: {'yes' if d['reports_direction'] else 'no'}; keeps its own roster: "
          f"{'yes' if d['keeps_roster'] else 'no'}")
    print("  keys ([[devices]] table, beside id, driver, lane, direction):")
    for k, v in d["keys"].items():
        req = "required" if v["required"] else f"default {v['default']!r}"
        choices = f" one of {v['choices']}" if "choices" in v else ""
        print(f"    {k:<16} {v['type']:<6} {req:<22} {v['help']}{choices}")
    return 0


def test(args) -> int:
    from sitegate.conformance import run_conformance

    results = run_conformance(args.config, args.name, timeout=args.timeout, prompt=not args.no_prompt)
    if args.json:
        print_json([r.__dict__ for r in results])
    else:
        for r in results:
            print(r.line())
    return 0 if all(r.passed or r.skipped for r in results) else 1
