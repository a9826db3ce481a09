"""The demo site: the reference platform, the gateway daemon and a simulator of every device,
with workers coming and going, all on 127.0.0.1. ``stop()`` ends everything it started, in
reverse order; nothing is left running (no threads, no processes: all parts run in-process).

    site = DemoSite(Path("demo-data"), "127.0.0.1:8080")
    cfg_path = site.prepare()   # platform + simulators up, config written, roster/user/faces/phones in the store
    site.start(cfg_path)        # the gateway (Runtime), push terminals, gate traffic, phones
    ...
    site.stop()
"""
from __future__ import annotations

import json
import logging
import shutil
import socket
import threading
import time
from pathlib import Path

from sitegate.demo import config as democfg
from sitegate.demo.people import DemoWorker, roster_csv, workers
from sitegate.errors import UsageError
from sitegate.secrets import write_secret

log = logging.getLogger(__name__)

APPSECRET = "demo0123456789abcdef0123456789AB"   # 32 characters, as the platform issues
DEMO_USER, DEMO_PASSWORD = "clerk", "sitegate-demo"
HIK_USER, HIK_PASSWORD = "admin", "demo-hik-pass"
WG_SERIAL = 223000123
ZK_SERIAL = "CKJ1234567"
MARKER = "demo.json"              # says "this folder is a demo's": only such a folder is wiped
DRIVER_READY_S = 10.0


def free_port() -> int:
    """A port free now, for a listener the configuration must name (see config.py)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo_clock():
    """The demo trusts this computer's clock. A site gateway holds events stamped before NTP has
    synchronised its clock (gateway/clock.py); a laptop or container often reports "not
    synchronised" for good, and the demo would then send nothing to the platform."""
    from sitegate.clock import Clock, kernel_clock_synchronised

    if kernel_clock_synchronised() is False:
        log.info("demo: this computer's clock is not marked synchronised (no NTP); the demo trusts it anyway, "
                 "a site gateway would hold events until it is")
    return Clock(synced=lambda: True)


