"""Make a Hikvision terminal's user list equal the admitted workers, and upload face photos.

The terminal itself is the record of what it holds: each sync pages through UserInfo/Search,
sets up the workers that are missing or differ (name, validity) and deletes the employee numbers
no admitted worker has (leavers, blacklisted, strangers). Nothing is kept between syncs, so a
gateway restart needs no saved queue. ``employeeNo`` is the worker's PIN (see ``codec``).
"""
from __future__ import annotations

import threading
from datetime import date, datetime
from typing import TYPE_CHECKING, Iterable

from .client import IsapiClient, IsapiError
from .codec import BEIJING, MAX_FACE_BYTES
from .users import TerminalUser, terminal_user

if TYPE_CHECKING:
    from sitegate.buffer.roster import Worker

DELETE_BATCH = 30
MAX_FAILURES_SHOWN = 3


def admitted(workers: Iterable["Worker"], today: date) -> dict[str, TerminalUser]:
    """Active, not blacklisted, validity not ended, with a PIN assigned by the gateway."""
    out: dict[str, TerminalUser] = {}
    for w in workers:
        if w.pin is None or w.status != "active" or w.blacklisted:
            continue
        if w.valid_to and w.valid_to < today.isoformat():
            continue
        out[str(w.pin)] = terminal_user(w.pin, w.name, w.valid_to)
    return out


class UserSyncer:
    def __init__(self, page_size: int = 30):
        self.page_size = page_size
        self.last_writes = 0
        self._desired: dict[str, TerminalUser] | None = None
        self._faces: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def plan(self, workers: Iterable["Worker"]) -> int:
        desired = admitted(workers, datetime.now(BEIJING).date())
        with self._lock:
            self._desired = desired
        return len(desired)

    def sync(self, client: IsapiClient) -> str:
        """One pass; returns a summary of what failed ("" when all went well)."""
        with self._lock:
            desired = dict(self._desired) if self._desired is not None else None
        self.last_writes = 0
        if desired is None:
            return ""
        on_terminal = {u.employee_no: u for u in client.list_users(self.page_size)}
        failures: list[str] = []
        for employee_no, want in sorted(desired.items()):
            have = on_terminal.get(employee_no)
            if have is not None and want.same_as(have):
                continue
            try:
                client.set_up_user(want)
                self.last_writes += 1
            except IsapiError as exc:
                failures.append(f"set up employeeNo {employee_no}: {exc}")
        stale = sorted(set(on_terminal) - set(desired))
        for i in range(0, len(stale), DELETE_BATCH):
            chunk = stale[i:i + DELETE_BATCH]
            try:
                client.delete_users(chunk)
                self.last_writes += len(chunk)
            except IsapiError as exc:
                failures.append(f"delete employeeNo {chunk[0]}…: {exc}")
        return _summary(failures)

    # -- faces -----------------------------------------------------------------------------------
    def queue_faces(self, faces: dict[int, bytes]) -> dict[int, str]:
        """Queue valid photos; returns PIN -> why for those refused."""
        rejected: dict[int, str] = {}
        with self._lock:
            for pin, jpeg in faces.items():
                if jpeg[:2] != b"\xff\xd8":
                    rejected[pin] = "not a JPEG"
                elif len(jpeg) > MAX_FACE_BYTES:
                    rejected[pin] = f"{len(jpeg)} bytes, over the terminal's {MAX_FACE_BYTES}-byte limit"
                else:
                    self._faces[str(pin)] = jpeg
        return rejected

    def upload_faces(self, client: IsapiClient) -> str:
        with self._lock:
            todo = dict(self._faces)
        failures: list[str] = []
        for employee_no, jpeg in sorted(todo.items()):
            try:
                client.upload_face(employee_no, jpeg)
            except IsapiError as exc:
                failures.append(f"face of employeeNo {employee_no}: {exc}")
                continue
            with self._lock:
                if self._faces.get(employee_no) is jpeg:
                    del self._faces[employee_no]
        return _summary(failures)

    @property
    def faces_waiting(self) -> int:
        with self._lock:
            return len(self._faces)


def _summary(failures: list[str]) -> str:
    if not failures:
        return ""
    shown = "; ".join(failures[:MAX_FAILURES_SHOWN])
    return f"{len(failures)} failed: {shown}" + (" …" if len(failures) > MAX_FAILURES_SHOWN else "")
