"""The roster in memory, indexed for the gate: by ID number, card number and device PIN.

The gate decides in milliseconds, so it never decrypts rows per swipe. The cache reloads when the
workers table changes (import, platform sync): it compares count and latest update time, a cheap
query, at most every ``check_every_s``.
"""
from __future__ import annotations

import threading
import time

from sitegate.buffer.roster import Roster, Worker
from sitegate.idcard import normalise


class RosterCache:
    def __init__(self, store, check_every_s: float = 2.0):
        self._roster = Roster(store)
        self._store = store
        self._check_every_s = check_every_s
        self._lock = threading.Lock()
        self._version: tuple = ()
        self._checked = 0.0
        self._by_id: dict[str, Worker] = {}
        self._by_card: dict[str, Worker] = {}
        self._by_pin: dict[int, Worker] = {}
        self.listeners: list = []      # called with the new active list after a reload
        self.refresh(force=True)

    def _current_version(self) -> tuple:
        row = self._store.query("SELECT count(*), max(updated_ts) FROM workers")[0]
        return (row[0], row[1])

    def refresh(self, force: bool = False) -> bool:
        """Reload if the table changed; returns whether it did."""
        now = time.monotonic()
        if not force and now - self._checked < self._check_every_s:
            return False
        self._checked = now
        version = self._current_version()
        if not force and version == self._version:
            return False
        workers = self._roster.all()
        by_id = {w.id_card_number: w for w in workers}
        # an active worker wins a card number over one who left and handed the card back
        by_card: dict[str, Worker] = {}
        for w in sorted(workers, key=lambda w: w.status == "active"):
            if w.card_no:
                by_card[w.card_no.lstrip("0") or "0"] = w
        by_pin = {w.pin: w for w in workers if w.pin is not None}
        with self._lock:
            self._by_id, self._by_card, self._by_pin, self._version = by_id, by_card, by_pin, version
        active = [w for w in workers if w.status == "active" and not w.blacklisted]
        for listener in list(self.listeners):
            listener(active)
        return True

    def by_id(self, number: str) -> Worker | None:
        return self._by_id.get(normalise(number))

    def by_card(self, card_no: str) -> Worker | None:
        # controllers report decimal numbers; CSVs sometimes keep leading zeros
        return self._by_card.get(str(card_no).strip().lstrip("0") or "0")

    def by_pin(self, pin: int | str) -> Worker | None:
        try:
            return self._by_pin.get(int(pin))
        except (TypeError, ValueError):
            return None

    def admitted(self) -> list[Worker]:
        """Workers a device that keeps its own list should know."""
        return [w for w in self._by_id.values() if w.status == "active" and not w.blacklisted]

    def __len__(self) -> int:
        return len(self._by_id)