class DemoSite:
    def __init__(self, data_dir: Path, listen: str = "127.0.0.1:8080", *, rate_s: float = 3.0, seed: int = 7,
                 video: Path | None = None, stop_event: threading.Event | None = None):
        self.dir = Path(data_dir).resolve()
        self.listen = listen
        self.rate_s = rate_s
        self.seed = seed
        self.video = video
        self.people: list[DemoWorker] = workers()
        self.face_worker = self.people[0]               # enrolled from the sample clip
        self.phone_workers = self.people[-2:]           # carry the demo phones
        self.stop_event = stop_event or threading.Event()   # set by stop() (or Ctrl-C); set-up steps check it
        self.parts: list = []                           # things with .stop(), stopped in reverse order
        self.sims: dict[str, object] = {}
        self.runtime = None
        self.receiver = None
        self.enabled: list[str] = []                    # drivers of the devices that run
        self.skipped: dict[str, str] = {}               # part -> why it does not run
        self.phones: list = []
        self.gate_traffic = None
        self.walks = None
        self._loop_thread: threading.Thread | None = None

    # -- set-up -------------------------------------------------------------------------------
    def prepare(self) -> Path:
        """Platform and simulators up, configuration written, roster, clerk login, the camera's
        face and the phones' keys stored. On failure whatever started is stopped again."""
        try:
            return self._prepare()
        except BaseException:
            self.stop()
            raise

    def _prepare(self) -> Path:
        self._fresh_dir()
        write_secret(self.dir / "appsecret", APPSECRET)
        write_secret(self.dir / "hik-password", HIK_PASSWORD)
        (self.dir / "roster.csv").write_text(roster_csv(self.people), encoding="utf-8")
        self._start_receiver()
        devices = self._start_device_sims()
        self._check_camera(devices)
        cfg_text = democfg.render(data_dir=self.dir, platform_url=self.receiver.url, listen=self.listen,
                                  devices=devices, geofence=True)
        path = self.dir / "sitegate.toml"
        path.write_text(cfg_text, encoding="utf-8")
        self._fill_store(path)
        return path

    def _fresh_dir(self) -> None:
        """The demo starts from nothing; it wipes only a folder an earlier demo made (or an empty one)."""
        if self.dir.exists():
            if any(self.dir.iterdir()) and not (self.dir / MARKER).exists():
                raise UsageError(f"{self.dir} exists and is not a demo folder (no {MARKER}): "
                                 "give --data-dir a new or empty folder")
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True, mode=0o700)
        (self.dir / MARKER).write_text("{}\n", encoding="utf-8")

    def _start_receiver(self) -> None:
        from sitegate.receiver import Receiver, parse_roster

        roster = parse_roster(roster_csv(self.people), "roster.csv")
        self.receiver = Receiver(democfg.APPID, APPSECRET, str(self.dir / "platform.db"), roster=roster,
                                 async_delay_s=1.0)
        self.receiver.start()
        self.parts.append(self.receiver)

    def _start_device_sims(self) -> dict[str, dict]:
        """Start the simulators the gateway calls; driver -> its configuration values."""
        from sitegate.drivers.ga467_serial.simulator import Ga467Simulator
        from sitegate.drivers.hik_isapi.simulator import HikTerminalSim
        from sitegate.drivers.wg_udp.simulator import WgSimulator

        tty = self.dir / "ttyIDCARD"
        self.sims["ga467"] = self._started(Ga467Simulator(tty, repeat=False, seed=1))
        wg = self.sims["wg"] = self._started(WgSimulator(WG_SERIAL, "127.0.0.1", 0))
        # the terminal learns where to push once the gateway's driver listens (start())
        hik = self.sims["hik"] = self._started(HikTerminalSim(HIK_USER, HIK_PASSWORD, port=0))
        log.info("demo: simulators up: ID-card reader on %s, WG controller %d on udp %s:%d, "
                 "Hikvision terminal at %s", tty, WG_SERIAL, *wg.address, hik.base_url)
        devices = {
            "ga467-serial": {"tty": democfg.toml_str(tty)},
            "wg-udp": {"wg_port": wg.address[1], "wg_serial": WG_SERIAL},
            "zk-push": {"zk_port": free_port(), "zk_serial": ZK_SERIAL},
            "hik-isapi": {"hik_host": hik.base_url, "hik_push_port": free_port(),
                          "hik_password_file": democfg.toml_str(self.dir / "hik-password")},
        }
        if self.video is not None:
            devices["camera-face"] = {"video": democfg.toml_str(self.video)}
        return devices

    def _started(self, sim):
        sim.start()
        self.parts.append(sim)
        return sim

    def _check_camera(self, devices: dict[str, dict]) -> None:
        from sitegate.demo.faces import face_stack_problem

        why = None
        if self.video is None or not self.video.is_file():
            why = f"the sample video {self.video} is not there (give --video FILE)"
        else:
            problem = face_stack_problem()
            if problem:
                why = f"the face engine is not installed ({problem})"
        if why:
            devices.pop("camera-face", None)
            self.skipped["camera"] = why
            log.warning("demo: camera skipped: %s", why)
        self.enabled = list(devices)

    def _fill_store(self, cfg_path: Path) -> None:
        from sitegate.buffer import Roster, Store
        from sitegate.buffer.roster_csv import parse
        from sitegate.config import load
        from sitegate.demo.faces import enrol_from_video
        from sitegate.demo.phones import register_phones
        from sitegate.web.accounts import Accounts

        cfg = load(cfg_path)
        with Store.from_config(cfg) as store:
            Roster(store).upsert_many(parse((self.dir / "roster.csv").read_bytes()).workers)
            Accounts(store).add(DEMO_USER, DEMO_PASSWORD, display_name="演示劳资员", role="admin", actor="demo")
            log.info("demo: %d workers on the roster, clerk login %s created", len(self.people), DEMO_USER)
            if "camera-face" in self.enabled:
                enrol_from_video(store, self.face_worker.id_card_number, self.video, self.stop_event)
            self.phones = register_phones(store, self.phone_workers, self.dir)
            log.info("demo: phones %s registered", ", ".join(p.phone_id for p in self.phones))

    # -- running ------------------------------------------------------------------------------
    def start(self, cfg_path: Path) -> None:
        from sitegate.config import load
        from sitegate.daemon.runtime import Runtime
        from sitegate.demo.gates import GateTraffic

        self.runtime = Runtime(load(cfg_path), config_path=str(cfg_path), clock=demo_clock())
        self.runtime.start()
        # the daemon's main loop: supervision, roster refresh, device health, watchdog facts
        self._loop_thread = threading.Thread(target=self.runtime.loop, name="demo-gateway-loop", daemon=True)
        self._loop_thread.start()
        if self.runtime.url is None:
            raise UsageError("the clerk pages did not start (see the log above)")
        self._connect_push_terminals()
        self.gate_traffic = GateTraffic(self.sims, self.people, self._pin_of, rate_s=self.rate_s, seed=self.seed)
        self.gate_traffic.start()
        self._start_phones()
        self._write_marker()

    def _connect_push_terminals(self) -> None:
        """Terminals that call the gateway: pointed at their driver's listener once it is bound."""
        from sitegate.drivers.zk_push.simulator import ZkTerminalSim

        zk = self._driver("west-face-zk")
        if zk is not None:
            host, port = zk.address
            self.sims["zk"] = self._started(ZkTerminalSim(f"http://{host}:{port}", ZK_SERIAL, poll_s=1.0))
            log.info("demo: ZKTeco terminal %s calls http://%s:%d", ZK_SERIAL, host, port)
        else:
            self.skipped["zk-push"] = "its driver did not start listening"
        hik = self._driver("west-face-hik")
        if hik is not None:
            host, port = hik.address
            self.sims["hik"].push_url = f"http://{host}:{port}/hik"
            log.info("demo: Hikvision terminal pushes to http://%s:%d/hik", host, port)
        else:
            self.sims.pop("hik", None)
            self.skipped["hik-isapi"] = "its driver did not start listening"

    def _driver(self, device_id: str):
        """The running driver of a device once it listens, or None (logged) if it did not start."""
        runner = self.runtime.runners.get(device_id)
        deadline = time.monotonic() + DRIVER_READY_S
        while runner is not None and time.monotonic() < deadline and not self.stop_event.is_set():
            driver = runner.driver
            if driver is not None and driver.ready.wait(0.1):
                return driver
        if not self.stop_event.is_set():
            log.warning("demo: device %s did not start listening within %.0f s; its terminal is not connected",
                        device_id, DRIVER_READY_S)
        return None

    def _start_phones(self) -> None:
        from sitegate.demo.phones import PhoneWalks
        from sitegate.geofence.fences import parse_fences

        fences, problems = parse_fences(self.runtime.cfg.get("geofences", []))
        if problems or not fences.ids or self.runtime.intake is None:
            self.skipped["phones"] = f"no geofence intake ({problems or 'not started'})"
            log.warning("demo: phones skipped: %s", self.skipped["phones"])
            return
        url = self.runtime.url.rstrip("/") + "/api/clockin"
        self.walks = PhoneWalks(self.phones, fences.by_id(fences.ids[0]), fences, url)
        self.walks.start()

    def _pin_of(self, id_number: str) -> int | None:
        w = self.runtime.roster.by_id(id_number) if self.runtime else None
        return w.pin if w else None

    def _write_marker(self) -> None:
        """What runs where, for scripts and tests (the password is the demo's, printed anyway)."""
        info = {"clerk_url": self.runtime.url, "user": DEMO_USER, "password": DEMO_PASSWORD,
                "platform_url": self.receiver.url, "stats_url": self.stats_url, "devices": self.enabled,
                "phones": [p.phone_id for p in self.phones], "skipped": self.skipped,
                "lanes": {k: v for k, v in democfg.LANES.items() if k in self.enabled or k == "geofence"}}
        (self.dir / MARKER).write_text(json.dumps(info, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    @property
    def stats_url(self) -> str:
        return self.receiver.url.rsplit("/", 1)[0] + "/stats"

    def stop(self) -> None:
        """Stop traffic first, then the gateway (it finishes writing what it acknowledged), then the
        simulators and the platform. Safe to call twice."""
        self.stop_event.set()
        if self.gate_traffic is not None:
            self.gate_traffic.stop()
        if self.walks is not None:
            self.walks.stop()
        if self.runtime is not None:
            self.runtime.stop_event.set()
            if self._loop_thread is not None:
                self._loop_thread.join(timeout=10)
                self._loop_thread = None
            self.runtime.stop()
            self.runtime = None
        for part in reversed(self.parts):
            try:
                part.stop()
            except Exception as exc:  # noqa: BLE001 - one part failing to stop must not keep the others up
                log.warning("demo: stopping %s: %s", type(part).__name__, exc)
        self.parts.clear()
