"""The demo site: the reference platform, the gateway daemon and a simulator of every device,
with workers coming and going, all on loopback. Ctrl-C stops everything cleanly."""
from __future__ import annotations

import importlib.util
import logging
import random
import shutil
import socket
import threading
import time
from pathlib import Path

from sitegate.demo import config as democfg
from sitegate.demo.people import DemoWorker, roster_csv, workers
from sitegate.secrets import write_secret

log = logging.getLogger(__name__)

APPSECRET = "demo0123456789abcdef0123456789AB"   # 32 characters, as the platform issues
DEMO_USER, DEMO_PASSWORD = "clerk", "sitegate-demo"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


class DemoSite:
    def __init__(self, data_dir: Path, listen: str = "127.0.0.1:8080", *, rate_s: float = 3.0, seed: int = 7,
                 video: Path | None = None):
        self.dir = Path(data_dir).resolve()
        self.listen = listen
        self.rate_s = rate_s
        self.rng = random.Random(seed)
        self.video = video
        self.people: list[DemoWorker] = workers()
        self.stop_event = threading.Event()
        self.parts: list = []           # things with .stop(), stopped in reverse order
        self.sims: dict[str, object] = {}
        self.runtime = None
        self.receiver = None
        self.enabled: list[str] = []

    # -- set-up -------------------------------------------------------------------------------
    def prepare(self) -> Path:
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True, mode=0o700)
        write_secret(self.dir / "appsecret", APPSECRET)
        write_secret(self.dir / "hik-password", "demo-hik-pass")
        (self.dir / "roster.csv").write_text(roster_csv(self.people), encoding="utf-8")
        self._start_receiver()
        ports = {"wg_port": 0, "zk_port": free_port(), "hik_port": 0, "hik_push_port": free_port()}
        devices = ""
        for driver, text in democfg.DEVICES.items():
            if not self._want(driver):
                continue
            if driver == "wg-udp":
                ports["wg_port"] = self._start_wg()
            if driver == "ga467-serial":
                self._start_ga467()
            if driver == "hik-isapi":
                ports["hik_port"] = self._start_hik(ports["hik_push_port"])
            devices += text
            self.enabled.append(driver)
        geofences = democfg.GEOFENCE if available("sitegate.geofence.intake") else ""
        devices = devices.format(data_dir=self.dir, video=self.video or "", **ports)
        cfg_text = democfg.TEMPLATE.format(data_dir=self.dir, platform_url=self.receiver.url, listen=self.listen,
                                           devices=devices, geofences=geofences)
        path = self.dir / "sitegate.toml"
        path.write_text(cfg_text, encoding="utf-8")
        self._import_roster(path)
        return path

    def _want(self, driver: str) -> bool:
        from sitegate.drivers.registry import BUILTIN

        module = BUILTIN[driver].partition(":")[0]
        if not available(module):
            log.info("demo: no %s driver in this build; skipping that device", driver)
            return False
        if driver == "camera-face":
            if not self.video or not self.video.exists() or not available("face_recognition"):
                log.info("demo: camera skipped (needs the face extra and the sample video)")
                return False
        return True

    def _start_receiver(self) -> None:
        from sitegate.receiver import Receiver, parse_roster

        roster = parse_roster(roster_csv(self.people), "roster.csv")
        self.receiver = Receiver("DEMOAPPID0001", APPSECRET, str(self.dir / "platform.db"), roster=roster,
                                 async_delay_s=1.0)
        self.receiver.start()
        self.parts.append(self.receiver)

    def _start_ga467(self) -> None:
        from sitegate.drivers.ga467_serial.simulator import Ga467Simulator

        sim = Ga467Simulator(self.dir / "ttyIDCARD", repeat=False, seed=1)
        sim.start()
        self.sims["ga467"] = sim
        self.parts.append(sim)

    def _start_wg(self) -> int:
        from sitegate.drivers.wg_udp.simulator import WgSimulator

        sim = WgSimulator(223000123, "127.0.0.1", 0)
        sim.start()
        self.sims["wg"] = sim
        self.parts.append(sim)
        return sim.address[1]

    def _start_hik(self, push_port: int) -> int:
        from sitegate.drivers.hik_isapi.simulator import HikTerminalSim

        sim = HikTerminalSim(host="127.0.0.1", port=0, push_url=f"http://127.0.0.1:{push_port}/",
                             username="admin", password="demo-hik-pass")
        port = sim.start()
        self.sims["hik"] = sim
        self.parts.append(sim)
        return port

    def _import_roster(self, cfg_path: Path) -> None:
        from sitegate.buffer import Roster, Store
        from sitegate.buffer.roster_csv import parse
        from sitegate.config import load

        cfg = load(cfg_path)
        with Store.from_config(cfg) as store:
            Roster(store).upsert_many(parse((self.dir / "roster.csv").read_bytes()).workers)
            try:
                from sitegate.web.accounts import create_user

                create_user(store, DEMO_USER, DEMO_PASSWORD, display_name="演示劳资员", role="admin")
            except ImportError:
                pass

    # -- running ------------------------------------------------------------------------------
    def start(self, cfg_path: Path) -> None:
        from sitegate.config import load
        from sitegate.daemon.runtime import Runtime

        self.runtime = Runtime(load(cfg_path), config_path=str(cfg_path))
        self.runtime.start()
        self._start_terminal_sims()
        threading.Thread(target=self._scenario, name="demo-scenario", daemon=True).start()

    def _start_terminal_sims(self) -> None:
        """Simulators that call the gateway (push) start once its listeners are up."""
        if "zk-push" in self.enabled:
            from sitegate.drivers.zk_push.simulator import ZkTerminalSim

            dev = next(d for d in self.runtime.cfg["devices"] if d["driver"] == "zk-push")
            sim = ZkTerminalSim(server=f"http://{dev['listen']}", serial=dev["serial"])
            sim.start()
            self.sims["zk"] = sim
            self.parts.append(sim)

    def _scenario(self) -> None:
        """Every few seconds someone passes a gate; now and then a stranger tries."""
        inside: set[str] = set()
        while not self.stop_event.wait(self.rate_s * self.rng.uniform(0.5, 1.5)):
            try:
                self._one_passage(inside)
            except Exception as exc:  # noqa: BLE001 - the demo goes on
                log.warning("demo scenario: %s", exc)

    def _one_passage(self, inside: set[str]) -> None:
        p = self.rng.choice(self.people)
        going_in = p.id_card_number not in inside
        gates = [g for g in ("ga467", "wg", "zk", "hik") if g in self.sims]
        if not gates:
            return
        gate = self.rng.choice(gates if going_in else [g for g in gates if g != "ga467"] or gates)
        if gate == "ga467":
            from sitegate.drivers.ga467_serial.card import card_from_dict

            stranger = self.rng.random() < 0.1
            card = card_from_dict({"name": "路人甲" if stranger else p.name,
                                   "id_number": "370102199001011239" if stranger else p.id_card_number,
                                   "valid_to": "20351231", "birth": p.id_card_number[6:14]})
            self.sims["ga467"].present(card, for_seconds=1.5)
        elif gate == "wg":
            self.sims["wg"].swipe(int(p.card_no), door=1, direction="in" if going_in else "out")
        elif gate == "zk":
            pin = self._pin(p)
            if pin is not None:
                self.sims["zk"].punch(str(pin), verify="face", status=0 if going_in else 1)
        elif gate == "hik":
            pin = self._pin(p)
            if pin is not None:
                self.sims["hik"].pass_(str(pin), verify="face", status="checkIn" if going_in else "checkOut")
        (inside.add if going_in else inside.discard)(p.id_card_number)

    def _pin(self, p: DemoWorker) -> int | None:
        w = self.runtime.roster.by_id(p.id_card_number) if self.runtime else None
        return w.pin if w else None

    def stop(self) -> None:
        self.stop_event.set()
        if self.runtime is not None:
            self.runtime.stop_event.set()
            self.runtime.stop()
        for part in reversed(self.parts):
            try:
                part.stop()
            except Exception as exc:  # noqa: BLE001
                log.warning("demo: stopping %s: %s", type(part).__name__, exc)
