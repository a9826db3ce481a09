"""Supplementary clock-in (补卡): a clerk records a passage the gate did not, with who, when and why.

Shared by the CLI (``sitegate events add``) and the clerk pages.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sitegate.buffer import Roster
from sitegate.clock import Clock
from sitegate.errors import UsageError
from sitegate.idcard import mask, normalise
from sitegate.ids import uuid7
from sitegate.model import AttendanceEvent, Direction, EventTime, Method, Source, WorkerRef

# a clerk's watch and the gateway's clock disagree by a little; a minute is not "the future"
FUTURE_SKEW = timedelta(seconds=60)


def add_supplementary(store, *, id_card_number: str, direction: str, when: datetime | None,
                      reason: str, channel: str, actor: str, clock: Clock | None = None) -> AttendanceEvent:
    clock = clock or Clock()
    now = clock.now()
    idn = normalise(id_card_number)
    worker = Roster(store).get(idn)
    if worker is None:
        raise UsageError(f"no worker with ID number {mask(idn)} on the roster (import or sync the roster first)")
    if worker.status == "left":
        raise UsageError(f"worker {mask(idn)} has left the project")
    if worker.blacklisted:
        raise UsageError(f"worker {mask(idn)} is blacklisted")
    try:
        d = Direction(direction)
    except ValueError:
        raise UsageError(f"direction {direction!r} must be 'in' or 'out'") from None
    when = when or now.wall
    if when.tzinfo is None:
        raise UsageError("the time must carry its zone")
    if when > now.wall + FUTURE_SKEW:
        raise UsageError(f"time {when.isoformat()} is in the future")
    if not reason.strip():
        reason = "(no reason given)"
    event = AttendanceEvent(
        event_id=str(uuid7()),
        worker=WorkerRef(id_card_number=idn, id_card_type=worker.id_card_type, name=worker.name,
                         team_sys_no=worker.team_sys_no, team_name=worker.team_name),
        direction=d,
        method=Method.MANUAL,
        source=Source(device_id="clerk", lane=channel, driver="manual"),
        # the stated time is the clerk's word, not a clock reading: it counts as synchronised
        time=EventTime(wall=when, mono_ns=now.mono_ns, boot_id=now.boot_id, synced=True),
        note=reason.strip(),
        extra={"entered_by": actor, "entered_at": now.wall.isoformat()},
    )
    store.append(event)
    store.audit(actor, "events.add", event.event_id,
                f"supplementary {d.value} for {mask(idn)} at {when.isoformat()}: {reason.strip()}")
    return event
