"""The state of a simulated Hikvision terminal: users, face library, and the event log with its
serial numbers. No I/O: ``simulator`` serves it over ISAPI and pushes its events.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from . import codes, search, users
from .codec import BEIJING, isapi_time

# verify name -> (granted sub-event, refused sub-event, currentVerifyMode)
VERIFY = {
    "face": (75, 76, "face"),
    "card": (1, 9, "card"),
    "fingerprint": (38, 39, "fp"),
    "idcard": (105, 112, "cardOrFace"),
}


@dataclass
class LoggedEvent:
    serial_no: int
    time: datetime
    item: dict[str, Any]           # the AcsEvent InfoList form
    picture: bytes | None = None


@dataclass
class HikTerminal:
    clock: Callable[[], datetime] = lambda: datetime.now(BEIJING)
    users: dict[str, users.TerminalUser] = field(default_factory=dict)
    faces: dict[str, bytes] = field(default_factory=dict)
    events: list[LoggedEvent] = field(default_factory=list)
    next_serial: int = 1
    device_name: str = "sim-gate"
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # -- people at the terminal ------------------------------------------------------------------
    def pass_(self, employee_no: str, verify: str = "face", status: str = "checkIn", *, door: int = 1,
              picture: bytes | None = None, at: datetime | None = None) -> LoggedEvent:
        granted_sub, refused_sub, mode = VERIFY[verify]
        with self.lock:
            user = self.users.get(employee_no)
            granted = user is not None
            item = {
                "major": codes.MAJOR_EVENT, "minor": granted_sub if granted else refused_sub,
                "time": isapi_time(at or self.clock()), "cardReaderNo": 1, "doorNo": door,
                "employeeNoString": employee_no if granted else "", "name": user.name if user else "",
                "serialNo": self.next_serial, "userType": "normal", "currentVerifyMode": mode,
                "attendanceStatus": status, "mask": "no", "helmet": "yes",
            }
            if not granted and verify == "card":
                item["cardNo"] = employee_no
            event = LoggedEvent(self.next_serial, at or self.clock(), item, picture)
            self.events.append(event)
            self.next_serial += 1
            return event

    def door_event(self, minor: int = 21) -> LoggedEvent:
        """A non-person event (door opened …) that takes a serial number but is no passage."""
        with self.lock:
            item = {"major": codes.MAJOR_EVENT, "minor": minor, "time": isapi_time(self.clock()),
                    "doorNo": 1, "serialNo": self.next_serial}
            event = LoggedEvent(self.next_serial, self.clock(), item)
            self.events.append(event)
            self.next_serial += 1
            return event

    # -- ISAPI operations ------------------------------------------------------------------------
    def search_events(self, cond: search.SearchCond, total_cap: int = 1000) -> dict[str, Any]:
        with self.lock:
            found = [e for e in self.events
                     if (cond.major in (0, e.item["major"])) and (cond.minor in (0, e.item["minor"]))
                     and (cond.start is None or e.time >= cond.start) and (cond.end is None or e.time <= cond.end)]
        page = found[cond.position:cond.position + min(cond.max_results, total_cap)]
        if not found:
            status = "NO MATCH"
        else:
            status = "MORE" if cond.position + len(page) < len(found) else "OK"
        return search.response_body(cond.search_id, status, len(found), [e.item for e in page])

    def set_up(self, user: users.TerminalUser) -> None:
        with self.lock:
            self.users[user.employee_no] = user

    def record(self, user: users.TerminalUser) -> bool:
        """Create only (UserInfo/Record): False when the employee number exists."""
        with self.lock:
            if user.employee_no in self.users:
                return False
            self.users[user.employee_no] = user
            return True

    def delete(self, employee_nos: list[str] | None) -> None:
        with self.lock:
            for e in list(self.users) if employee_nos is None else employee_nos:
                self.users.pop(e, None)
                self.faces.pop(e, None)

    def search_users(self, search_id: str, position: int, max_results: int) -> dict[str, Any]:
        with self.lock:
            every = [self.users[k] for k in sorted(self.users)]
        page = every[position:position + max_results]
        status = "NO MATCH" if not every else ("MORE" if position + len(page) < len(every) else "OK")
        return users.search_response(search_id, status, len(every), page)
