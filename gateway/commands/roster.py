"""``sitegate roster import|list|show|sync``: the local roster cache."""
from __future__ import annotations

from pathlib import Path

from sitegate.commands._common import add_config, add_json, load_config, open_store, print_json
from sitegate.errors import UsageError


def register(sub) -> None:
    p = sub.add_parser("roster", help="the local roster: import a CSV, list, show a worker")
    s = p.add_subparsers(dest="roster_command", metavar="ACTION", required=True)

    imp = s.add_parser("import", help="import workers from a CSV (UTF-8, UTF-8 with BOM, or GBK)")
    add_config(imp)
    imp.add_argument("csv", metavar="ROSTER.csv", help="columns id_card_number,name (+ optional ones) or 身份证号,姓名,…")
    imp.add_argument("--dry-run", action="store_true", help="check the file, import nothing")
    add_json(imp)
    imp.set_defaults(func=import_csv)

    ls = s.add_parser("list", help="workers on the roster (ID numbers masked)")
    add_config(ls)
    ls.add_argument("--team", type=int, help="only this teamSysNo")
    ls.add_argument("--all", action="store_true", help="include workers who left")
    add_json(ls)
    ls.set_defaults(func=list_workers)

    sh = s.add_parser("show", help="one worker, by ID number, card number or PIN")
    add_config(sh)
    sh.add_argument("who", metavar="ID|CARD|PIN")
    add_json(sh)
    sh.set_defaults(func=show)

    sy = s.add_parser("sync", help="download the project roster from the platform (ProjectWorker.Query)")
    add_config(sy)
    add_json(sy)
    sy.set_defaults(func=sync)


def import_csv(args) -> int:
    from sitegate.buffer import Roster
    from sitegate.buffer.roster_csv import RosterFileError, parse

    cfg = load_config(args)
    path = Path(args.csv)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    try:
        result = parse(data)
    except RosterFileError as exc:
        raise UsageError(f"{path}: {exc}") from None
    counts = {"added": 0, "changed": 0, "unchanged": 0}
    if not args.dry_run and result.workers:
        with open_store(cfg) as store, progress_bar(len(result.workers), "import") as bar:
            roster = Roster(store)
            # in chunks so the bar moves; each chunk is one transaction, and an import cut short is
            # finished by running it again (rows are upserted by ID number)
            for start in range(0, len(result.workers), IMPORT_CHUNK):
                chunk = result.workers[start:start + IMPORT_CHUNK]
                for key, n in roster.upsert_many(chunk).items():
                    counts[key] = counts.get(key, 0) + n
                bar.update(len(chunk))
            store.audit(_actor(), "roster.import", str(path),
                        f"{len(result.workers)} rows, {len(result.problems)} bad; {counts}")
    if args.json:
        print_json({"file": str(path), "encoding": result.encoding, "imported": len(result.workers),
                    **counts, "dry_run": args.dry_run,
                    "problems": [{"line": ln, "reason": why} for ln, why in result.problems]})
    else:
        for ln, why in result.problems:
            print(f"{path}:{ln}: skipped: {why}")
        verb = "would import" if args.dry_run else "imported"
        print(f"{verb} {len(result.workers)} worker(s) from {path} ({result.encoding}): "
              f"{counts['added']} added, {counts['changed']} changed, {counts['unchanged']} unchanged; "
              f"{len(result.problems)} row(s) skipped")
    # some rows were bad: the good ones are in, but say so in the exit code
    return 2 if result.problems else 0


IMPORT_CHUNK = 500


def progress_bar(total: int | None, desc: str, unit: str = " worker"):
    """A tqdm bar on stderr when stderr is a terminal, nothing otherwise (pipes, logs, cron, --json
    readers see no bar characters). ``leave=False``: the bar is erased, the summary line stays."""
    import sys

    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False,
                disable=not sys.stderr.isatty())


def _actor() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "unknown"


def list_workers(args) -> int:
    from sitegate.buffer import Roster

    cfg = load_config(args)
    with open_store(cfg) as store:
        workers = Roster(store).all(include_left=args.all)
    if args.team is not None:
        workers = [w for w in workers if w.team_sys_no == args.team]
    rows = [w.public_dict() for w in workers]
    if args.json:
        print_json(rows)
        return 0
    print(f"{'PIN':>5}  {'ID number':<18}  {'name':<8}  {'team':<12}  {'card':<10}  status")
    for w in workers:
        flag = "blacklisted" if w.blacklisted else w.status
        print(f"{w.pin or '':>5}  {w.masked_id:<18}  {w.name:<8}  {w.team_name or w.team_sys_no or '':<12}  "
              f"{w.card_no or '':<10}  {flag}")
    print(f"{len(workers)} worker(s)")
    return 0


def show(args) -> int:
    from sitegate.buffer import Roster

    cfg = load_config(args)
    with open_store(cfg) as store:
        roster = Roster(store)
        who = args.who.strip()
        w = roster.get(who) if len(who) == 18 else None
        if w is None and who.isdigit():
            w = roster.by_card(who) or (roster.by_pin(int(who)) if len(who) <= 9 else None)
        if w is None:
            raise UsageError(f"no worker with ID number, card number or PIN {who[:6] + '…' if len(who) > 10 else who}")
        events = store.events(id_card_number=w.id_card_number, limit=10, newest_first=True, decrypt=False)
    d = w.public_dict()
    d["recent_events"] = [{"event_id": e.event_id, "time": e.time.wall.isoformat(), "direction": e.direction.value,
                           "method": e.method.value, "outcome": e.decision.outcome.value} for e in events]
    if args.json:
        print_json(d)
    else:
        for k, v in d.items():
            if k != "recent_events":
                print(f"{k:>15}: {v if v not in (None, '') else '-'}")
        print(f"{'recent events':>15}: {len(events)}")
        for e in d["recent_events"]:
            print(f"{'':>17}{e['time']}  {e['direction']:<3}  {e['method']:<9}  {e['outcome']}")
    return 0


def sync(args) -> int:
    """Download the platform's roster into the local one; added / changed / marked left."""
    from sitegate.uplink.national.connect import appsecret_of, client_from_config
    from sitegate.uplink.national.roster_sync import sync_roster

    cfg = load_config(args)
    client = client_from_config(cfg, appsecret_of(cfg))
    try:
        with open_store(cfg) as store, progress_bar(None, "roster sync") as bar:
            report = sync_roster(client, store, cfg["site"]["project_code"], progress=bar.update)
    finally:
        client.close()
    if args.json:
        print_json(report.as_dict())
    else:
        print(report.summary())
    return 0
