"""``sitegate run``: one process for the whole site.

Start order: store → roster cache → policy/pipeline → web (listeners bound) → devices → uplink →
READY=1. The main loop supervises devices, refreshes the roster, corrects held events, purges by
retention, records device health for ``sitegate status`` and pings the systemd watchdog only while
every part is alive. SIGTERM stops everything within seconds; SIGHUP reloads the configuration
(devices added/removed/changed restart, the rest keep running; an invalid file is refused).
"""
from __future__ import annotations

import json
import logging
import signal
import ssl
import threading
import time
from typing import Callable

from sitegate.buffer import Store, release_held
from sitegate.buffer.store import MB
from sitegate.buffer.retention import purge
from sitegate.clock import Clock
from sitegate.config import Config, load
from sitegate.daemon import sdnotify
from sitegate.daemon.supervisor import DeviceRunner
from sitegate.errors import ConfigError
from sitegate.pipeline import Pipeline
from sitegate.policy import GatePolicy
from sitegate.roster_cache import RosterCache

log = logging.getLogger(__name__)


def web_tls_context(http_cfg: dict) -> ssl.SSLContext | None:
    """The clerk pages' TLS context from ``[http] cert_file``/``key_file`` (None: plain HTTP).
    The config check already made sure both or neither are set and the key is mode 0600; a file
    that does not load is a configuration error, not a silent fall-back to plain HTTP."""
    cert, key = http_cfg.get("cert_file") or "", http_cfg.get("key_file") or ""
    if not cert:
        return None
    # PROTOCOL_TLS_SERVER with the library defaults: TLS 1.2+ and Python's vetted cipher list
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError([f"http.cert_file / http.key_file: {cert} and {key} cannot be loaded as a "
                           f"PEM certificate and its key: {exc}"]) from None
    return context


class Every:
    """A periodic task in the main loop."""

    def __init__(self, period_s: float, fn: Callable[[], object], name: str, first_after_s: float = 0.0):
        self.period_s, self.fn, self.name = period_s, fn, name
        self.next = time.monotonic() + first_after_s
        self.last_ok = time.monotonic()

    def tick(self, now: float) -> None:
        if now < self.next:
            return
        self.next = now + self.period_s
        try:
            self.fn()
            self.last_ok = now
        except Exception:  # noqa: BLE001 - one task's failure is logged, the loop goes on
            log.exception("periodic task %s failed", self.name)


