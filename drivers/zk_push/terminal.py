"""The state of a simulated ZKTeco terminal: its users, its record log and Stamp, and how it
executes server commands. No I/O: ``simulator`` moves these over HTTP.

Records are numbered 1, 2, 3 …; the Stamp the terminal uploads is the number of the last record
in the batch and the server's ``ATTLOGStamp`` tells it where to go on after a handshake (0: send
the whole history again).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Literal
from zoneinfo import ZoneInfo

from . import codec
from .codes import LANGUAGE_CHINESE, VERIFY_NAMES

Dialect = Literal["attendance", "access"]
SHANGHAI = ZoneInfo("Asia/Shanghai")
_VERIFY_CODES = {name: code for code, name in VERIFY_NAMES.items()}
# rtlog event codes the simulator uses: 0 normal verify (granted), 23 access denied.
EVENT_GRANTED, EVENT_DENIED = 0, 23


@dataclass
class SimUser:
    name: str
    card: str = ""
    pri: int = 0


@dataclass
class Record:
    seq: int
    line: str


@dataclass
class ZkTerminal:
    sn: str
    dialect: Dialect = "attendance"
    language: str = "83"
    clock: Callable[[], datetime] = lambda: datetime.now(SHANGHAI).replace(tzinfo=None)   # local, naive
    users: dict[str, SimUser] = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)
    sent_upto: int = 0                       # records up to this seq have been acknowledged
    options: dict[str, str] = field(default_factory=dict)
    fail_codes: dict[str, int] = field(default_factory=dict)   # PIN -> Return code for its commands
    executed: list[str] = field(default_factory=list)          # command texts, in order
    garbage: list[str] = field(default_factory=list)           # lines to slip into the next upload
    operlog: list[str] = field(default_factory=list)           # USER lines waiting to be uploaded
    results: list[str] = field(default_factory=list)           # devicecmd lines waiting to be posted
    needs_handshake: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def table(self) -> str:
        return "rtlog" if self.dialect == "access" else "ATTLOG"

    @property
    def chinese(self) -> bool:
        return self.language == LANGUAGE_CHINESE

    # -- people at the terminal ------------------------------------------------------------------
    def punch(self, pin: str, verify: str | int = "face", status: int = 0, at: datetime | None = None) -> int:
        code = verify if isinstance(verify, int) else _VERIFY_CODES[verify]
        at = (at or self.clock()).replace(microsecond=0)
        with self.lock:
            seq = len(self.records) + 1
            if self.dialect == "access":
                line = codec.format_rtlog_line(
                    time=at, pin=pin, event=EVENT_GRANTED if pin in self.users else EVENT_DENIED,
                    inoutstatus=1 if status == 1 else 0, verifytype=code, index=seq,
                    cardno=self.users[pin].card or "0" if pin in self.users else "0")
            else:
                line = codec.format_attlog_line(pin, at, status, code)
            self.records.append(Record(seq, line))
            return seq

    # -- the handshake ---------------------------------------------------------------------------
    def apply_options(self, options: dict[str, str]) -> None:
        with self.lock:
            self.options = options
            stamp = options.get(f"{self.table.upper()}Stamp", options.get("ATTLOGStamp", "0"))
            if stamp.isdigit():
                self.sent_upto = min(int(stamp), len(self.records))
            self.needs_handshake = False

    def reset_stamp(self) -> None:
        """Forget what was sent: the whole history goes up again."""
        with self.lock:
            self.sent_upto = 0

    # -- uploads ---------------------------------------------------------------------------------
    def next_batch(self, limit: int = 100) -> tuple[str, int] | None:
        """(body, stamp) of the next records to upload, or None."""
        with self.lock:
            todo = [r for r in self.records if r.seq > self.sent_upto][:limit]
            if not todo and not self.garbage:
                return None
            lines = [r.line for r in todo]
            for i, junk in enumerate(self.garbage):      # garbage between the good lines
                lines.insert(min(len(lines), 1 + i), junk)
            stamp = todo[-1].seq if todo else self.sent_upto
            return "\n".join(lines) + "\n", stamp

    def acknowledged(self, stamp: int) -> None:
        with self.lock:
            self.sent_upto = max(self.sent_upto, stamp)
            self.garbage.clear()

    @property
    def unsent(self) -> int:
        with self.lock:
            return sum(1 for r in self.records if r.seq > self.sent_upto)

    # -- commands --------------------------------------------------------------------------------
    def execute(self, cmd: codec.Command) -> None:
        """Run one command; its result line waits in ``results`` for the next devicecmd post."""
        text = cmd.text
        verb = text.split(" ", 1)[0]
        with self.lock:
            self.executed.append(text)
            code = self._execute(text)
            self.results.append(codec.format_result(cmd.id, code, verb))

    def _execute(self, text: str) -> int:
        if text.startswith("DATA UPDATE USERINFO "):
            f = codec.parse_data_fields(text[len("DATA UPDATE USERINFO "):])
            pin = f.get("PIN", "").strip()
            if not pin:
                return -1
            if pin in self.fail_codes:
                return self.fail_codes[pin]
            self.users[pin] = SimUser(f.get("Name", ""), f.get("Card", ""), int(f.get("Pri", "0") or 0))
            return 0
        if text.startswith("DATA DELETE USERINFO "):
            pin = codec.parse_data_fields(text[len("DATA DELETE USERINFO "):]).get("PIN", "").strip()
            if pin in self.fail_codes:
                return self.fail_codes[pin]
            self.users.pop(pin, None)
            return 0
        if text.strip() == codec.QUERY_USERS:
            self.operlog += [codec.format_user_line(pin, u.name, u.card, u.pri) for pin, u in self.users.items()]
            return 0
        if text.startswith("SET OPTION "):
            key, _, value = text[len("SET OPTION "):].partition("=")
            self.options[key.strip()] = value
            return 0
        if text.strip() in (codec.CHECK, codec.REBOOT):
            self.needs_handshake = True
            return 0
        if text.strip() == codec.INFO:
            return 0
        return -1     # a command this terminal does not know

    def take_results(self) -> list[str]:
        with self.lock:
            out, self.results = self.results, []
            return out

    def take_operlog(self) -> list[str]:
        with self.lock:
            out, self.operlog = self.operlog, []
            return out
