"""``sitegate doctor``: what is wrong with this installation, and the fix — one line per check."""
from __future__ import annotations

import os
import shutil
import socket
import stat
from dataclasses import dataclass
from pathlib import Path

OK, WARN, FAIL = "ok", "warn", "FAIL"


@dataclass
class Check:
    name: str
    verdict: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        fix = f" — fix: {self.fix}" if self.fix and self.verdict != OK else ""
        return f"[{self.verdict:>4}] {self.name}: {self.detail}{fix}"


def run_checks(config_path: str, *, network: bool = True) -> list[Check]:
    from sitegate.config import load
    from sitegate.errors import ConfigError

    try:
        cfg = load(config_path)
    except ConfigError as exc:
        return [Check("configuration", FAIL, f"{len(exc.problems)} problem(s): " + "; ".join(exc.problems[:3]),
                      f"sitegate config check -c {config_path}")]
    checks = [Check("configuration", OK, f"{config_path} is valid")]
    checks += _data_dir(cfg)
    checks.append(_clock())
    checks += _devices(cfg)
    checks.append(_listen(cfg))
    if network:
        checks.append(_platform(cfg))
    return checks


def _data_dir(cfg) -> list[Check]:
    d = Path(cfg["site"]["data_dir"])
    out = []
    if not d.exists():
        parent = d.parent
        ok = os.access(parent, os.W_OK)
        out.append(Check("data directory", OK if ok else FAIL, f"{d} does not exist yet" + ("; it will be created" if ok else ""),
                         f"mkdir -p {d} && chown sitegate: {d} (systemd's StateDirectory= does this)"))
        return out
    writable = os.access(d, os.W_OK | os.X_OK)
    out.append(Check("data directory", OK if writable else FAIL, f"{d} {'is' if writable else 'is not'} writable by uid {os.getuid()}",
                     f"chown -R sitegate: {d}"))
    free_mb = shutil.disk_usage(d).free // (1024 * 1024)
    need = cfg["storage"]["min_free_mb"]
    verdict = OK if free_mb > 4 * need else WARN if free_mb > need else FAIL
    out.append(Check("disk space", verdict, f"{free_mb} MB free (events are refused below {need} MB)",
                     "free space on the data disk or lower [storage] retention_days"))
    key = d / "keys" / "master.key"
    if key.exists():
        mode = stat.S_IMODE(key.stat().st_mode)
        out.append(Check("key file", OK if mode & 0o077 == 0 else FAIL, f"{key} mode {mode:04o}", f"chmod 600 {key}"))
    db = d / "sitegate.db"
    if db.exists():
        from sitegate.buffer.db import integrity_problem

        problem = integrity_problem(db, full=True)
        out.append(Check("database", OK if problem is None else FAIL, "integrity check passed" if problem is None else problem,
                         "stop the service; the gateway moves a corrupt database aside at its next start"))
    return out


def _clock() -> Check:
    from sitegate.clock import kernel_clock_synchronised

    synced = kernel_clock_synchronised()
    if synced:
        return Check("clock", OK, "the system clock is synchronised")
    return Check("clock", WARN, "the system clock is not synchronised: events are held until it is",
                 "enable time sync: timedatectl set-ntp true (systemd-timesyncd) or install chrony")


def _devices(cfg) -> list[Check]:
    from sitegate.drivers.registry import driver_class

    out = []
    for dev in cfg["devices"]:
        name = f"device {dev['id']} ({dev['driver']})"
        if not dev.get("enabled", True):
            out.append(Check(name, OK, "disabled"))
            continue
        port = dev.get("port")
        if isinstance(port, str) and port:   # a serial device path; network drivers use an int port
            out.append(_serial_port(name, port))
        try:
            cls = driver_class(dev["driver"])
            problem = cls.probe(dev)
        except Exception as exc:  # noqa: BLE001 - a probe must never crash the doctor
            problem = f"probe failed: {exc}"
            cls = None
        if problem:
            out.append(Check(name, FAIL, problem, "check cabling, power and the address in the configuration"))
        else:
            note = getattr(cls, "PROBE_NOTE", "") if cls is not None and cls.probe.__func__ is _base_probe() else ""
            out.append(Check(name, OK, note or "answered"))
    return out


def _base_probe():
    from sitegate.drivers.api import Driver

    return Driver.probe.__func__


def _serial_port(name: str, port: str) -> Check:
    p = Path(port)
    if not p.exists():
        return Check(name, FAIL, f"{port} does not exist", "plug the reader in; check `ls /dev/ttyUSB* /dev/serial/by-id/`")
    try:
        mode = p.stat().st_mode
    except OSError as exc:
        return Check(name, FAIL, f"{port}: {exc.strerror}")
    if not stat.S_ISCHR(mode):
        return Check(name, WARN, f"{port} is not a character device")
    if not os.access(p, os.R_OK | os.W_OK):
        return Check(name, FAIL, f"{port} is not readable and writable by uid {os.getuid()}",
                     "add the service user to the dialout group (the unit file does: SupplementaryGroups=dialout)")
    return Check(name, OK, f"{port} present and accessible")


def _listen(cfg) -> Check:
    listen = cfg["http"]["listen"]
    host, _, port = listen.rpartition(":")
    if int(port) == 0:
        return Check("web listener", OK, "any free port")
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host.strip("[]"), int(port)))
        return Check("web listener", OK, f"{listen} is free")
    except OSError as exc:
        return Check("web listener", WARN, f"{listen}: {exc.strerror} (is the daemon already running?)",
                     "if sitegate is not running, pick another [http] listen port")


def _platform(cfg) -> Check:
    up = cfg["uplink"]
    if not up["enabled"]:
        return Check("platform", WARN, "uplink disabled: events stay on this gateway", "set [uplink] enabled = true")
    if up["profile"] == "national":
        try:
            from sitegate.uplink.national.client import NationalClient

            client = NationalClient(up["url"], up["appid"], cfg.secret("uplink.appsecret_file"),
                                    ca_file=up["ca_file"] or None, timeout=(5, 10))
            client.check_sign()
            return Check("platform", OK, f"{up['url']} accepted our credentials (CheckSign.Query)")
        except Exception as exc:  # noqa: BLE001 - the verdict is the point
            return Check("platform", FAIL, f"{up['url']}: {exc}",
                         "check url, appid and the appsecret file; ask the platform to allow this IP")
    target = up["mqtt"]["host"] + ":" + str(up["mqtt"]["port"]) if up["profile"] == "mqtt" else up["webhook"]["url"]
    host, port = (up["mqtt"]["host"], up["mqtt"]["port"]) if up["profile"] == "mqtt" else _url_host_port(target)
    try:
        socket.create_connection((host, port), timeout=5).close()
        return Check("platform", OK, f"{target} reachable")
    except OSError as exc:
        return Check("platform", FAIL, f"{target}: {exc}", "check the network route and the address")


def _url_host_port(url: str) -> tuple[str, int]:
    from urllib.parse import urlsplit

    u = urlsplit(url)
    return u.hostname or "", u.port or (443 if u.scheme == "https" else 80)
