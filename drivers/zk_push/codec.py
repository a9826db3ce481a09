"""ZKTeco PUSH codec (pure, no I/O): requests, the handshake, text encodings; with ``records``
(upload bodies) and ``commands`` (commands and their results) the whole plain-text protocol.

Endpoints the terminal calls (attendance PUSH; security PUSH adds registry/push/ping):
  GET  /iclock/cdata?SN=…&options=all&pushver=…&language=…   handshake -> option lines
  POST /iclock/cdata?SN=…&table=ATTLOG&Stamp=…                attendance records -> OK
  POST /iclock/cdata?SN=…&table=OPERLOG|ATTPHOTO|rtlog|…      other uploads -> OK
  POST /iclock/cdata?SN=…&table=tabledata&tablename=T&count=N -> "T=N"
  GET  /iclock/getrequest?SN=…                                 -> OK or C:<id>:<command> lines
  POST /iclock/devicecmd?SN=…                                  command results -> OK
Source: ../shared/reference/protocols.md §3.

Text encoding: terminals set to Chinese (handshake ``language=83``) send and expect GB2312. Bodies
are decoded tolerantly: UTF-8 first (which also covers plain ASCII), then GB18030, the superset of
GB2312 that decodes any byte sequence a Chinese terminal sends. What we send (user names in
commands) goes as GB18030 to such terminals and as UTF-8 to the others.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from sitegate.errors import ProtocolError

from . import codes
from .commands import (  # noqa: F401 - re-exported: the codec is one import for callers
    CHECK, INFO, QUERY_USERS, REBOOT, Command, CommandResult, command_lines, format_result, parse_command_line,
    parse_commands, parse_data_fields, parse_result_line, parse_results, set_option, user_delete, user_update,
)
from .records import (  # noqa: F401 - re-exported
    AttRecord, BadLine, OperRecord, Parsed, RtRecord, format_attlog_line, format_rtlog_line, format_user_line,
    parse_attlog, parse_operlog, parse_rtlog,
)

MAX_QUERY_CHARS = 2048
SERVER_VERSION = "2.4.1"
# What the terminal should upload in real time; "TransData" plus the tables (HT-separated).
TRANS_FLAG = "TransData AttLog\tOpLog\tAttPhoto\tEnrollUser\tChgUser"
STAMP_TABLES = ("ATTLOG", "OPERLOG", "ATTPHOTO")


@dataclass(frozen=True)
class Request:
    """What every terminal request carries in its query string."""

    sn: str
    params: dict[str, str]

    def get(self, key: str, default: str = "") -> str:
        return self.params.get(key, default)

    @property
    def table(self) -> str:
        return self.params.get("table", "")

    @property
    def chinese(self) -> bool:
        return self.params.get("language", "") == codes.LANGUAGE_CHINESE


def parse_request(query: str) -> Request:
    """The query string of any iclock request. Raises ProtocolError when SN is missing or odd."""
    if len(query) > MAX_QUERY_CHARS:
        raise ProtocolError(f"query string longer than {MAX_QUERY_CHARS} characters")
    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True, encoding="latin-1"):
        params.setdefault(key, value)
    sn = params.get("SN", "").strip()
    if not sn:
        raise ProtocolError("request without SN= (the terminal's serial number)")
    if len(sn) > 64 or not sn.isascii() or not sn.isprintable():
        raise ProtocolError(f"SN {sn[:64]!r} is not a serial number")
    return Request(sn, params)


def parse_stamp(value: str) -> str | None:
    """A Stamp as sent (decimal; some firmware sends 'None' before the first upload)."""
    value = value.strip()
    return value if value.isascii() and value.isdigit() and len(value) <= 20 else None


@dataclass(frozen=True)
class ServerOptions:
    """What the handshake reply tells the terminal."""

    sn: str
    stamps: dict[str, str] = field(default_factory=dict)   # table -> last stamp stored ("0" if none)
    error_delay_s: int = 30          # wait after a failed request
    delay_s: int = 10                # getrequest poll period
    trans_times: str = "00:00;14:05"
    trans_interval_min: int = 1
    trans_flag: str = TRANS_FLAG
    timezone_hours: int = 8
    realtime: bool = True
    server_version: str = SERVER_VERSION


def options_reply(opts: ServerOptions) -> str:
    lines = [f"GET OPTION FROM: {opts.sn}"]
    lines += [f"{table}Stamp={opts.stamps.get(table) or '0'}" for table in STAMP_TABLES]
    lines += [
        f"ErrorDelay={opts.error_delay_s}",
        f"Delay={opts.delay_s}",
        f"TransTimes={opts.trans_times}",
        f"TransInterval={opts.trans_interval_min}",
        f"TransFlag={opts.trans_flag}",
        f"TimeZone={opts.timezone_hours}",
        f"Realtime={1 if opts.realtime else 0}",
        "Encrypt=None",
        f"ServerVer={opts.server_version}",
    ]
    return "\n".join(lines) + "\n"


def parse_options_reply(text: str) -> dict[str, str]:
    """The terminal's side of the handshake. Raises ProtocolError when it is not an option reply."""
    lines = [ln.rstrip("\r") for ln in text.split("\n") if ln.strip()]
    if not lines or not lines[0].startswith("GET OPTION FROM:"):
        raise ProtocolError("handshake reply does not start with 'GET OPTION FROM:'")
    out = {"SN": lines[0].partition(":")[2].strip()}
    for line in lines[1:]:
        key, eq, value = line.partition("=")
        if eq:
            out[key.strip()] = value.strip()
    return out


def registry_reply(code: str) -> str:
    """Security PUSH ``/iclock/registry`` answer (unconfirmed beyond the reference's one line)."""
    return f"RegistryCode={code}\n"


def tabledata_reply(tablename: str, count: int) -> str:
    """``table=tabledata&tablename=T&count=N`` is answered ``T=N`` (the terminal checks it)."""
    return f"{tablename}={count}"


def decode_body(data: bytes) -> str:
    """UTF-8 when it is valid UTF-8, else GB18030 (Chinese terminals); never raises."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030", errors="replace")


def encode_text(text: str, chinese: bool) -> bytes:
    """Text for a terminal: GB18030 for Chinese terminals (language=83), else UTF-8."""
    return text.encode("gb18030" if chinese else "utf-8", errors="replace")
