"""``sitegate card read -c FILE --device ID``: read the next ID card on a reader at the clerk's desk
and say whether its holder is on the roster (ID number masked).

The reader's port is opened exclusively: while the daemon reads the same reader, stop that device
(or the daemon) first, or use a spare reader configured as its own disabled device.
"""
from __future__ import annotations

import sys

from sitegate.commands._common import add_config, add_json, load_config, open_store, print_json
from sitegate.errors import SitegateError, UsageError

CARD_TYPES = {"resident": "resident ID card", "hmt_residence": "HK/Macau/Taiwan residence permit",
              "foreign_permanent": "foreign permanent residence card",
              "foreign_permanent_2023": "foreign permanent residence card (2023)"}


def register(sub) -> None:
    p = sub.add_parser("card", help="an ID-card reader at the clerk's desk: read a card, check it against the roster")
    s = p.add_subparsers(dest="card_command", metavar="ACTION", required=True)
    r = s.add_parser("read", help="read the next card presented on a reader and look its holder up on the roster")
    add_config(r)
    r.add_argument("--device", required=True, metavar="ID",
                   help="the reader's device id in the configuration (driver ga467-serial)")
    r.add_argument("--timeout", type=float, default=30.0, metavar="S",
                   help="seconds to wait for a card (default %(default)s)")
    add_json(r)
    r.set_defaults(func=read)


def read(args) -> int:
    from sitegate.buffer import Roster
    from sitegate.drivers.api import DeviceUnavailable
    from sitegate.drivers.ga467_serial.driver import read_one_card
    from sitegate.idcard import mask

    cfg = load_config(args)
    dev = next((d for d in cfg["devices"] if d["id"] == args.device), None)
    if dev is None:
        raise UsageError(f"no device {args.device!r} in {args.config} (see its [[devices]] ids)")
    if dev["driver"] != "ga467-serial":
        raise UsageError(f"device {args.device} is a {dev['driver']!r}; card read needs an ID-card reader (ga467-serial)")
    if not args.timeout > 0:
        raise UsageError(f"--timeout must be more than 0 seconds, got {args.timeout}")
    print(f"present an ID card at {dev['id']} ({dev['port']}) now (waiting {args.timeout:.0f} s)…",
          file=sys.stderr, flush=True)
    try:
        card = read_one_card(dev["port"], args.timeout, baudrate=int(dev.get("baudrate") or 115200))
    except DeviceUnavailable as exc:
        hint = " (the daemon is reading this reader: stop it first)" if "exclusively lock" in str(exc) else ""
        raise SitegateError(f"{exc}{hint}") from None
    if card is None:
        print(f"sitegate card: no card presented within {args.timeout:.0f} s", file=sys.stderr)
        return 1
    with open_store(cfg) as store:
        worker = Roster(store).get(card.id_number)
    found = {"id_card_number": mask(card.id_number), "name": card.display_name, "card_type": card.card_type,
             "valid_to": card.valid_to or None, "expired": card.expired, "id_number_ok": card.id_number_ok,
             "on_roster": worker is not None}
    if worker is not None:
        found.update(team_sys_no=worker.team_sys_no, team_name=worker.team_name, status=worker.status,
                     blacklisted=worker.blacklisted, card_no=worker.card_no, contract_valid_to=worker.valid_to)
    if args.json:
        print_json(found)
        return 0
    validity = "long-term" if card.valid_to == "长期" else f"valid to {card.valid_to or '?'}"
    print(f"ID card: {found['id_card_number']}  {card.display_name}  {CARD_TYPES.get(card.card_type, card.card_type)}, "
          f"{validity}{'  EXPIRED' if card.expired else ''}{'' if card.id_number_ok else '  (ID number check FAILED)'}")
    if worker is None:
        print("roster:  NOT on the roster (add the worker with `sitegate roster import` or `roster sync`)")
        return 0
    state = "BLACKLISTED" if worker.blacklisted else worker.status
    team = worker.team_name or (str(worker.team_sys_no) if worker.team_sys_no else "no team")
    print(f"roster:  on the roster, team {team}, {state}"
          + (f", card {worker.card_no}" if worker.card_no else "")
          + (f", contract to {worker.valid_to}" if worker.valid_to else ""))
    return 0
