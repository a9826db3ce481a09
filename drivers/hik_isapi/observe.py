"""Hikvision access events -> Observations. The terminal already decided (it matched the face
against its own user list), so each observation carries its decision; a refusal keeps the
terminal's reason text. The person's name the terminal sends is not copied anywhere: the gateway
knows the worker from the employee number (the PIN it assigned).
"""
from __future__ import annotations

from typing import Callable

from sitegate.drivers.api import Credential, CredentialKind, Observation
from sitegate.model import ADMIT, DenyReason, Direction, GateDecision, Method, Outcome

from .codec import AccessEvent

# "other" (password, employee number typed in) is Method.OTHER; the exact mode stays in extra.
METHODS: dict[str, Method] = {
    "face": Method.FACE,
    "fingerprint": Method.FINGERPRINT,
    "card": Method.CARD,
    "idcard": Method.IDCARD,
    "other": Method.OTHER,
}

Make = Callable[..., Observation]   # Driver.observation


def source_key(host_key: str, ev: AccessEvent) -> str:
    if ev.serial_no is not None:
        return f"hik:{host_key}:{ev.serial_no}"
    # firmware without serialNo: the event's own time, person and type are the best key there is
    return f"hik:{host_key}:t:{ev.time_text}:{ev.employee_no or ev.card_no}:{ev.minor}"


def observation(make: Make, host_key: str, ev: AccessEvent, picture: bytes | None) -> Observation | None:
    """None for events that are not a person at the gate (door, alarm) or name nobody."""
    if not ev.passage:
        return None
    if ev.employee_no:
        credential = Credential(CredentialKind.PIN, ev.employee_no)
    elif ev.card_no:
        credential = Credential(CredentialKind.CARD, ev.card_no)
    else:
        return None
    decision = ADMIT if ev.granted else GateDecision(Outcome.DENIED, DenyReason.DEVICE_DENIED, ev.reason)
    return make(
        credential=credential,
        method=METHODS[ev.method],
        direction=Direction(ev.direction) if ev.direction else None,
        device_time=ev.time,
        device_decision=decision,
        photo=picture,
        source_key=source_key(host_key, ev),
        extra={"serial": ev.serial_no, "sub_event": ev.minor, "door": ev.door_no, "verify_mode": ev.verify_mode,
               "attendance_status": ev.attendance_status, "user_type": ev.user_type},
    )
