"""``sitegate events add|list``: supplementary clock-ins and the event log."""
from __future__ import annotations

import getpass

from sitegate.commands._common import (
    add_config, add_json, load_config, local, open_store, parse_local_time, print_json,
)
from sitegate.idcard import mask


def register(sub) -> None:
    p = sub.add_parser("events", help="supplementary clock-ins (补卡) and the event log")
    s = p.add_subparsers(dest="events_command", metavar="ACTION", required=True)

    a = s.add_parser("add", help="record a supplementary clock-in (补卡) with its reason; prints the event id")
    add_config(a)
    a.add_argument("--id-card-number", required=True, metavar="N")
    a.add_argument("--direction", required=True, choices=("in", "out"))
    a.add_argument("--time", metavar='"YYYY-MM-DD HH:MM:SS"', help="site local time (default: now)")
    a.add_argument("--reason", default="", metavar="TEXT", help="why the gate did not record it")
    a.add_argument("--channel", default="", metavar="NAME", help="the gate / lane (platform channel)")
    a.add_argument("--by", default=None, metavar="NAME", help="who enters it (default: your login name)")
    a.set_defaults(func=add)

    ls = s.add_parser("list", help="events, oldest first (ID numbers masked)")
    add_config(ls)
    ls.add_argument("--since", metavar="T", help='"YYYY-MM-DD[ HH:MM:SS]" site local time')
    ls.add_argument("--limit", type=int, default=1000)
    add_json(ls)
    ls.set_defaults(func=list_events)


def add(args) -> int:
    from sitegate.manual import add_supplementary

    cfg = load_config(args)
    tz = cfg["site"]["timezone"]
    when = parse_local_time(args.time, tz) if args.time else None
    actor = args.by or getpass.getuser()
    with open_store(cfg) as store:
        ev = add_supplementary(store, id_card_number=args.id_card_number, direction=args.direction, when=when,
                               reason=args.reason, channel=args.channel, actor=actor)
    print(ev.event_id)
    return 0


def event_row(e, tz: str, delivery: str = "") -> dict:
    return {
        "event_id": e.event_id, "time": local(e.time.wall, tz), "time_iso": e.time.wall.isoformat(),
        "clock_synced": e.time.synced, "id_card_number": mask(e.worker.id_card_number), "name": e.worker.name,
        "team_sys_no": e.worker.team_sys_no, "direction": e.direction.value, "method": e.method.value,
        "device_id": e.source.device_id, "lane": e.source.lane, "outcome": e.decision.outcome.value,
        "reason": e.decision.reason.value if e.decision.reason else None, "note": e.note, "delivery": delivery,
    }


def list_events(args) -> int:
    cfg = load_config(args)
    tz = cfg["site"]["timezone"]
    since = parse_local_time(args.since, tz).timestamp() if args.since else None
    with open_store(cfg) as store:
        events = store.events(since_ts=since, limit=args.limit)
        states = {r["event_id"]: r["state"] for r in store.query("SELECT event_id, state FROM deliveries")}
    rows = [event_row(e, tz, states.get(e.event_id, "not sent")) for e in events]
    if args.json:
        print_json(rows)
        return 0
    for r in rows:
        outcome = r["outcome"] + (f" ({r['reason']})" if r["reason"] else "")
        print(f"{r['time']}  {r['direction']:<3}  {r['id_card_number']:<18}  {r['name']:<6}  {r['method']:<9}  "
              f"{r['lane'] or r['device_id']:<10}  {outcome:<10}  {r['delivery']}")
    print(f"{len(rows)} event(s)")
    return 0
