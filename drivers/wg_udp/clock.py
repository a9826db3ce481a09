"""The controller's clock as the gateway sees it (reference/protocols.md §2: 0x20 status time,
0x30 set clock). Learnt from every status the controller sends, so a swipe's age can be judged
by the controller's own clock even while the gateway's is not synchronised; set only from a
synchronised gateway clock (a Pi without a real-time clock boots in 1970)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .client import WgClient


class ControllerClock:
    def __init__(self, zone: tzinfo, wall: Callable[[], datetime]):
        self.zone = zone
        self._wall = wall                          # the gateway's aware wall clock
        self.offset: timedelta | None = None       # controller minus gateway, in the controller's zone

    def local_now(self) -> datetime:
        """The gateway's time as the controller keeps it: local to ``zone``, no tzinfo."""
        return self._wall().astimezone(self.zone).replace(tzinfo=None)

    def learn(self, controller_time: datetime | None) -> None:
        if controller_time is not None:
            self.offset = controller_time - self.local_now()

    def now(self) -> datetime | None:
        """The controller's time now, None until it has said what it is."""
        return None if self.offset is None else self.local_now() + self.offset

    def today(self, gateway_synced: bool) -> date:
        if not gateway_synced and self.offset is not None:
            return (self.local_now() + self.offset).date()   # better than a 1970 boot clock
        return self.local_now().date()

    def set(self, client: WgClient) -> float | None:
        """Set the controller to the gateway's time; returns how far off it was (s), if known."""
        before = self.now()
        local = self.local_now().replace(microsecond=0)
        self.learn(client.set_time(local))
        return None if before is None else (before - local).total_seconds()
