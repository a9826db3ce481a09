"""An attendance event from the store -> one ``WorkerAttendance.Add`` item (reference/protocols.md §5).

- team: the event's ``team_sys_no``; else the worker's team in the local roster NOW (so a clerk
  who fixes the roster and retries a dead letter is heard); else ``uplink.default_team``; else the
  record cannot be sent and is dead-lettered locally with a reason naming the fix.
- ``date``: the event's wall time in Beijing time, ``yyyy-MM-dd HH:mm:ss``.
- ``direction``: in "01", out "02"; ``attendType`` from the clock-in method (attendance.py).
- ``channel``: the lane (the gate's name), else the device id.
- ``lng``/``lat``: WGS-84, for geofence clock-ins.
- ``image``: the event photo, re-encoded to a JPEG of at most ``uplink.max_image_kb`` (× 1000
  bytes: whether the platform's KB is 1000 or 1024 is unknown). A photo that cannot be made to
  fit is left out, and counted: the photo is optional, the attendance is a worker's pay.
"""
from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sitegate.buffer.rows import row_to_event
from sitegate.errors import StoreError
from sitegate.model import Method
from sitegate.uplink.national.attendance import DIRECTION_CODES, attend_type_for, attendance_item
from sitegate.uplink.national.errors import InvalidRecord
from sitegate.uplink.national.images import jpeg_for_upload

log = logging.getLogger(__name__)

NO_TEAM = ("no teamSysNo: the worker has no team in the roster and uplink.default_team is 0; "
           "set the team (sitegate roster import / roster sync) or uplink.default_team, then retry")


@dataclass(frozen=True)
class Built:
    event_id: str
    team_sys_no: int
    item: dict[str, Any]
    wall_ts: float


class RecordBuilder:
    def __init__(self, store, *, default_team: int = 0, max_image_bytes: int = 50_000):
        self.store = store
        self.default_team = int(default_team or 0)
        self.max_image_bytes = max_image_bytes
        self.counters: Counter[str] = Counter()

    def team_of(self, row: sqlite3.Row) -> int | None:
        """The teamSysNo a due row goes under, or None when there is none at all."""
        if row["team_sys_no"]:
            return int(row["team_sys_no"])
        if row["id_hash"]:
            found = self.store.query("SELECT team_sys_no FROM workers WHERE id_hash = ?", (row["id_hash"],))
            if found and found[0][0]:
                return int(found[0][0])
        return self.default_team or None

    def build(self, row: sqlite3.Row, team_sys_no: int) -> Built:
        """The item of one due row (plain ID number); InvalidRecord names what is wrong."""
        try:
            event = row_to_event(row, self.store.cipher)
        except (StoreError, ValueError) as exc:  # a damaged row: the clerk must see it, not a loop
            raise InvalidRecord(f"the stored event cannot be read: {exc}") from None
        location = event.location if event.method is Method.GEOFENCE else None
        item = attendance_item(
            event.worker.id_card_number,
            event.time.wall,
            DIRECTION_CODES[event.direction.value],
            attend_type_for(event.method.value),
            event.source.lane or event.source.device_id,
            image_b64=self._image(event.event_id, event.photo_id),
            lng=location.lng if location else None,
            lat=location.lat if location else None,
            id_card_type=event.worker.id_card_type or "01",
        )
        return Built(event.event_id, team_sys_no, item, event.time.wall.timestamp())

    def _image(self, event_id: str, photo_id: str | None) -> str | None:
        if not photo_id:
            return None
        try:
            photo = self.store.photo(photo_id)
            if photo is None:
                return None
            return jpeg_for_upload(photo, self.max_image_bytes)
        except (InvalidRecord, StoreError) as exc:
            self.counters["image_left_out"] += 1
            log.warning("event %s: photo left out of the upload: %s", event_id, exc)
            return None
