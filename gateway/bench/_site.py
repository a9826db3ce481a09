"""The site ``sitegate bench daemon`` measures: the reference platform and eight device simulators
in the bench process — 2 GA 467 ID-card readers on pseudo-terminals, 2 WG controllers (one in
controller mode, one online), 2 ZKTeco PUSH and 2 Hikvision ISAPI face terminals — each speaking
its real protocol on loopback, and the gateway's configuration and store for a roster of
thousands (the demo's made-up people, valid GB 11643 numbers). Driver options are the product's
defaults (config/example.toml), so the daemon polls its devices as it would on a site.
"""
from __future__ import annotations

import logging
import random
import socket
import threading
from pathlib import Path

from sitegate.demo.people import DemoWorker, roster_csv, workers
from sitegate.secrets import write_secret

log = logging.getLogger(__name__)

APPID = "BENCHAPPID001"
APPSECRET = "bench123456789abcdef0123456789AB"   # 32 characters, as the platform issues
PROJECT = "370102202300001"
HIK_PASSWORD = "bench-hik-pass"
_rng = random.Random()
PRESENT_S = 1.6          # an ID card lies on the reader this long (the driver polls every 1.0 s)

TEMPLATE = """# sitegate daemon footprint bench — written by gateway/bench/_site.py
[site]
project_code = "{project}"
gateway_id   = "gw-bench"
data_dir     = "{data_dir}"
name         = "footprint bench site"

[uplink]
profile         = "national"
url             = "{platform_url}"
appid           = "{appid}"
appsecret_file  = "{root}/appsecret"
default_team    = 100156750

[http]
listen = "127.0.0.1:{http_port}"

[gate]
repeat_window_s = 10.0
anti_passback   = false
{devices}"""


