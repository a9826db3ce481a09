"""``sitegate user add|list|disable|enable|passwd|unlock``: accounts for the clerk pages.

The password is never an argument (it would stay in the shell history and in ``ps``): it is read
from standard input when that is not a terminal (one line, for scripts), or asked twice without echo.
"""
from __future__ import annotations

import getpass
import sys
import time

from sitegate.commands._common import add_config, add_json, load_config, local, open_store, print_json
from sitegate.errors import UsageError


def register(sub) -> None:
    p = sub.add_parser("user", help="accounts for the clerk pages (劳资专管员)")
    s = p.add_subparsers(dest="user_command", metavar="ACTION", required=True)

    a = s.add_parser("add", help="create an account; the password comes from stdin or a prompt, never argv")
    add_config(a)
    a.add_argument("username", metavar="USERNAME")
    a.add_argument("--display-name", default="", metavar="NAME", help="shown on the pages, e.g. 王会计")
    a.add_argument("--role", default="clerk", choices=("clerk", "admin"))
    a.set_defaults(func=add)

    ls = s.add_parser("list", help="accounts, with disabled and locked ones marked")
    add_config(ls)
    add_json(ls)
    ls.set_defaults(func=list_users)

    for name, func, text in (
        ("disable", disable, "refuse this account's logins and end its sessions"),
        ("enable", enable, "allow a disabled account again"),
        ("passwd", passwd, "set a new password (ends the account's sessions)"),
        ("unlock", unlock, "lift a lockout after too many failed logins"),
    ):
        c = s.add_parser(name, help=text)
        add_config(c)
        c.add_argument("username", metavar="USERNAME")
        c.set_defaults(func=func)


def read_password(stdin=None, prompt=None) -> str:
    """One line from a non-terminal stdin, or twice (must match) from the terminal without echo."""
    stdin = stdin or sys.stdin
    prompt = prompt or getpass.getpass
    if not stdin.isatty():
        line = stdin.readline()
        if not line:
            raise UsageError("no password on standard input (expected one line)")
        return line.rstrip("\r\n")
    first = prompt("Password (at least 10 characters): ")
    second = prompt("Repeat the password: ")
    if first != second:
        raise UsageError("the two passwords differ")
    return first


def _actor() -> str:
    try:
        return "cli:" + getpass.getuser()
    except (KeyError, OSError):     # no passwd entry (containers)
        return "cli"


def _accounts(store):
    from sitegate.web.accounts import Accounts

    return Accounts(store)


def add(args) -> int:
    from sitegate.web.accounts import check_username
    from sitegate.web.passwords import check_rules

    check_username(args.username)            # before asking for a password
    cfg = load_config(args)
    password = read_password()
    check_rules(password)
    with open_store(cfg) as store:
        user = _accounts(store).add(args.username, password, display_name=args.display_name, role=args.role,
                                    actor=_actor())
    print(f"user {user.username} added ({user.role})")
    return 0


def list_users(args) -> int:
    cfg = load_config(args)
    with open_store(cfg) as store:
        users = _accounts(store).list()
    if args.json:
        print_json([u.public_dict() for u in users])
        return 0
    tz = cfg["site"]["timezone"]
    now = time.time()
    for u in users:
        flags = (["disabled"] if u.disabled else []) + ([f"locked until {local(u.locked_until, tz)}"]
                                                        if u.locked_until > now else [])
        print(f"{u.username:<20} {u.role:<6} {u.display_name:<12} {', '.join(flags)}".rstrip())
    print(f"{len(users)} user(s)")
    return 0


def disable(args) -> int:
    cfg = load_config(args)
    with open_store(cfg) as store:
        _accounts(store).set_disabled(args.username, True, actor=_actor())
    print(f"user {args.username} disabled; their sessions are ended")
    return 0


def enable(args) -> int:
    cfg = load_config(args)
    with open_store(cfg) as store:
        _accounts(store).set_disabled(args.username, False, actor=_actor())
    print(f"user {args.username} enabled")
    return 0


def passwd(args) -> int:
    from sitegate.web.passwords import check_rules

    cfg = load_config(args)
    password = read_password()
    check_rules(password)
    with open_store(cfg) as store:
        _accounts(store).set_password(args.username, password, actor=_actor())
    print(f"password of {args.username} changed; their sessions are ended")
    return 0


def unlock(args) -> int:
    cfg = load_config(args)
    with open_store(cfg) as store:
        _accounts(store).unlock(args.username, actor=_actor())
    print(f"user {args.username} unlocked")
    return 0
