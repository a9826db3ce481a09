"""The gap-free download (0xB4 read index → 0xB0 r+1 … → 0xB2 commit; reference/protocols.md §2),
a few records at a time so the driver answers pushed swipes in between.

The read index is committed after each step for the records handled in it: ``handle`` returns
only once a record is durable, so a crash repeats at most one step's records (the pipeline knows
them by ``source_key``), and a record is never skipped. An exception from ``handle`` abandons the
download without committing that step; the next one starts again from the controller's index.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from .messages import Record

if TYPE_CHECKING:
    from .client import WgClient


class CatchUp:
    def __init__(self, client: WgClient, per_step: int = 64):
        self.client = client
        self.per_step = per_step
        self._records: Iterator[Record] | None = None

    @property
    def running(self) -> bool:
        return self._records is not None

    def step(self, handle: Callable[[Record], None]) -> bool:
        """Hand up to ``per_step`` records to ``handle``; True once the download is complete."""
        if self._records is None:
            self._records = self.client.download_records(commit=False)
        last = None
        try:
            for _ in range(self.per_step):
                record = next(self._records, None)
                if record is None:
                    self._records = None
                    break
                handle(record)
                last = record.index
        except BaseException:
            self._records = None
            raise
        if last is not None:
            self.client.commit_read_index(last)
        return self._records is None