class Runtime:
    def __init__(self, cfg: Config, *, clock: Clock | None = None, config_path: str | None = None,
                 extra_devices: list[DeviceRunner] | None = None):
        self.cfg = cfg
        self.config_path = config_path
        self.clock = clock or Clock()
        self.stop_event = threading.Event()
        self.reload_requested = threading.Event()
        self.store: Store | None = None
        self.runners: dict[str, DeviceRunner] = {}
        self.uplink = None
        self._uplink_stop = threading.Event()
        self._uplink_thread: threading.Thread | None = None
        self.web = None
        self.web_port: int | None = None
        self.metrics = None
        self.intake = None
        self.loop_beat = time.monotonic()
        self._store_ok_ts = time.monotonic()
        self.tasks: list[Every] = []

    # -- start / stop -------------------------------------------------------------------------
    def start(self) -> None:
        cfg = self.cfg
        self.store = Store.from_config(cfg)
        self.metrics = _make_metrics(self.store, self.devices)
        self.roster = RosterCache(self.store)
        self.policy = GatePolicy.from_config(self.roster, cfg["gate"])
        self._seed_policy()
        self.pipeline = Pipeline(self.store, self.policy, devices={d["id"]: d for d in cfg["devices"]},
                                 metrics=self.metrics)
        self.roster.listeners.append(self._push_roster)
        self._start_intake()
        self._start_web()
        for dev in cfg["devices"]:
            if dev.get("enabled", True):
                self._start_device(dev)
        self._start_uplink()
        self.tasks = [
            Every(2.0, self.roster.refresh, "roster refresh"),
            Every(10.0, self._release_held, "clock correction"),
            Every(10.0, self._record_health, "device health"),
            Every(5.0, self._store_heartbeat, "store heartbeat"),
            Every(3600.0, lambda: purge(self.store, self.cfg["storage"]["retention_days"]), "retention", first_after_s=60.0),
        ]
        minutes = cfg["uplink"].get("roster_sync_minutes", 0)
        if minutes and self.uplink is not None and hasattr(self.uplink, "sync_roster"):
            self.tasks.append(Every(minutes * 60.0, self._sync_roster_async, "roster sync", first_after_s=5.0))
        sdnotify.notify("READY=1")
        sdnotify.notify(f"STATUS={self.status_line()}")
        log.info("sitegate running: %d device(s), uplink %s, web %s", len(self.runners),
                 cfg["uplink"]["profile"] if self.uplink else "off", self.url or "off")

    def stop(self) -> None:
        sdnotify.notify("STOPPING=1")
        self.stop_event.set()
        for runner in list(self.runners.values()):
            runner.stop(timeout=3.0)
        self.runners.clear()
        self._stop_uplink()
        if self.web is not None:
            self.web.stop()
            self.web = None
        if self.intake is not None and hasattr(self.intake, "stop"):
            self.intake.stop()
        if self.store is not None:
            self.store.close()     # the writer finishes what it was given: acknowledged means on disk
            self.store = None
        log.info("sitegate stopped")

    def run_forever(self) -> None:
        """Main loop with signal handling (SIGTERM/SIGINT stop, SIGHUP reload)."""
        signal.signal(signal.SIGTERM, lambda *_: self.stop_event.set())
        signal.signal(signal.SIGINT, lambda *_: self.stop_event.set())
        signal.signal(signal.SIGHUP, lambda *_: self.reload_requested.set())
        self.start()
        try:
            self.loop()
        finally:
            self.stop()

    def loop(self) -> None:
        watchdog = sdnotify.watchdog_interval_s()
        last_ping = 0.0
        while not self.stop_event.is_set():
            now = time.monotonic()
            self.loop_beat = now
            if self.reload_requested.is_set():
                self.reload_requested.clear()
                self.reload()
            for runner in list(self.runners.values()):
                runner.check()
            for task in self.tasks:
                task.tick(now)
            if watchdog and now - last_ping >= watchdog and self.healthy():
                sdnotify.notify("WATCHDOG=1")
                sdnotify.notify(f"STATUS={self.status_line()}")
                last_ping = now
            self.stop_event.wait(0.5)

    # -- parts --------------------------------------------------------------------------------
    def _context_kw(self) -> dict:
        from sitegate.buffer.faces import FaceStore

        return {"clock": self.clock, "state_get": self.store.kv_get, "state_set": self.store.kv_set,
                "roster": self.roster.admitted, "clock_synced": lambda: self.clock.now().synced,
                "faces": FaceStore(self.store)}

    def _start_device(self, dev: dict) -> None:
        runner = DeviceRunner(dev, emit=self.pipeline.emit, make_context_kw=self._context_kw())
        self.runners[dev["id"]] = runner
        runner.start()

    def _start_uplink(self) -> None:
        up = self.cfg["uplink"]
        if not up.get("enabled", True):
            return
        from sitegate.uplink.profiles import make_uplink

        self.uplink = make_uplink(self.cfg, self.store, metrics=self.metrics, clock=self.clock)
        self._uplink_stop = threading.Event()
        self._uplink_thread = threading.Thread(target=self.uplink.run, args=(self._uplink_stop,),
                                               name=f"uplink-{up['profile']}", daemon=True)
        self._uplink_thread.start()

    def _stop_uplink(self) -> None:
        if self.uplink is None:
            return
        self._uplink_stop.set()
        if self._uplink_thread is not None:
            self._uplink_thread.join(8.0)
        self.uplink.close()
        self.uplink = None

    def _start_web(self) -> None:
        try:
            from sitegate.web.context import WebContext
            from sitegate.web.server import WebServer
        except ImportError:
            log.warning("clerk pages not available in this build")
            return
        ctx = WebContext(cfg=self.cfg, store=self.store, roster=self.roster, metrics=self.metrics,
                         devices=self.devices, healthy=self.healthy,
                         clockin=getattr(self.intake, "handle_http", None),
                         uplink_name=self.cfg["uplink"]["profile"] if self.cfg["uplink"]["enabled"] else "",
                         clock=self.clock)
        self.web = WebServer(ctx, self.cfg["http"]["listen"], ssl_context=web_tls_context(self.cfg["http"]))
        self.web_port = self.web.start()

    def _start_intake(self) -> None:
        """Geofence clock-ins from phones (HTTP handler and MQTT subscriber) when fences exist."""
        if not self.cfg.get("geofences"):
            return
        try:
            from sitegate.geofence.intake import ClockInIntake
        except ImportError:
            log.warning("geofences are configured but the clock-in intake is not available in this build")
            return
        self.intake = ClockInIntake(self.cfg, self.store, self.pipeline, metrics=self.metrics, clock=self.clock)
        if hasattr(self.intake, "start"):
            self.intake.start()

    @property
    def url(self) -> str | None:
        if self.web_port is None:
            return None
        host = self.cfg["http"]["listen"].rpartition(":")[0]
        scheme = "https" if self.cfg["http"].get("cert_file") else "http"
        return f"{scheme}://{host}:{self.web_port}/"

    # -- periodic tasks -----------------------------------------------------------------------
    def _push_roster(self, active) -> None:
        for runner in list(self.runners.values()):
            runner.push_roster(active)

    def _release_held(self) -> None:
        release_held(self.store, self.clock.now())

    def _record_health(self) -> None:
        for h in self.devices():
            self.store.kv_set(f"device.{h['id']}.health", json.dumps(h, ensure_ascii=False))

    def _store_heartbeat(self) -> None:
        self.store.kv_set("daemon.heartbeat", str(time.time()))
        self._store_ok_ts = time.monotonic()

    def _sync_roster_async(self) -> None:
        uplink = self.uplink
        threading.Thread(target=lambda: _log_errors(uplink.sync_roster, "roster sync"), name="roster-sync",
                         daemon=True).start()

    def _seed_policy(self) -> None:
        """Anti-passback and repeat detection survive a restart: who went in or out last."""
        rows = self.store.query(
            "SELECT id_hash, direction, lane, max(wall_ts) AS ts FROM events WHERE outcome = 'admitted' "
            "AND id_hash IS NOT NULL AND wall_ts > ? GROUP BY id_hash", (time.time() - 86400,))
        by_hash = {self.store.cipher.index(w.id_card_number): w for w in self.roster.admitted()}
        from sitegate.model import Direction

        for r in rows:
            w = by_hash.get(r["id_hash"])
            if w is not None:
                # far enough in the past that it is not a "repeat", recent enough for anti-passback
                self.policy.seed(w.id_card_number, Direction(r["direction"]), -1e9, r["lane"])

    # -- health -------------------------------------------------------------------------------
    def devices(self) -> list[dict]:
        return [r.health() for r in list(self.runners.values())]

    def healthy(self) -> bool:
        now = time.monotonic()
        if now - self.loop_beat > 10 or now - self._store_ok_ts > 30:
            return False
        if self.uplink is not None and (self._uplink_thread is None or not self._uplink_thread.is_alive()):
            return False
        return True

    def status_line(self) -> str:
        from sitegate.buffer import backlog

        try:
            b = backlog(self.store)
            waiting = sum(s["pending"] + s["inflight"] + s["held"] for s in b.values())
        except Exception:  # noqa: BLE001
            waiting = -1
        up = sum(1 for d in self.devices() if d["state"] == "up")
        return f"backlog {waiting}, devices up {up}/{len(self.runners)}"

    # -- reload -------------------------------------------------------------------------------
    def _apply_storage(self, st: dict) -> None:
        """Limits the store checks on every append apply at once (an operator freeing or
        reserving disk must not need a restart); retention is read by the daily purge."""
        s = self.store
        s.photo_max_bytes, s.quota_bytes = st["photo_max_kb"] * 1024, st["quota_mb"] * MB
        s.min_free_bytes = st["min_free_mb"] * MB
        s._space_checked = 0.0          # look at the disk again on the next append
        log.info("[storage] limits applied: min_free_mb %d, quota_mb %d, photo_max_kb %d",
                 st["min_free_mb"], st["quota_mb"], st["photo_max_kb"])

    def reload(self) -> bool:
        if not self.config_path:
            return False
        try:
            new = load(self.config_path)
        except ConfigError as exc:
            log.error("configuration reload refused, keeping the running one:\n%s", "\n".join(exc.problems))
            return False
        sdnotify.notify("RELOADING=1")
        old = self.cfg
        if new["site"] != old["site"]:
            log.warning("[site] changes take effect at the next restart")
        if new["storage"] != old["storage"]:
            self._apply_storage(new["storage"])
        old_devs = {d["id"]: d for d in old["devices"]}
        new_devs = {d["id"]: d for d in new["devices"] if d.get("enabled", True)}
        for did in list(self.runners):
            if did not in new_devs or new_devs[did] != old_devs.get(did):
                self.runners.pop(did).stop()
                log.info("device %s stopped (removed or changed)", did)
        self.cfg = new
        self.pipeline.devices = {d["id"]: d for d in new["devices"]}
        gate = new["gate"]
        p = self.policy
        p.repeat_window_s, p.anti_passback = gate["repeat_window_s"], gate["anti_passback"]
        p.anti_passback_lanes = set(gate["anti_passback_lanes"])
        p.check_id_card_validity = gate["check_id_card_validity"]
        for did, dev in new_devs.items():
            if did not in self.runners:
                self._start_device(dev)
                log.info("device %s started", did)
        # the uplink is always recreated: a fixed secret must clear a configuration fault
        self._stop_uplink()
        self._start_uplink()
        sdnotify.notify("READY=1")
        log.info("configuration reloaded")
        return True


def _make_metrics(store, devices):
    try:
        from sitegate.metrics import Metrics
    except ImportError:
        return None
    return Metrics(store=store, devices=devices)


def _log_errors(fn, what: str) -> None:
    try:
        fn()
    except Exception:  # noqa: BLE001
        log.exception("%s failed", what)


def run(config_path: str) -> None:
    Runtime(load(config_path), config_path=config_path).run_forever()
