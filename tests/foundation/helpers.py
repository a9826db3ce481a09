"""Event factories for the foundation tests."""
from datetime import datetime, timezone

from sitegate.ids import uuid7
from sitegate.model import (
    AttendanceEvent, DenyReason, Direction, EventTime, GateDecision, Method, Outcome, Source, WorkerRef,
)


def event(idn: str = "370102198511201233", *, name: str = "张三", synced: bool = True, denied: bool = False,
          wall: datetime | None = None, mono_ns: int = 1_000, boot_id: str = "boot-1", **kw) -> AttendanceEvent:
    return AttendanceEvent(
        event_id=str(uuid7()),
        worker=WorkerRef(id_card_number=idn, name=name, team_sys_no=100156750, team_name="钢筋班"),
        direction=kw.pop("direction", Direction.IN),
        method=kw.pop("method", Method.CARD),
        source=Source(device_id="east-gate", lane="east-1", driver="test"),
        time=EventTime(wall=wall or datetime.now(timezone.utc), mono_ns=mono_ns, boot_id=boot_id, synced=synced),
        decision=GateDecision(Outcome.DENIED, DenyReason.UNKNOWN) if denied else GateDecision(Outcome.ADMITTED),
        **kw,
    )
