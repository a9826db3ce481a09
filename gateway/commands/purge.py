"""``sitegate purge -c FILE --id-card-number N``: forget a worker who left (see buffer/forget.py)."""
from __future__ import annotations

import getpass
import sys

from sitegate.commands._common import add_config, add_json, load_config, open_store, print_json
from sitegate.errors import UsageError
from sitegate.idcard import mask


def register(sub) -> None:
    p = sub.add_parser("purge", help="forget a worker who left: personal data gone, owed attendance kept")
    add_config(p)
    p.add_argument("--id-card-number", required=True, metavar="N")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    add_json(p)
    p.set_defaults(func=purge)


def purge(args) -> int:
    from sitegate.buffer import Roster
    from sitegate.buffer.forget import forget_worker

    cfg = load_config(args)
    with open_store(cfg) as store:
        worker = Roster(store).get(args.id_card_number)
        if worker is None:
            raise UsageError(f"no worker with ID number {mask(args.id_card_number)} on the roster")
        if not args.yes:
            if not sys.stdin.isatty():
                raise UsageError("refusing to purge without --yes when not at a terminal")
            answer = input(f"forget {worker.masked_id} {worker.name}? this cannot be undone [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("nothing done")
                return 0
        counts = forget_worker(store, worker.id_card_number, actor=getpass.getuser())
    if args.json:
        print_json(counts)
    else:
        print(f"forgot {worker.masked_id}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0
