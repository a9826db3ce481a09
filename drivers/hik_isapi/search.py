"""AcsEvent search: the terminal's event log, paged (catch-up and gap filling). Pure, no I/O.

``POST /ISAPI/AccessControl/AcsEvent?format=json`` with ``{"AcsEventCond": {searchID (the same
on every page), searchResultPosition, maxResults, major, minor, startTime, endTime}}`` answers
``{"AcsEvent": {searchID, responseStatusStrg OK|MORE|NO MATCH, numOfMatches, totalMatches,
InfoList: […]}}``; the client pages while MORE. Source: ../shared/reference/protocols.md §4.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sitegate.errors import ProtocolError

from . import codes
from .codec import AccessEvent, int_field, str_field, access_event, isapi_time, parse_time

PATH = "/ISAPI/AccessControl/AcsEvent?format=json"
STATUSES = ("OK", "MORE", "NO MATCH")


@dataclass(frozen=True)
class SearchCond:
    search_id: str
    position: int
    max_results: int
    major: int
    minor: int
    start: datetime | None
    end: datetime | None


@dataclass(frozen=True)
class SearchPage:
    search_id: str
    status: str                         # OK (last page) | MORE | NO MATCH
    num_matches: int
    total_matches: int
    events: list[AccessEvent]
    bad: list[str]                      # why items of InfoList were skipped

    @property
    def more(self) -> bool:
        return self.status == "MORE"


def request_body(search_id: str, position: int, max_results: int, start: datetime, end: datetime,
                 major: int = codes.MAJOR_EVENT, minor: int = 0) -> dict[str, Any]:
    return {"AcsEventCond": {"searchID": search_id, "searchResultPosition": position, "maxResults": max_results,
                             "major": major, "minor": minor, "startTime": isapi_time(start),
                             "endTime": isapi_time(end)}}


def parse_request(obj: Any) -> SearchCond:
    """The terminal's side (the simulator)."""
    cond = obj.get("AcsEventCond") if isinstance(obj, dict) else None
    if not isinstance(cond, dict):
        raise ProtocolError("search without AcsEventCond")
    start, end = str_field(cond, "startTime", 64), str_field(cond, "endTime", 64)
    return SearchCond(str_field(cond, "searchID", 64), int_field(cond, "searchResultPosition") or 0,
                      int_field(cond, "maxResults") or 30, int_field(cond, "major") or 0, int_field(cond, "minor") or 0,
                      parse_time(start, "startTime") if start else None, parse_time(end, "endTime") if end else None)


def parse_response(obj: Any) -> SearchPage:
    body = obj.get("AcsEvent") if isinstance(obj, dict) else None
    if not isinstance(body, dict):
        raise ProtocolError("search answer without AcsEvent")
    status = str_field(body, "responseStatusStrg", 16)
    if status not in STATUSES:
        raise ProtocolError(f"responseStatusStrg {status[:16]!r} is not OK, MORE or NO MATCH")
    items = body.get("InfoList") or []
    if not isinstance(items, list):
        raise ProtocolError("InfoList is not a list")
    events: list[AccessEvent] = []
    bad: list[str] = []
    for i, item in enumerate(items):
        try:
            events.append(access_event(item))
        except ProtocolError as exc:
            bad.append(f"InfoList[{i}]: {exc}")
    return SearchPage(str_field(body, "searchID", 64), status, int_field(body, "numOfMatches") or 0,
                      int_field(body, "totalMatches") or 0, events, bad)


def response_body(search_id: str, status: str, total: int, items: list[dict[str, Any]]) -> dict[str, Any]:
    body: dict[str, Any] = {"searchID": search_id, "responseStatusStrg": status, "numOfMatches": len(items),
                            "totalMatches": total}
    if items:
        body["InfoList"] = items
    return {"AcsEvent": body}
