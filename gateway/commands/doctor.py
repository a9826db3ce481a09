"""``sitegate doctor -c FILE``: each check with a one-line verdict and the fix."""
from __future__ import annotations

from sitegate.commands._common import add_config, add_json, print_json


def register(sub) -> None:
    p = sub.add_parser("doctor", help="what is wrong with this installation, and the fix")
    add_config(p)
    p.add_argument("--offline", action="store_true", help="skip the platform check")
    add_json(p)
    p.set_defaults(func=doctor)


def doctor(args) -> int:
    from sitegate.doctor import FAIL, run_checks

    checks = run_checks(args.config, network=not args.offline)
    if args.json:
        print_json([c.__dict__ for c in checks])
    else:
        for c in checks:
            print(c.line())
    return 1 if any(c.verdict == FAIL for c in checks) else 0
