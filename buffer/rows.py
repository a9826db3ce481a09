"""AttendanceEvent <-> events row, with personal data encrypted on the way in."""
from __future__ import annotations

import functools
import json
import sqlite3
import time
from datetime import datetime

from sitegate.buffer.crypto import FieldCipher
from sitegate.idcard import mask
from sitegate.model import (
    AttendanceEvent, DenyReason, Direction, EventTime, GateDecision, Location, Method, Outcome,
    Source, WorkerRef,
)

EVENT_COLUMNS = (
    "event_id", "wall_time", "wall_ts", "mono_ns", "boot_id", "clock_synced", "device_time",
    "id_card_type", "id_hash", "id_enc", "id_masked", "name_enc", "team_sys_no", "team_name",
    "direction", "method", "device_id", "lane", "driver", "outcome", "deny_reason",
    "decision_detail", "lng", "lat", "accuracy_m", "photo_id", "note", "extra", "created_ts", "source_key",
    "queue_for",
)
_ONE_ROW = f"({', '.join('?' * len(EVENT_COLUMNS))})"
INSERT_EVENT = f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES {_ONE_ROW}"


@functools.lru_cache(maxsize=None)
def insert_events(rows: int) -> str:
    """INSERT of ``rows`` events in one statement (parameters: the rows' values, flattened)."""
    return INSERT_EVENT + f", {_ONE_ROW}" * (rows - 1)


@functools.lru_cache(maxsize=16)
def _queue_for(uplinks: tuple[str, ...]) -> str:
    return json.dumps(list(uplinks))


def event_to_row(ev: AttendanceEvent, cipher: FieldCipher, uplinks: tuple[str, ...] = ()) -> tuple:
    """The events row; ``uplinks`` are those the event is queued for (a trigger makes their
    deliveries rows: migration 0005). Denied attempts are never queued."""
    w = ev.worker
    idn = w.id_card_number
    loc = ev.location
    return (
        ev.event_id,
        ev.time.wall.isoformat(),
        ev.time.wall.timestamp(),
        ev.time.mono_ns,
        ev.time.boot_id,
        int(ev.time.synced),
        ev.time.device_time.isoformat() if ev.time.device_time else None,
        w.id_card_type,
        cipher.index(idn) if idn else None,
        cipher.encrypt(idn) if idn else None,
        mask(idn) if idn else None,
        cipher.encrypt(w.name) if w.name else None,
        w.team_sys_no,
        w.team_name,
        ev.direction.value,
        ev.method.value,
        ev.source.device_id,
        ev.source.lane,
        ev.source.driver,
        ev.decision.outcome.value,
        ev.decision.reason.value if ev.decision.reason else None,
        ev.decision.detail,
        loc.lng if loc else None,
        loc.lat if loc else None,
        loc.accuracy_m if loc else None,
        ev.photo_id,
        ev.note,
        json.dumps(ev.extra, ensure_ascii=False, sort_keys=True, separators=(",", ":")),
        time.time(),
        ev.source_key,
        _queue_for(uplinks) if uplinks and ev.uploadable else None,
    )


def row_to_event(row: sqlite3.Row, cipher: FieldCipher | None) -> AttendanceEvent:
    """Decrypts when given a cipher; without one, personal fields come back masked/empty."""
    if cipher is not None:
        idn = cipher.decrypt_text(row["id_enc"])
        name = cipher.decrypt_text(row["name_enc"])
    else:
        idn, name = row["id_masked"] or "", ""
    has_loc = row["lng"] is not None and row["lat"] is not None
    return AttendanceEvent(
        event_id=row["event_id"],
        worker=WorkerRef(
            id_card_number=idn,
            id_card_type=row["id_card_type"],
            name=name,
            team_sys_no=row["team_sys_no"],
            team_name=row["team_name"],
        ),
        direction=Direction(row["direction"]),
        method=Method(row["method"]),
        source=Source(device_id=row["device_id"], lane=row["lane"], driver=row["driver"]),
        time=EventTime(
            wall=datetime.fromisoformat(row["wall_time"]),
            mono_ns=row["mono_ns"],
            boot_id=row["boot_id"],
            synced=bool(row["clock_synced"]),
            device_time=datetime.fromisoformat(row["device_time"]) if row["device_time"] else None,
        ),
        decision=GateDecision(
            Outcome(row["outcome"]),
            DenyReason(row["deny_reason"]) if row["deny_reason"] else None,
            row["decision_detail"],
        ),
        location=Location(row["lng"], row["lat"], row["accuracy_m"]) if has_loc else None,
        photo_id=row["photo_id"],
        note=row["note"],
        extra=json.loads(row["extra"] or "{}"),
        source_key=row["source_key"],
    )
