"""``sitegate status -c FILE [--json]``: backlog, deliveries, dead letters, alarms."""
from __future__ import annotations

import time

from sitegate.commands._common import add_config, add_json, load_config, local, open_store, print_json


def register(sub) -> None:
    p = sub.add_parser("status", help="backlog per state, oldest undelivered, dead letters, alarms")
    add_config(p)
    add_json(p)
    p.set_defaults(func=show)


def show(args) -> int:
    from sitegate.buffer import status

    cfg = load_config(args)
    tz = cfg["site"]["timezone"]
    with open_store(cfg) as store:
        st = status(store)
        st["devices"] = _device_health(store)
    if args.json:
        print_json(st)
        return 0
    ev = st["events"]
    print(f"events: {ev['total']} ({ev['admitted']} admitted, {ev['denied']} denied)")
    for uplink, states in st["backlog"].items():
        print(f"uplink {uplink}: " + ", ".join(f"{k} {v}" for k, v in states.items()))
    if st["oldest_undelivered_ts"]:
        age = (time.time() - st["oldest_undelivered_ts"]) / 3600
        print(f"oldest undelivered: {local(st['oldest_undelivered_ts'], tz)} ({age:.1f} h ago)")
    else:
        print("oldest undelivered: none")
    print(f"last delivery: {local(st['last_delivery_ts'], tz)}")
    print(f"dead letters: {st['dead_letters']}")
    for d in st["devices"]:
        print(f"device {d['id']}: {d['state']} since {local(d['since'], tz)} {d.get('reason', '')}".rstrip())
    if st["alarms"]:
        for a in st["alarms"]:
            print(f"ALARM [{a['severity']}] {a['code']}: {a['message']} (since {local(a['raised_ts'], tz)}, x{a['count']})")
    else:
        print("alarms: none")
    return 0


def _device_health(store) -> list[dict]:
    """The daemon records each device's health in kv as device.<id>.health (JSON)."""
    import json

    out = []
    for r in store.query("SELECT key, value FROM kv WHERE key LIKE 'device.%.health' ORDER BY key"):
        try:
            out.append(json.loads(r["value"]))
        except ValueError:
            continue
    return out
