"""The national uplink against the reference platform with added latency: events/s delivered
(receipt AND asynchronous result) by the batched engine vs one WorkerAttendance.Add per event sent
one after the other (how simple sync tools do it), measured in the same run; and the CPU time per
event spent preparing a batch (AES of the ID numbers, JSON, signature)."""
from __future__ import annotations

import os
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sitegate.bench import Figure, check

DESCRIPTION = "national uplink: events/s delivered, batched engine vs one request per event; CPU per event"

APPID = "BENCHAPPID0001"
SECRET = "0123456789abcdef0123456789ABCDEF"  # the reference's dummy secret
PROJECT = "370102202300001"
TEAM = 100156750


def add_arguments(p) -> None:
    p.add_argument("--events", type=int, default=4000, help="events the engine delivers (default %(default)s)")
    p.add_argument("--baseline-events", type=int, default=150,
                   help="events sent one request each (default %(default)s)")
    p.add_argument("--latency-ms", type=int, default=20, help="latency the platform adds (default %(default)s)")
    p.add_argument("--workers", type=int, default=4, help="engine worker threads (default %(default)s)")
    p.add_argument("--dir", default=None, help="where to put the store (default: a temp dir on /var/tmp)")


def _id(n: int) -> str:
    from sitegate.idcard import check_digit

    first17 = f"37010219900101{n % 1000:03d}"
    return first17 + check_digit(first17)


def _events(n: int, start: datetime) -> list:
    from sitegate.ids import uuid7
    from sitegate.model import AttendanceEvent, Direction, EventTime, Method, Source, WorkerRef

    return [AttendanceEvent(
        event_id=str(uuid7()),
        worker=WorkerRef(id_card_number=_id(i % 500), name="张三", team_sys_no=TEAM),
        direction=Direction.IN if i % 2 else Direction.OUT, method=Method.CARD,
        source=Source(device_id="east-gate", lane="东门1号闸", driver="bench"),
        time=EventTime(wall=start + timedelta(seconds=i), mono_ns=i, boot_id="bench", synced=True),
    ) for i in range(n)]


def _items(n: int, start: datetime) -> list[dict]:
    from sitegate.uplink.national.codec import attendance_item

    return [attendance_item(_id(i % 500), start + timedelta(seconds=i), "01" if i % 2 else "02", "006", "东门1号闸")
            for i in range(n)]


def _config(base: Path, url: str):
    from sitegate.config import loads
    from sitegate.secrets import write_secret

    write_secret(base / "appsecret", SECRET)
    return loads(f"""[site]
project_code = "{PROJECT}"
gateway_id = "bench"
data_dir = "{base / 'data'}"

[uplink]
url = "{url}"
appid = "{APPID}"
appsecret_file = "{base / 'appsecret'}"
poll_interval_s = 0.05
""", "bench.toml")


def _engine_rate(base: Path, url: str, events: list, workers: int) -> float:
    """Events/s from the first send to the last delivery confirmed."""
    from sitegate.buffer import Store
    from sitegate.uplink.national.engine import NationalUplink

    cfg = _config(base, url)
    with Store.open(cfg["site"]["data_dir"], uplinks=["national"]) as store:
        for f in [store.submit_append(ev) for ev in events]:
            f.result()
        engine = NationalUplink(cfg, store, workers=workers)
        engine.idle_sleep_s = 0.01
        stop = threading.Event()
        runner = threading.Thread(target=engine.run, args=(stop,), name="bench-uplink")
        t0 = time.perf_counter()
        runner.start()
        try:
            while store.query("SELECT count(*) FROM deliveries WHERE state = 'delivered'")[0][0] < len(events):
                time.sleep(0.01)
            elapsed = time.perf_counter() - t0
        finally:
            stop.set()
            runner.join()
            engine.close()
    return len(events) / elapsed


def _baseline_rate(url: str, items: list[dict]) -> float:
    from sitegate.uplink.national import NationalClient

    with NationalClient(url, APPID, SECRET) as client:
        t0 = time.perf_counter()
        for item in items:
            client.attendance_add(PROJECT, TEAM, [item])
        return len(items) / (time.perf_counter() - t0)


def _prepare_cpu_ms(items: list[dict]) -> float:
    """process_time per event over building complete signed forms of 20 records each."""
    from sitegate.uplink.national import NationalClient

    client = NationalClient("http://127.0.0.1:9/open.api", APPID, SECRET)
    t0 = time.process_time()
    for i in range(0, len(items), 20):
        client.build_attendance_add_form(PROJECT, TEAM, items[i:i + 20])
    used = time.process_time() - t0
    client.close()
    return used / len(items) * 1000


def run(args) -> list[Figure]:
    from sitegate.receiver import Faults, Receiver

    base_dir = args.dir or ("/var/tmp" if os.path.isdir("/var/tmp") else None)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    engine_events = _events(args.events, now - timedelta(hours=3))
    baseline_items = _items(args.baseline_events, now - timedelta(hours=5))
    with tempfile.TemporaryDirectory(prefix="sitegate-bench-uplink-", dir=base_dir) as tmp:
        base = Path(tmp)
        rx = Receiver(APPID, SECRET, str(base / "platform.db"), faults=Faults(latency_ms=args.latency_ms))
        rx.start()
        try:
            baseline = _baseline_rate(rx.url, baseline_items)
            calls_before = sum(rx.stats()["codes"].values())
            ours = _engine_rate(base, rx.url, engine_events, args.workers)
            calls = sum(rx.stats()["codes"].values()) - calls_before
            received = rx.stats()["records"]
        finally:
            rx.stop()
    expected = len(engine_events) + len(baseline_items)
    if received != expected:
        raise RuntimeError(f"the platform holds {received} records, expected {expected}")
    cpu_ms = _prepare_cpu_ms(_items(args.events, now - timedelta(hours=7)))
    return [
        Figure(f"events/s delivered (receipt + async result), {args.latency_ms} ms platform latency", ours, "ev/s",
               baseline=baseline, baseline_name="one WorkerAttendance.Add per event, sequential",
               target=">= 20x baseline", met=check(ours / baseline, ">=", 20)),
        Figure("platform calls per 1,000 events delivered (adds + result polls)", calls / len(engine_events) * 1000,
               "calls", baseline=1000.0, baseline_name="one call per event"),
        Figure("CPU per event preparing batches (AES + JSON + SHA-256 sign)", cpu_ms, "ms",
               target="<= 0.2 ms", met=check(cpu_ms, "<=", 0.2)),
    ]
