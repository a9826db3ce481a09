"""The platform of the soak: the reference receiver in the harness process, which can be taken
down and brought back on the same port and database, and whose faults are switched on schedule.

Each answer the receiver drops (``drop_rate``) is a batch the platform stored while the gateway
learned nothing: the "lost response" window. The harness notes when each drop window was open so
the tally can tell a duplicate caused by it from one that should not exist.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from sitegate.bench.soakkit.site import APPID, APPSECRET, SiteFiles, free_port

log = logging.getLogger(__name__)


class Platform:
    def __init__(self, site: SiteFiles, seed: int):
        from sitegate.receiver import Receiver

        self.port = free_port()
        self.db_path: Path = site.platform_db
        self.rx = Receiver(APPID, APPSECRET, str(self.db_path), port=self.port, roster=site.platform_roster(),
                           seed=seed, async_delay_s=0.5)
        self._lock = threading.Lock()
        self.up = False
        self.outages = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/open.api"

    def start(self) -> None:
        with self._lock:
            if not self.up:
                self.rx.start()
                self.up = True

    def stop(self) -> None:
        with self._lock:
            if self.up:
                self.rx.stop()
                self.up = False

    def down(self) -> None:
        """The platform goes away: the listener closes; the store is kept."""
        self.stop()
        self.outages += 1
        log.info("platform down")

    def back(self) -> None:
        self.start()
        log.info("platform back on port %d", self.port)

    def set_faults(self, **knobs: Any) -> None:
        self.rx.set_faults(**knobs)

    def faults_seen(self) -> dict[str, int]:
        return dict(self.rx.faults_seen)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return self.rx.stats() if self.up else {}
