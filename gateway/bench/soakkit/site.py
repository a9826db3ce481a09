"""The soak site on disk: the roster, the gateway's configuration, its store prepared before the
first start (roster imported, phone keys issued), and the fault knobs that live in the config.

The roster is the demo's (gateway/demo/people.py: valid GB 11643 ID numbers from a fixed seed);
the reference platform serves the same roster. PINs are read back from the store after the
import, as the face terminals know workers by PIN.
"""
from __future__ import annotations

import logging
import re
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

from sitegate.demo.people import DemoWorker, roster_csv, workers
from sitegate.secrets import write_secret

log = logging.getLogger(__name__)

APPID = "SOAKAPPID0001"
APPSECRET = "soak0123456789abcdef0123456789AB"   # 32 characters, as the platform issues
PROJECT = "370102202300001"
DEFAULT_TEAM = 100156750
HIK_PASSWORD = "soak-hik-pass"
FENCE_CENTER = (117.1205, 36.6512)               # WGS-84; the phones walk in from the west
FENCE_RADIUS_M = 120.0

TEMPLATE = """# sitegate soak site — written by the soak harness (gateway/bench/soakkit/site.py)
[site]
project_code = "{project}"
gateway_id   = "gw-soak"
data_dir     = "{data_dir}"
name         = "soak site"

[uplink]
profile         = "national"
url             = "{platform_url}"
appid           = "{appid}"
appsecret_file  = "{root}/appsecret"
default_team    = {team}
poll_interval_s = 1.0
timeout_s       = 5.0
roster_sync_minutes = 0

[http]
listen = "127.0.0.1:{http_port}"

[storage]
min_free_mb = {min_free_mb}

[gate]
repeat_window_s = 10.0
anti_passback   = false

[geofence]
dwell_s         = 3.0
stale_s         = 60.0
rate_per_minute = 120.0
rate_burst      = 60
{fences}{devices}"""

FENCE = """
[[geofences]]
id        = "soak-fence"
crs       = "wgs84"
center    = [{lng}, {lat}]
radius_m  = {radius}
lane      = "{lane}"
direction = "both"
"""

MIN_FREE_RE = re.compile(r"^min_free_mb = \d+$", re.MULTILINE)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Person:
    """A worker of the soak roster as the harness needs them."""

    worker: DemoWorker
    pin: int = 0
    id_hash: str = ""
    phone_id: str = ""
    phone_key: bytes = b""

    @property
    def id_number(self) -> str:
        return self.worker.id_card_number

    @property
    def card(self) -> int:
        return int(self.worker.card_no)


class SiteFiles:
    """The site's directory: config, secrets, the gateway's data dir, the platform's db."""

    def __init__(self, root: Path, n_workers: int, seed: int):
        self.root = Path(root).resolve()
        self.data_dir = self.root / "gateway"
        self.config = self.root / "sitegate.toml"
        self.platform_db = self.root / "platform.db"
        self.people = [Person(w) for w in workers(n_workers, seed=seed)]
        self.http_port = free_port()
        self._text = ""

    def prepare_dirs(self) -> None:
        if self.root.exists():
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True, mode=0o700)
        write_secret(self.root / "appsecret", APPSECRET)
        write_secret(self.root / "hik-password", HIK_PASSWORD)
        (self.root / "roster.csv").write_text(roster_csv([p.worker for p in self.people]), encoding="utf-8")

    @property
    def clockin_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/api/clockin"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def write_config(self, platform_url: str, devices: str, fence_lane: str | None, min_free_mb: int = 100) -> None:
        fences = ""
        if fence_lane:
            fences = FENCE.format(lng=FENCE_CENTER[0], lat=FENCE_CENTER[1], radius=FENCE_RADIUS_M, lane=fence_lane)
        self._text = TEMPLATE.format(project=PROJECT, data_dir=self.data_dir, platform_url=platform_url, appid=APPID,
                                     root=self.root, team=DEFAULT_TEAM, http_port=self.http_port,
                                     min_free_mb=min_free_mb, fences=fences, devices=devices)
        self.config.write_text(self._text, encoding="utf-8")

    def set_min_free_mb(self, mb: int) -> None:
        """Rewrite ``[storage] min_free_mb`` (the disk-full fault); the rest of the file is kept."""
        text, n = MIN_FREE_RE.subn(f"min_free_mb = {int(mb)}", self.config.read_text(encoding="utf-8"))
        if n != 1:
            raise RuntimeError(f"{self.config}: no single min_free_mb line to rewrite")
        tmp = self.config.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(self.config)   # atomic: a reload never reads half a file

    def prepare_store(self, phone_people: list[Person]) -> None:
        """Import the roster, issue the phones' keys, learn PINs and blind-index hashes."""
        from sitegate.buffer import Roster, Store
        from sitegate.buffer.roster_csv import parse
        from sitegate.config import load
        from sitegate.geofence.phones import PhoneRegistry

        cfg = load(self.config)
        with Store.from_config(cfg) as store:
            Roster(store).upsert_many(parse((self.root / "roster.csv").read_bytes()).workers)
            pins = {w.id_card_number: w.pin for w in Roster(store).all()}
            for p in self.people:
                p.pin = int(pins[p.id_number])
                p.id_hash = store.cipher.index(p.id_number)
            registry = PhoneRegistry(store)
            for n, p in enumerate(phone_people, start=1):
                record, key = registry.issue(p.id_number, phone_id=f"P-SOAK-{n:03d}", actor="soak")
                p.phone_id, p.phone_key = record.phone_id, key

    def platform_roster(self):
        from sitegate.receiver import parse_roster

        return parse_roster(roster_csv([p.worker for p in self.people]), "roster.csv")