def free_port() -> int:
    """A free TCP port for a listener the daemon opens later, taken BELOW the kernel's ephemeral
    range: a port the kernel handed out (bind to port 0, or the source port of an outgoing
    connection, of which this site makes many) could be taken again before the daemon binds it."""
    low = _ephemeral_low()
    for _ in range(200):
        port = _rng.randrange(max(1024, low - 12000), low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("bench site: no free port below the ephemeral range")


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as fh:
            return int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


class Lane:
    """One device simulator and how a worker passes it."""

    kind = ""

    def __init__(self, index: int, device_id: str):
        self.index, self.device_id = index, device_id
        self.sim = None
        self.lock = threading.Lock()      # one passage at a time at a gate

    def start(self, root: Path) -> str:
        """Start the simulator; the ``[[devices]]`` table for the gateway."""
        raise NotImplementedError

    def pass_(self, worker: DemoWorker, pin: int, going_in: bool) -> None:
        raise NotImplementedError

    def ready(self, n_workers: int) -> bool:
        """The roster is on the device (for the devices the gateway pushes it to)."""
        return True

    def waiting(self) -> int:
        """Records the device still holds for the gateway."""
        return 0

    def stop(self) -> None:
        if self.sim is not None:
            self.sim.stop()


class IdCardLane(Lane):
    kind = "ga467-serial"

    def start(self, root: Path) -> str:
        from sitegate.drivers.ga467_serial.simulator import Ga467Simulator

        link = root / f"ttyIDCARD{self.index}"
        self.sim = Ga467Simulator(link, repeat=False, seed=self.index).start()
        return (f'\n[[devices]]\nid = "{self.device_id}"\ndriver = "ga467-serial"\nlane = "ID gate {self.index}"\n'
                f'direction = "in"\nport = "{link}"\n')

    def pass_(self, worker: DemoWorker, pin: int, going_in: bool) -> None:
        import time

        from sitegate.drivers.ga467_serial.card import card_from_dict

        card = card_from_dict({"name": worker.name, "id_number": worker.id_card_number, "valid_to": "20351231",
                               "birth": worker.id_card_number[6:14]})
        self.sim.present(card, for_seconds=PRESENT_S)
        time.sleep(PRESENT_S + 0.2)       # the next worker waits until the card is taken away


class WgLane(Lane):
    kind = "wg-udp"

    def __init__(self, index: int, device_id: str, mode: str):
        super().__init__(index, device_id)
        self.mode = mode
        self.serial = 223000200 + index

    def start(self, root: Path) -> str:
        from sitegate.drivers.wg_udp.simulator import WgSimulator

        self.sim = WgSimulator(self.serial, "127.0.0.1", 0).start()
        return (f'\n[[devices]]\nid = "{self.device_id}"\ndriver = "wg-udp"\nlane = "turnstile {self.index}"\n'
                f'direction = "device"\nhost = "127.0.0.1"\nport = {self.sim.address[1]}\nserial = {self.serial}\n'
                f'mode = "{self.mode}"\nlisten = "127.0.0.1:0"\n')

    def pass_(self, worker: DemoWorker, pin: int, going_in: bool) -> None:
        self.sim.swipe(int(worker.card_no), door=1, direction="in" if going_in else "out")

    def ready(self, n_workers: int) -> bool:
        return self.mode != "controller" or len(self.sim.controller.privileges) >= n_workers

    def waiting(self) -> int:
        c = self.sim.controller
        return max(0, c.records.newest - c.read_index) if self.mode == "controller" else 0


class ZkLane(Lane):
    kind = "zk-push"

    def __init__(self, index: int, device_id: str):
        super().__init__(index, device_id)
        self.port = free_port()

    def start(self, root: Path) -> str:
        from sitegate.drivers.zk_push.simulator import ZkTerminalSim

        # the terminal calls the gateway; it keeps retrying until the daemon listens (as a real one does)
        self.sim = ZkTerminalSim(f"http://127.0.0.1:{self.port}", f"CKJBENCH{self.index:03d}", retry_s=2.0).start()
        return (f'\n[[devices]]\nid = "{self.device_id}"\ndriver = "zk-push"\nlane = "face zk {self.index}"\n'
                f'direction = "device"\nlisten = "127.0.0.1:{self.port}"\nserial = "CKJBENCH{self.index:03d}"\n')

    def pass_(self, worker: DemoWorker, pin: int, going_in: bool) -> None:
        self.sim.punch(str(pin), verify="face", status=0 if going_in else 1)

    def ready(self, n_workers: int) -> bool:
        return len(self.sim.users) >= n_workers     # the users the gateway sends, a batch per poll

    def waiting(self) -> int:
        return self.sim.unsent


class HikLane(Lane):
    kind = "hik-isapi"

    def __init__(self, index: int, device_id: str):
        super().__init__(index, device_id)
        self.push_port = free_port()

    def start(self, root: Path) -> str:
        from sitegate.drivers.hik_isapi.simulator import HikTerminalSim

        self.sim = HikTerminalSim("admin", HIK_PASSWORD, host="127.0.0.1", port=0,
                                  push_url=f"http://127.0.0.1:{self.push_port}/", retry_s=2.0).start()
        return (f'\n[[devices]]\nid = "{self.device_id}"\ndriver = "hik-isapi"\nlane = "face hik {self.index}"\n'
                f'direction = "device"\nhost = "{self.sim.base_url}"\nusername = "admin"\n'
                f'password_file = "{root}/hik-password"\nlisten = "127.0.0.1:{self.push_port}"\n')

    def pass_(self, worker: DemoWorker, pin: int, going_in: bool) -> None:
        self.sim.pass_(str(pin), verify="face", status="checkIn" if going_in else "checkOut")

    def ready(self, n_workers: int) -> bool:
        return len(self.sim.users) >= n_workers

    def waiting(self) -> int:
        return self.sim.waiting


def eight_lanes() -> list[Lane]:
    return [IdCardLane(1, "idcard-1"), IdCardLane(2, "idcard-2"),
            WgLane(1, "turnstile-1", "controller"), WgLane(2, "turnstile-2", "online"),
            ZkLane(1, "face-zk-1"), ZkLane(2, "face-zk-2"), HikLane(1, "face-hik-1"), HikLane(2, "face-hik-2")]


class BenchSite:
    """Platform + simulators + the gateway's files. ``start()`` then ``stop()``."""

    def __init__(self, root: Path, n_workers: int, seed: int = 20261128):
        self.root = Path(root).resolve()
        self.config = self.root / "sitegate.toml"
        self.data_dir = self.root / "gateway"
        self.people = workers(n_workers, seed=seed)
        self.pins: dict[str, int] = {}
        self.lanes = eight_lanes()
        self.receiver = None

    def start(self) -> Path:
        """Write secrets, roster, start the platform and the simulators, write the config, import
        the roster into the gateway's store (as ``sitegate roster import`` does); the config path."""
        from sitegate.receiver import Receiver, parse_roster

        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_secret(self.root / "appsecret", APPSECRET)
        write_secret(self.root / "hik-password", HIK_PASSWORD)
        csv_text = roster_csv(self.people)
        (self.root / "roster.csv").write_text(csv_text, encoding="utf-8")
        self.receiver = Receiver(APPID, APPSECRET, str(self.root / "platform.db"),
                                 roster=parse_roster(csv_text, "roster.csv"), async_delay_s=1.0)
        self.receiver.start()
        devices = "".join(lane.start(self.root) for lane in self.lanes)
        self.config.write_text(TEMPLATE.format(project=PROJECT, data_dir=self.data_dir, platform_url=self.receiver.url,
                                               appid=APPID, root=self.root, http_port=free_port(), devices=devices),
                               encoding="utf-8")
        self._import_roster()
        return self.config

    def _import_roster(self) -> None:
        from sitegate.buffer import Roster, Store
        from sitegate.buffer.roster_csv import parse
        from sitegate.config import load

        with Store.from_config(load(self.config)) as store:
            roster = Roster(store)
            roster.upsert_many(parse((self.root / "roster.csv").read_bytes()).workers)
            self.pins = {w.id_card_number: int(w.pin) for w in roster.all()}

    def devices_ready(self) -> bool:
        return all(lane.ready(len(self.people)) for lane in self.lanes)

    def devices_waiting(self) -> int:
        return sum(lane.waiting() for lane in self.lanes)

    def platform_records(self) -> int:
        return int(self.receiver.stats()["records"]) if self.receiver is not None else 0

    def stop(self) -> None:
        for lane in reversed(self.lanes):
            try:
                lane.stop()
            except Exception as exc:  # noqa: BLE001 - stop the others all the same
                log.warning("bench site: stopping %s: %s", lane.device_id, exc)
        if self.receiver is not None:
            self.receiver.stop()
