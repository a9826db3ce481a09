"""What several pages share: names from encrypted columns, worker links, day boundaries."""
from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sitegate.errors import StoreError
from sitegate.web.http import HttpError
from sitegate.web.markup import Markup

log = logging.getLogger(__name__)

UNREADABLE = "（无法解密）"


def decrypt_name(store, blob: bytes | None) -> str:
    """A name column's clear text; a row that fails authentication is shown as such, not a 500."""
    try:
        return store.cipher.decrypt_text(blob)
    except StoreError as exc:
        log.error("a name in the store cannot be decrypted: %s", exc)
        return UNREADABLE


def worker_link(pin: int | None, name: str) -> Markup:
    """A worker's name linking to their page (addressed by PIN, never by ID number)."""
    if pin is None:
        return Markup("{}").format(name or "—")
    return Markup('<a href="/workers/{}">{}</a>').format(int(pin), name or f"PIN {pin}")


def parse_day(text: str | None, tz: str, now_ts: float) -> date:
    """A YYYY-MM-DD query parameter (default: today on the site's clock)."""
    if not text:
        return datetime.fromtimestamp(now_ts, ZoneInfo(tz)).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise HttpError(400, f"date {text[:20]!r} must be YYYY-MM-DD") from None


def day_bounds(day: date, tz: str) -> tuple[float, float]:
    """[start, end) of a local calendar day as epoch seconds (a DST day is 23 or 25 hours)."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time.min, zone)
    end = datetime.combine(day + timedelta(days=1), time.min, zone)
    return start.timestamp(), end.timestamp()


def team_key(team_sys_no: int | None, team_name: str | None) -> tuple:
    return (team_sys_no if team_sys_no is not None else -1, team_name or "")


def team_label(team_sys_no: int | None, team_name: str | None) -> str:
    if team_name and team_sys_no is not None:
        return f"{team_name}（{team_sys_no}）"
    return team_name or (str(team_sys_no) if team_sys_no is not None else "未分班组")


def json_note(req) -> str:
    """The clerk's optional ``note`` of a JSON request (a retry, a review decision)."""
    note = req.json().get("note", "")
    if not isinstance(note, str):
        raise HttpError(400, "note must be a string")
    return note
