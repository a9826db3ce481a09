"""Server-to-terminal commands of ZKTeco PUSH and the terminal's results (pure, no I/O).

The terminal polls ``GET /iclock/getrequest``; the reply is ``OK`` or lines ``C:<id>:<command>``.
It answers with ``POST /iclock/devicecmd``, one ``ID=<id>&Return=<code>&CMD=<name>`` line per
command; Return 0 is success. The CMD value is not URL-encoded, so the line is split on ``&``
by hand rather than with a query-string parser.
Source: ../shared/reference/protocols.md §3 (ZKTeco PushDemo ``PushUtil``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .records import MAX_LINE_CHARS, BadLine, LineError, Parsed, excerpt, body_lines, parse_lines

INFO = "INFO"
CHECK = "CHECK"
REBOOT = "REBOOT"
# Ask the terminal to upload its user list as OPERLOG ``USER`` lines. (unconfirmed: PushDemo lists
# DATA QUERY ATTLOG; firmware that does not know USERINFO answers an error code, which is harmless.)
QUERY_USERS = "DATA QUERY USERINFO"

_ID = re.compile(r"[0-9]{1,10}")
_RETURN = re.compile(r"-?[0-9]{1,10}")
_FIELD_FORBIDDEN = re.compile(r"[\t\r\n\x00]")


@dataclass(frozen=True)
class Command:
    id: int
    text: str

    def line(self) -> str:
        return f"C:{self.id}:{self.text}"


@dataclass(frozen=True)
class CommandResult:
    id: int
    code: int                               # 0 = success
    cmd: str = ""                           # the command's first word (DATA, INFO, …)
    extra: dict[str, str] = field(default_factory=dict)
    line_no: int = 0

    @property
    def ok(self) -> bool:
        return self.code == 0


def clean_field(value: str) -> str:
    """A value fit for an HT-separated command: tabs, line breaks and NULs become spaces."""
    return _FIELD_FORBIDDEN.sub(" ", value).strip()


def user_update(pin: int | str, name: str, card: str | None = None, *, password: str = "") -> str:
    """``DATA UPDATE USERINFO`` (create or change) for one user. Pri=0: an ordinary user, never
    a terminal administrator; Grp=1 the default access group."""
    return ("DATA UPDATE USERINFO "
            f"PIN={clean_field(str(pin))}\tName={clean_field(name)}\tPri=0\tPasswd={clean_field(password)}"
            f"\tCard={clean_field(card or '')}\tGrp=1")


def user_delete(pin: int | str) -> str:
    return f"DATA DELETE USERINFO PIN={clean_field(str(pin))}"


def set_option(key: str, value: str) -> str:
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,63}", key):
        raise ValueError(f"option name {key!r} is not a ZKTeco option name")
    return f"SET OPTION {key}={clean_field(value)}"


def command_lines(commands: list[Command]) -> str:
    """The body of a getrequest reply: ``OK`` when there is nothing to do."""
    return "\n".join(c.line() for c in commands) + "\n" if commands else "OK"


# -- terminal side (the simulator) ---------------------------------------------------------------
def parse_command_line(line: str, line_no: int = 0) -> Command:
    head, sep, rest = line.partition(":")
    cmd_id, sep2, text = rest.partition(":")
    if head != "C" or not sep or not sep2:
        raise LineError(f"{line[:20]!r} is not C:<id>:<command>")
    if not _ID.fullmatch(cmd_id):
        raise LineError(f"command id {cmd_id[:20]!r} is not a number")
    if not text.strip():
        raise LineError(f"command {cmd_id} is empty")
    return Command(int(cmd_id), text)


def parse_commands(text: str) -> Parsed[Command]:
    """A getrequest reply; ``OK`` alone means no commands."""
    if text.strip() == "OK":
        return Parsed([], [])
    return parse_lines(text, parse_command_line)


def parse_data_fields(text: str) -> dict[str, str]:
    """``PIN=1001<HT>Name=张三<HT>…`` -> {"PIN": "1001", "Name": "张三", …}."""
    out = {}
    for col in text.split("\t"):
        key, eq, value = col.partition("=")
        if eq:
            out[key.strip()] = value
    return out


def format_result(cmd_id: int, code: int, cmd: str) -> str:
    return f"ID={cmd_id}&Return={code}&CMD={cmd}"


# -- server side: the results ------------------------------------------------------------------
def parse_result_line(line: str, line_no: int = 0) -> CommandResult:
    fields: dict[str, str] = {}
    for part in line.split("&"):
        key, eq, value = part.partition("=")
        if eq and key.strip():
            fields.setdefault(key.strip(), value.strip())
    cmd_id, code = fields.pop("ID", None), fields.pop("Return", None)
    if cmd_id is None or code is None:
        raise LineError("result line lacks " + " and ".join(k for k, v in (("ID", cmd_id), ("Return", code)) if v is None))
    if not _ID.fullmatch(cmd_id):
        raise LineError(f"result ID {cmd_id[:20]!r} is not a number")
    if not _RETURN.fullmatch(code):
        raise LineError(f"Return {code[:20]!r} is not a number")
    return CommandResult(int(cmd_id), int(code), fields.pop("CMD", ""), fields, line_no)


def parse_results(text: str) -> Parsed[CommandResult]:
    """A devicecmd body. ``key=value`` lines after a result (INFO sends its details that way)
    go into that result's ``extra``; anything else is a bad line."""
    records: list[CommandResult] = []
    bad: list[BadLine] = []
    blank = 0
    for no, line in body_lines(text):
        if line is None:
            blank += 1
        elif line.startswith(("ID=", "Return=")) or "&Return=" in line:
            try:
                records.append(parse_result_line(line, no))
            except LineError as exc:
                bad.append(BadLine(no, str(exc), excerpt(line)))
        elif records and "=" in line and len(line) <= MAX_LINE_CHARS:
            key, _, value = line.partition("=")
            records[-1].extra.setdefault(key.strip().lstrip("~"), value.strip())
        else:
            bad.append(BadLine(no, "not ID=<id>&Return=<code>&CMD=<name>", excerpt(line)))
    return Parsed(records, bad, blank)
