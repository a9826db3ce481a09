"""What a geofence clock-in/clock-out becomes: the Observation sent down the pipeline, or, when
the clerk must decide, the AttendanceEvent kept in the review queue.

Time: an attendance event is dated by the first fix of the run that proved it (when the worker
really arrived or left; :mod:`sitegate.geofence.hysteresis`), not by when the confirming fix
arrived. Its monotonic stamp is moved back by the same amount, so the store's correction of
events recorded before the clock was synchronised (wall = now - (mono_now - mono)) gives the
same instant.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from sitegate.buffer.roster import Worker
from sitegate.clock import Stamp
from sitegate.drivers.api import Credential, CredentialKind, Observation
from sitegate.geofence.clockin import ClockIn
from sitegate.geofence.engine import Evaluation
from sitegate.geofence.fences import Fence
from sitegate.geofence.hysteresis import CLOCK_IN, Transition
from sitegate.ids import uuid7
from sitegate.model import (AttendanceEvent, Direction, EventTime, GateDecision, Location, Method, Source,
                            WorkerRef)


def device_id(phone_id: str) -> str:
    return f"phone:{phone_id}"


def direction_of(transition: Transition) -> Direction:
    return Direction.IN if transition.kind == CLOCK_IN else Direction.OUT


def allowed(fence: Fence, direction: Direction) -> bool:
    """A fence configured ``direction = "in"`` (or ``"out"``) records only clock-ins (clock-outs)."""
    return fence.direction in ("both", direction.value)


def stamp_at(now: Stamp, at: float) -> Stamp:
    back_ns = int(round((now.wall.timestamp() - at) * 1e9))
    mono = min(now.mono_ns, max(0, now.mono_ns - back_ns))
    return replace(now, wall=datetime.fromtimestamp(at, timezone.utc), mono_ns=mono)


def extra_for(evaluation: Evaluation, fence: Fence, transition: Transition) -> dict[str, Any]:
    """Detail kept with the event (and shown to the clerk): which fence, which fixes, how sure."""
    c: ClockIn = evaluation.clockin
    result = next((r for r in evaluation.results if r.fence.id == fence.id), None)
    extra: dict[str, Any] = {
        "fence_id": fence.id,
        "phone_id": c.phone_id,
        "run_from": transition.at,
        "confirmed_at": transition.confirmed_at,
        "fix_time": c.fix_time,
        "crs": c.crs,
        "provider": c.provider,
    }
    if result is not None:
        extra["signed_distance_m"] = round(result.judgement.signed_distance_m, 2)
        extra["judgement"] = result.judgement.reason_code
    if evaluation.flags:
        extra["spoof_flags"] = [f.code for f in evaluation.flags]
    return extra


def observation(evaluation: Evaluation, id_number: str, now: Stamp, fence: Fence, transition: Transition,
                source_key: str) -> Observation:
    c = evaluation.clockin
    at = stamp_at(now, transition.at)
    return Observation(
        device_id=device_id(c.phone_id),
        credential=Credential(CredentialKind.WORKER, id_number),
        method=Method.GEOFENCE,
        received=at,
        lane=fence.lane or fence.id,
        direction=direction_of(transition),
        device_time=at.wall,                 # the phone's own clock dated the run's first fix
        location=Location(c.wgs_lng, c.wgs_lat, c.accuracy_m),
        source_key=source_key,
        extra=extra_for(evaluation, fence, transition),
    )


def review_event(obs: Observation, decision: GateDecision, worker: Worker | None) -> AttendanceEvent:
    """The event a review item holds: what the pipeline would have stored (the clerk's acceptance
    stores it). Built here because the pipeline stores at once; same fields, same rules."""
    if worker is not None:
        who = WorkerRef(id_card_number=worker.id_card_number, id_card_type=worker.id_card_type, name=worker.name,
                        team_sys_no=worker.team_sys_no, team_name=worker.team_name)
    else:
        who = WorkerRef(id_card_number=obs.credential.value)
    st = obs.received
    assert obs.direction is not None
    return AttendanceEvent(
        event_id=str(uuid7(int(st.wall.timestamp() * 1e9))),
        worker=who,
        direction=obs.direction,
        method=obs.method,
        source=Source(device_id=obs.device_id, lane=obs.lane),
        time=EventTime(wall=st.wall, mono_ns=st.mono_ns, boot_id=st.boot_id, synced=st.synced,
                       device_time=obs.device_time),
        decision=decision,
        location=obs.location,
        extra=dict(obs.extra),
        source_key=obs.source_key,
    )
