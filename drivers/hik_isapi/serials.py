"""Which event serial numbers of a Hikvision terminal are recorded, and where the gaps are.

The terminal numbers its events (``serialNo``); a push that skips numbers means events were lost
on the way (or are door/alarm events that were never pushed). ``last`` is the highest number up
to which everything is recorded or settled; numbers recorded beyond it wait in ``ahead`` until
the numbers between are filled by a search, or settled when a complete search shows the terminal
has no access event under them.

Pure logic, no I/O and no lock (the driver holds its own lock around it).
"""
from __future__ import annotations

from collections import OrderedDict
from datetime import datetime

MAX_GAP = 100_000           # a jump larger than this is a terminal whose log was reset, not a gap


class SerialTracker:
    def __init__(self, last: int | None = None, last_time: datetime | None = None, remember: int = 8192):
        self.last = last
        self.last_time = last_time           # device time of the event numbered ``last`` (as far as known)
        self.ahead: dict[int, datetime | None] = {}
        self._recent: OrderedDict[int, None] = OrderedDict()
        self._remember = remember

    def is_recorded(self, serial: int) -> bool:
        """Recorded in this run (a resend): no need to emit it again."""
        return serial in self._recent or serial in self.ahead

    def record(self, serial: int, time: datetime | None) -> None:
        self._recent[serial] = None
        self._recent.move_to_end(serial)
        while len(self._recent) > self._remember:
            self._recent.popitem(last=False)
        if self.last is None or serial > self.last + MAX_GAP:
            self.last, self.last_time = serial, time      # first event ever, or the log was reset
            self.ahead = {s: t for s, t in self.ahead.items() if s > serial}
        elif serial > self.last:
            self.ahead[serial] = time
        self._advance()

    def _advance(self) -> None:
        while self.last is not None and self.last + 1 in self.ahead:
            self.last += 1
            t = self.ahead.pop(self.last)
            if t is not None:
                self.last_time = t

    def missing(self) -> list[int]:
        """Numbers between ``last`` and the highest recorded one that were never seen."""
        if self.last is None or not self.ahead:
            return []
        top = max(self.ahead)
        return [s for s in range(self.last + 1, top) if s not in self.ahead]

    def settle(self, upto: int) -> list[int]:
        """A complete search found nothing more under ``upto``: the numbers still missing up to it
        are not access events. Returns them."""
        if self.last is None or upto <= self.last:
            return []
        given_up = [s for s in range(self.last + 1, upto + 1) if s not in self.ahead]
        for s in range(self.last + 1, upto + 1):
            if s in self.ahead:
                t = self.ahead.pop(s)
                if t is not None:
                    self.last_time = t
        self.last = upto
        self._advance()
        return given_up
