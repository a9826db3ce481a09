"""What the clerk pages need from the daemon, in one value the daemon fills in."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from sitegate.buffer import Store
from sitegate.clock import Clock
from sitegate.config import Config
from sitegate.metrics import Metrics
from sitegate.roster_cache import RosterCache


def _no_devices() -> list[dict]:
    return []


def _always_healthy() -> bool:
    return True


@dataclass
class WebContext:
    cfg: Config                     # cfg["site"]["timezone"], cfg["http"]["session_minutes"], …
    store: Store
    roster: RosterCache
    metrics: Metrics
    # [{"id", "driver", "lane", "direction", "state": "up|degraded|down", "reason", "since": epoch}]
    devices: Callable[[], list[dict]] = _no_devices
    healthy: Callable[[], bool] = _always_healthy       # the daemon's main loop is alive
    # POST /api/clockin: (body, remote ip) -> (HTTP status, JSON body); None: the route answers 404
    clockin: Callable[[bytes, str], tuple[int, dict]] | None = None
    uplink_name: str = ""           # whose delivery state to show and whose dead letters to retry
    clock: Clock = field(default_factory=Clock)

    @property
    def tz(self) -> str:
        return self.cfg["site"]["timezone"]

    @property
    def site_name(self) -> str:
        return self.cfg["site"].get("name") or self.cfg["site"]["project_code"]

    def now(self) -> float:
        """Wall time (epoch seconds) from the injected clock: sessions, lockouts, 'today'."""
        return self.clock.wall().timestamp()
