"""WG controller records -> Observations (reference/protocols.md §2, record bytes 8-27).

Only card swipes (type 1) are attendance. ``source_key`` is ``serial:index:time`` (``record_key``):
the same record seen in a push and again in the gap-free download carries the same bytes, so it
is one event (the pipeline recognises the key). The record's own time is part of the key because
indexes start again at 1 when a technician clears the controller's records or the board is
replaced: with the index alone, those new swipes would pass for old ones and be dropped.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo

from sitegate.drivers.api import Credential, CredentialKind, Observation
from sitegate.model import ADMIT, DenyReason, Direction, GateDecision, Method, Outcome

from .messages import Record

DIRECTIONS = {1: Direction.IN, 2: Direction.OUT}
# Reasons with which a controller refuses a card it has no say on: 6 "no privilege" (online mode
# pushes no privileges) and 5 "door under PC control" (the vendor's own online setting).
GATEWAY_DECIDES = frozenset({5, 6})

Make = Callable[..., Observation]   # Driver.observation


def record_key(serial: int, record: Record) -> str:
    when = record.time.strftime("%Y%m%d%H%M%S") if record.time is not None else record.bad_time or "-"
    return f"{serial}:{record.index}:{when}"


def gateway_decides(record: Record) -> bool:
    """In online mode: the controller left this swipe to the gateway."""
    return not record.granted and record.reason in GATEWAY_DECIDES


def controller_decision(record: Record, *, late: bool = False) -> GateDecision:
    if record.granted:
        return ADMIT
    detail = record.reason_text + ("; the gateway did not decide in time" if late else "")
    return GateDecision(Outcome.DENIED, DenyReason.DEVICE_DENIED, detail)


def swipe_observation(make: Make, serial: int, record: Record, zone: tzinfo, *, device_direction: bool,
                      decision: GateDecision | None) -> Observation:
    """``decision`` None: the gateway decides (online mode); otherwise what the controller did.
    ``device_direction``: take in/out from the record (the device is configured ``direction =
    "device"``), else the configured direction applies."""
    when: datetime | None = record.time.replace(tzinfo=zone) if record.time is not None else None
    extra = {"serial": serial, "index": record.index, "door": record.door, "reason": record.reason}
    if record.bad_time:
        extra["bad_time"] = record.bad_time
    return make(
        credential=Credential(CredentialKind.CARD, str(record.card)),
        method=Method.CARD,
        direction=DIRECTIONS.get(record.direction) if device_direction else None,
        device_time=when,
        device_decision=decision,
        source_key=record_key(serial, record),
        extra=extra,
    )
