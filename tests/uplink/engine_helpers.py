"""Helpers of the engine tests (a unique module name: several test folders have a conftest).

A site = a configuration file whose [uplink] points at a reference platform on 127.0.0.1, a
secret file (0600) and a data directory; events are made with real time a little in the past (the
reference platform refuses records from the future and signed requests off its clock)."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sitegate.buffer import Store
from sitegate.config import loads
from sitegate.idcard import check_digit
from sitegate.ids import uuid7
from sitegate.model import (
    AttendanceEvent, DenyReason, Direction, EventTime, GateDecision, Location, Method, Outcome, Source, WorkerRef,
)
from sitegate.receiver import RosterWorker
from sitegate.secrets import write_secret
from sitegate.uplink.base import Backoff
from sitegate.uplink.national.beijing import beijing_time

APPID = "TESTAPPID0001"
SECRET = "0123456789abcdef0123456789ABCDEF"    # the reference's dummy secret
WRONG_SECRET = "fedcba9876543210fedcba9876543210"
PROJECT = "370102202300001"
TEAM_A, TEAM_B = 100156750, 100156751


def resident_id(n: int) -> str:
    first17 = f"37010219900101{n:03d}"
    return first17 + check_digit(first17)


ROSTER = [RosterWorker(resident_id(i), f"工人{i}", TEAM_A if i % 2 else TEAM_B, "钢筋班" if i % 2 else "木工班",
                       "010", f"C{i:04d}") for i in range(1, 61)]


def write_site(root: Path, url: str, *, secret: str = SECRET, extra: str = "") -> Path:
    """The configuration file of a site uploading to ``url``; returns its path."""
    root.mkdir(parents=True, exist_ok=True)
    secret_file = root / "appsecret"
    write_secret(secret_file, secret)
    config = root / "sitegate.toml"
    config.write_text(f"""[site]
project_code = "{PROJECT}"
gateway_id = "gw-test"
data_dir = "{root / 'data'}"

[uplink]
profile = "national"
url = "{url}"
appid = "{APPID}"
appsecret_file = "{secret_file}"
poll_interval_s = 0.01
timeout_s = 5.0
{extra}
""", encoding="utf-8")
    return config


def load_site(config: Path):
    return loads(config.read_text(encoding="utf-8"), str(config))


def open_store(cfg) -> Store:
    return Store.open(cfg["site"]["data_dir"], uplinks=["national"])


def make_engine(cfg, store, **kw):
    from sitegate.uplink.national.engine import NationalUplink

    kw.setdefault("backoff", Backoff(base_s=0.002, cap_s=0.02))
    kw.setdefault("reconcile_grace_s", 0.0)
    kw.setdefault("workers", 1)
    engine = NationalUplink(cfg, store, **kw)
    engine.idle_sleep_s = 0.02
    return engine


EVENT_BASE = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=30)


def event(n: int, seq: int = 0, *, team: int | None = TEAM_A, direction: Direction = Direction.IN,
          method: Method = Method.CARD, synced: bool = True, denied: bool = False, lane: str = "东门1号闸",
          id_card_type: str = "01", wall: datetime | None = None, location: Location | None = None,
          id_number: str | None = None) -> AttendanceEvent:
    """Worker ``n``'s event; ``seq`` spreads events a second apart (natural keys stay distinct)."""
    return AttendanceEvent(
        event_id=str(uuid7()),
        worker=WorkerRef(id_card_number=id_number or resident_id(n), id_card_type=id_card_type, name=f"工人{n}",
                         team_sys_no=team, team_name=""),
        direction=direction,
        method=method,
        source=Source(device_id="east-gate", lane=lane, driver="test"),
        time=EventTime(wall=wall or EVENT_BASE + timedelta(seconds=seq), mono_ns=1000 + seq, boot_id="boot-1",
                       synced=synced),
        decision=GateDecision(Outcome.DENIED, DenyReason.UNKNOWN) if denied else GateDecision(Outcome.ADMITTED),
        location=location,
    )


def natural_key(ev: AttendanceEvent) -> tuple[str, str, str]:
    return (ev.worker.id_card_number, beijing_time(ev.time.wall), "01" if ev.direction is Direction.IN else "02")


def states(store) -> dict[str, int]:
    rows = store.query("SELECT state, count(*) FROM deliveries WHERE uplink = 'national' GROUP BY state")
    return {r[0]: r[1] for r in rows}


def open_batches(store) -> int:
    return store.query("SELECT count(*) FROM batches WHERE state IN ('queued','sending','sent','unknown')")[0][0]


def drain(engine, store, *, rounds: int = 3000) -> None:
    """Step the engine until no record is pending/inflight and no batch is open (bounded by rounds,
    not by time: a slow machine only takes longer)."""
    for _ in range(rounds):
        busy = engine.step()
        st = states(store)
        if not st.get("pending") and not st.get("inflight") and not open_batches(store):
            return
        if not busy:
            time.sleep(engine.idle_wait())
    raise AssertionError(f"not drained: {states(store)}, batches {engine.ledger.counts()}, {dict(engine.counters)}")


def received_keys(receiver) -> list[tuple[str, str, str]]:
    return [r.key for r in receiver.records("accepted")]
