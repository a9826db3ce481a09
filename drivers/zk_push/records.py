"""Upload bodies of ZKTeco PUSH: ATTLOG and rtlog records, OPERLOG lines (pure, no I/O).

A body holds one record per line. A malformed line becomes a ``BadLine`` with the reason and the
rest of the body is still parsed: the terminal gets ``OK`` for the whole upload, so one bad line
must never cost the good ones (it would never be resent).

ATTLOG (attendance PUSH): ``PIN<HT>YYYY-MM-DD HH:MM:SS<HT>status<HT>verify<HT>workcode<HT>…``,
the time in the terminal's local zone. rtlog (security PUSH): HT-separated ``key=value`` pairs,
parsed by key (``time pin cardno eventaddr event inoutstatus verifytype index``). OPERLOG: user
and template operations (``OPLOG …``, ``USER PIN=…``, ``FP PIN=…``); only counted and, for
``USER`` lines, read to learn which users the terminal holds.
Source: ../shared/reference/protocols.md §3.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from . import codes

T = TypeVar("T")

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
MAX_LINE_CHARS = 4096          # a record line is < 200 characters; longer is garbage
_PIN = re.compile(r"[0-9A-Za-z_-]{1,24}")
_TIME = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2} [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}")
_INT = re.compile(r"-?[0-9]{1,6}")
_DIGITS = re.compile(r"[0-9]{1,20}")
_EXCERPT = 60


@dataclass(frozen=True)
class BadLine:
    line_no: int                # 1-based, in the body
    reason: str
    excerpt: str                # the start of the line, repr-safe (PINs and times only, no ID numbers)


@dataclass(frozen=True)
class Parsed(Generic[T]):
    records: list[T]
    bad: list[BadLine]
    blank: int = 0


@dataclass(frozen=True)
class AttRecord:
    """One ATTLOG line."""

    pin: str
    time_text: str              # exactly as sent: part of the de-duplication key
    time: datetime              # naive, the terminal's local time
    status: int
    verify: int
    workcode: str = "0"
    line_no: int = 0

    @property
    def status_name(self) -> str:
        return codes.status_name(self.status)

    @property
    def verify_name(self) -> str:
        return codes.verify_name(self.verify)

    @property
    def method(self) -> codes.VerifyMethod:
        return codes.verify_method(self.verify)

    @property
    def direction(self) -> str | None:
        return codes.status_direction(self.status)


@dataclass(frozen=True)
class RtRecord:
    """One rtlog line (security PUSH access event)."""

    time_text: str
    time: datetime
    pin: str                    # "" or "0" when no user was identified
    cardno: str
    event: int
    inoutstatus: int
    verifytype: int
    index: str                  # the terminal's record index: the de-duplication key
    eventaddr: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    line_no: int = 0

    @property
    def outcome(self) -> codes.Outcome:
        return codes.rtlog_outcome(self.event)

    @property
    def method(self) -> codes.VerifyMethod:
        return codes.verify_method(self.verifytype)

    @property
    def direction(self) -> str | None:
        return codes.inout_direction(self.inoutstatus)

    @property
    def person(self) -> bool:
        """Whether the event names a user or a card at all (alarms and door events do not)."""
        return self.pin not in ("", "0") or self.cardno not in ("", "0")


@dataclass(frozen=True)
class OperRecord:
    """One OPERLOG line: its kind (``OPLOG``, ``USER``, ``FP``, …) and its fields."""

    kind: str
    fields: dict[str, str]      # key=value fields (USER, FP, FACE …); positional ones as "0", "1", …
    line_no: int = 0


class LineError(ValueError):
    """Why one line is not a record (internal: becomes a ``BadLine``)."""


def body_lines(text: str):
    for no, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            yield no, None
        else:
            yield no, line


def excerpt(line: str) -> str:
    return repr(line[:_EXCERPT])[1:-1]


def parse_lines(text: str, parse_one) -> Parsed:
    records, bad, blank = [], [], 0
    for no, line in body_lines(text):
        if line is None:
            blank += 1
            continue
        if len(line) > MAX_LINE_CHARS:
            bad.append(BadLine(no, f"line longer than {MAX_LINE_CHARS} characters", excerpt(line)))
            continue
        try:
            records.append(parse_one(line, no))
        except LineError as exc:
            bad.append(BadLine(no, str(exc), excerpt(line)))
    return Parsed(records, bad, blank)


def _time(text: str, what: str = "time") -> datetime:
    try:
        if not _TIME.fullmatch(text.strip()):
            raise ValueError
        return datetime.strptime(text.strip(), TIME_FORMAT)
    except ValueError:
        raise LineError(f"{what} {text[:30]!r} is not YYYY-MM-DD HH:MM:SS") from None


def _int(text: str, what: str) -> int:
    t = text.strip()
    if not _INT.fullmatch(t):
        raise LineError(f"{what} {t[:20]!r} is not a number")
    return int(t)


def _pin(text: str) -> str:
    if not _PIN.fullmatch(text):
        raise LineError(f"PIN {text[:30]!r} is not 1-24 letters or digits")
    return text


# -- ATTLOG --------------------------------------------------------------------------------------
def parse_attlog_line(line: str, line_no: int = 0) -> AttRecord:
    cols = line.split("\t")
    if len(cols) < 2:
        raise LineError(f"{len(cols)} field(s); an ATTLOG line has PIN, time, status, verify …")
    pin = _pin(cols[0].strip())
    time_text = cols[1].strip()
    time = _time(time_text)
    # Old firmware leaves out the trailing columns: missing status is 255 (undefined), verify 0.
    status = _int(cols[2], "status") if len(cols) > 2 and cols[2].strip() else 255
    verify = _int(cols[3], "verify") if len(cols) > 3 and cols[3].strip() else 0
    workcode = cols[4].strip() if len(cols) > 4 else "0"
    return AttRecord(pin, time_text, time, status, verify, workcode, line_no)


def parse_attlog(text: str) -> Parsed[AttRecord]:
    return parse_lines(text, parse_attlog_line)


def format_attlog_line(pin: str, time: datetime, status: int = 0, verify: int = 15, workcode: str = "0") -> str:
    """The line a terminal uploads (used by the simulator); reserved columns are 0."""
    return "\t".join((pin, time.strftime(TIME_FORMAT), str(status), str(verify), workcode, "0", "0"))


# -- rtlog ---------------------------------------------------------------------------------------
def _pairs(line: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for col in line.split("\t"):
        key, sep, value = col.partition("=")
        key = key.strip()
        if not sep or not key:
            raise LineError(f"field {col[:30]!r} is not key=value")
        out[key.lower()] = value.strip()
    return out


def parse_rtlog_line(line: str, line_no: int = 0) -> RtRecord:
    f = _pairs(line)
    missing = [k for k in ("time", "event", "index") if k not in f]
    if missing:
        raise LineError("rtlog line lacks " + ", ".join(missing))
    pin = f.get("pin", "")
    if pin not in ("", "0"):
        _pin(pin)
    cardno = f.get("cardno", "")
    if cardno and not _DIGITS.fullmatch(cardno):
        raise LineError(f"cardno {cardno[:30]!r} is not a number")
    index = f["index"]
    if not _DIGITS.fullmatch(index):
        raise LineError(f"index {index[:30]!r} is not a number")
    return RtRecord(
        time_text=f["time"], time=_time(f["time"]), pin=pin, cardno=cardno,
        event=_int(f["event"], "event"),
        inoutstatus=_int(f["inoutstatus"], "inoutstatus") if f.get("inoutstatus") else 2,
        verifytype=_int(f["verifytype"], "verifytype") if f.get("verifytype") else 0,
        index=index, eventaddr=f.get("eventaddr", ""), fields=f, line_no=line_no,
    )


def parse_rtlog(text: str) -> Parsed[RtRecord]:
    return parse_lines(text, parse_rtlog_line)


def format_rtlog_line(*, time: datetime, pin: str, event: int, inoutstatus: int, verifytype: int, index: int,
                      cardno: str = "0", eventaddr: int = 1) -> str:
    return "\t".join((f"time={time.strftime(TIME_FORMAT)}", f"pin={pin}", f"cardno={cardno}",
                      f"eventaddr={eventaddr}", f"event={event}", f"inoutstatus={inoutstatus}",
                      f"verifytype={verifytype}", f"index={index}"))


# -- OPERLOG -------------------------------------------------------------------------------------
def parse_operlog_line(line: str, line_no: int = 0) -> OperRecord:
    kind, sep, rest = line.partition(" ")
    if not sep or not re.fullmatch(r"[A-Z][A-Z0-9_]{1,15}", kind):
        raise LineError(f"no operation kind (OPLOG, USER, FP …) at the start of {line[:20]!r}")
    fields: dict[str, str] = {}
    for i, col in enumerate(rest.split("\t")):
        key, eq, value = col.partition("=")
        if eq and re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,31}", key.strip()):
            fields[key.strip()] = value
        else:
            fields[str(i)] = col
    if kind == "USER":
        _pin(fields.get("PIN", "").strip())
    return OperRecord(kind, fields, line_no)


def parse_operlog(text: str) -> Parsed[OperRecord]:
    return parse_lines(text, parse_operlog_line)


def format_user_line(pin: str, name: str, card: str = "", pri: int = 0) -> str:
    """An OPERLOG ``USER`` line (a terminal reporting one of its users)."""
    return f"USER PIN={pin}\tName={name}\tPri={pri}\tPasswd=\tCard={card}\tGrp=1\tTZ=0000000100000000"
