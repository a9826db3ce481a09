"""``ga467-serial``: a resident ID-card reader (SAM module) on a serial or USB-serial port.

At start: SAM status (11 FF), SAM id (12 FF, shown in the health reason) and the max RF frame
(61 FF 50), as vendor samples do; then find → select → read every ``poll_interval`` (the
reference's ~1 s loop, reference/protocols.md §1). Each presentation of a card becomes one
Observation (credential = the ID number on the card, method IDCARD, identity from its text block);
a card lying on the reader is reported once (again after ``repeat_after_s`` if set).

Personal data: the WLT photo is not a JPEG (only the vendor's licensed library decodes it) and
sitegate could never show it, so it is dropped at once, as are fingerprint templates; the name
and ID number go only into the observation (the store encrypts them) and logs mask them.

A reader has no door: ``open()`` and ``deny()`` do nothing (the turnstile beside it has its own
driver). Unplugging raises DeviceUnavailable (health DOWN "unplugged"); the supervisor reopens the
port with backoff and the reader comes back by itself. A reader that stops answering on an open
port is DOWN "not answering" until it answers again, then initialised anew.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from dataclasses import replace
from typing import Any

import serial

from sitegate.config.schema import Key, between, positive
from sitegate.drivers.api import (
    Credential, CredentialKind, DeviceUnavailable, Driver, HealthState, IdentityDoc,
)
from sitegate.errors import StoreError
from sitegate.idcard import mask
from sitegate.model import Method

from . import status as sw
from .card import FOREIGN_PERMANENT, FOREIGN_PERMANENT_2023, HMT_RESIDENCE, RESIDENT, IdCard
from .reader import READ_SLICE, Ga467Reader, ReaderDisconnected, ReaderError, ReaderTimeout

log = logging.getLogger(__name__)

# The platform's idCardType per card type. Only "01" (resident ID card) is confirmed
# (reference/protocols.md §5); the platform's full code list is issued to registered vendors and
# is not public, so the others carry "99" (other document; unconfirmed). It matters little: for a
# worker on the roster the roster's own idCardType is what is recorded and sent.
ID_CARD_TYPES = {RESIDENT: "01", HMT_RESIDENCE: "99", FOREIGN_PERMANENT: "99", FOREIGN_PERMANENT_2023: "99"}

NOT_ANSWERING_AFTER = 3        # consecutive unanswered polls before health says so
ERROR_WINDOW = 20              # polls looked at for the error rate
DEGRADED_FAILURES = 10         # failed polls within the window that make the line "noisy"


def open_port(port: str, baudrate: int = 115200) -> serial.Serial:
    """The reader's port, locked against a second user (``sitegate card read`` while the daemon
    reads would garble both). Raises DeviceUnavailable naming the problem."""
    try:
        return serial.Serial(port, baudrate, timeout=READ_SLICE, exclusive=True)
    except serial.SerialException as exc:
        raise DeviceUnavailable(f"cannot open {port}: {exc}") from None
    except ValueError as exc:   # a baud rate the port refuses
        raise DeviceUnavailable(f"cannot open {port} at {baudrate} baud: {exc}") from None


def identity_of(card: IdCard) -> IdentityDoc:
    # "长期" (long-term) is None; so is a card without a validity (the reader checked the rest)
    until = card.valid_to_date if card.valid_to else None
    return IdentityDoc(id_number=card.id_number, name=card.display_name,
                       id_card_type=ID_CARD_TYPES.get(card.card_type, "99"),
                       valid_to=until.isoformat() if until else None, expired=card.expired)


def read_one_card(port: str, timeout: float, *, baudrate: int = 115200, poll_interval: float = 0.2) -> IdCard | None:
    """The next card presented on the reader at ``port`` within ``timeout`` seconds, or None.

    For enrolment and checks at the clerk's desk (``sitegate card read``). The photo and
    fingerprint are dropped from the result. Raises DeviceUnavailable when the port cannot be used.
    """
    with open_port(port, baudrate) as link:
        reader = Ga467Reader(link, min_gap=0.0)
        try:
            reader.initialise()
        except ReaderError as exc:
            raise DeviceUnavailable(f"the reader at {port} is not ready: {exc.reason}") from None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                card = reader.poll_once()
            except ReaderDisconnected as exc:
                raise DeviceUnavailable(f"the reader at {port} went away: {exc.reason}") from None
            except ReaderError:
                card = None               # the card moved, a noisy reply: try again
            if card is not None:
                return replace(card, photo_wlt=b"", fingerprint=None)
            time.sleep(poll_interval)
    return None


class Ga467Driver(Driver):
    NAME = "ga467-serial"
    DESCRIPTION = "Resident ID-card reader (SAM module, AA AA AA 96 69 frames) on a serial or USB port"
    TRANSPORT = "serial"
    MODE = "poll"
    HEARTBEAT_S = 15.0
    CONFIG_KEYS = {
        "port": Key(str, "the reader's serial device, e.g. /dev/ttyUSB0 or /dev/serial/by-id/…", required=True),
        "baudrate": Key(int, "line speed (SAM modules: 115200)", default=115200, check=positive),
        "poll_interval": Key((int, float), "seconds between find-card requests", default=1.0, check=between(0.05, 10)),
        "repeat_after_s": Key((int, float), "a card left on the reader counts as a new presentation after this "
                                            "many seconds (unset: only once it was taken away)", check=positive),
        "fingerprint": Key(bool, "read with 30 10 (text, photo and fingerprint templates; the templates are "
                                 "dropped)", default=False),
    }

    def __init__(self, ctx):
        super().__init__(ctx)
        o = {k: spec.default for k, spec in self.CONFIG_KEYS.items()} | dict(self.options)
        self.port_name = str(o["port"])
        self.baudrate = int(o["baudrate"])
        self.poll_interval = float(o["poll_interval"])
        self.repeat_after = float(o["repeat_after_s"]) if o["repeat_after_s"] is not None else None
        self.fingerprint = bool(o["fingerprint"])
        self.reader: Ga467Reader | None = None
        self.sam_id = ""
        self._port: serial.Serial | None = None
        self._closing = threading.Event()
        self._unanswered = 0
        self._failures: deque[bool] = deque(maxlen=ERROR_WINDOW)
        self._last_problem = ""
        self._reader_fault = ""

    @classmethod
    def probe(cls, options: dict[str, Any], timeout: float = 3.0) -> str | None:
        """Open the port, ask the SAM its status (11 FF), close. A port locked by another process
        (the running daemon reading it) counts as present: ``sitegate status`` has its health."""
        port = str(options.get("port"))
        try:
            link = open_port(port, int(options.get("baudrate") or 115200))
        except DeviceUnavailable as exc:
            if "exclusively lock" in str(exc):
                log.info("reader at %s is in use by another process; not probed", port)
                return None
            return str(exc)
        with link:
            try:
                Ga467Reader(link, command_timeout=timeout).status()
            except ReaderError as exc:
                return f"reader at {port}: {exc.reason}"
        return None

    # -- lifecycle -------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        try:
            try:
                self._port = open_port(self.port_name, self.baudrate)
            except DeviceUnavailable as exc:
                gone = not os.path.exists(self.port_name)
                self.set_health(HealthState.DOWN, f"unplugged: {self.port_name} is not there" if gone else str(exc))
                raise
            self.reader = Ga467Reader(self._port, fingerprint=self.fingerprint, repeat_after=self.repeat_after)
            self._initialise()
            while not stop.is_set():
                self.ctx.beat()
                self._poll()
                self._refresh_health()
                stop.wait(self.poll_interval)
        except DeviceUnavailable:
            if self._closing.is_set() or stop.is_set():
                return                     # close() took the port away: not the device's fault
            raise
        finally:
            self.close()

    def close(self) -> None:
        self._closing.set()
        port, self._port = self._port, None
        if port is not None:
            port.close()

    def _initialise(self) -> None:
        reader = self.reader
        assert reader is not None
        try:
            reader.status()
            try:
                self.sam_id = reader.sam_id()
            except ReaderError as exc:    # some modules do not give their id; the reader still works
                if isinstance(exc, ReaderDisconnected):
                    raise
                self.sam_id = "unknown"
            reader.set_max_rf_frame(0x50)
        except ReaderDisconnected as exc:
            self._unplugged(exc)
        except ReaderTimeout as exc:
            self.set_health(HealthState.DOWN, f"not answering: {exc.reason}")
            raise DeviceUnavailable(f"reader at {self.port_name} not answering: {exc.reason}") from None
        except ReaderError as exc:
            self.set_health(HealthState.DOWN, f"SAM not ready: {exc.reason}")
            raise DeviceUnavailable(f"reader at {self.port_name}: SAM not ready: {exc.reason}") from None
        self._unanswered = 0
        self.set_health(HealthState.UP, f"SAM {self.sam_id}")

    def _unplugged(self, exc: ReaderError) -> None:
        if self._closing.is_set():        # close() took the port from under the read
            raise DeviceUnavailable("port closed") from None
        self.set_health(HealthState.DOWN, f"unplugged: {exc.reason}")
        raise DeviceUnavailable(f"reader at {self.port_name} unplugged: {exc.reason}") from None

    # -- polling ---------------------------------------------------------------------------------
    def _poll(self) -> None:
        reader = self.reader
        assert reader is not None
        try:
            card = reader.poll_once()
        except ReaderDisconnected as exc:
            self._unplugged(exc)
            return
        except ReaderTimeout as exc:
            self._unanswered += 1
            self._failed(exc.reason)
            return
        except ReaderError as exc:
            self._reader_error(exc)
            return
        except (OSError, TypeError, ValueError) as exc:   # pyserial torn down under a read by close()
            if self._closing.is_set():
                raise DeviceUnavailable("port closed") from None
            raise
        if self._unanswered >= NOT_ANSWERING_AFTER:
            log.info("reader at %s answers again: initialising it", self.port_name)
            self._initialise()            # it may have been power-cycled: set it up again
        self._unanswered = 0
        self._failures.append(False)
        if card is not None:
            self._emit(card)

    def _reader_error(self, exc: ReaderError) -> None:
        category = exc.category
        if category == "card":           # the card moved away early, or is damaged: present it again
            log.debug("reader at %s: %s", self.port_name, exc.reason)
            self._failures.append(False)
            return
        if category == "reader":
            self._reader_fault = exc.reason
        self._failed(exc.reason)
        log.warning("reader at %s: %s", self.port_name, exc.reason)

    def _failed(self, reason: str) -> None:
        self._failures.append(True)
        self._last_problem = reason

    def _emit(self, card: IdCard) -> None:
        extra: dict[str, Any] = {"card_type": card.card_type}
        if not card.id_number_ok:
            extra["id_number_check"] = "failed"
        obs = self.observation(Credential(CredentialKind.ID_NUMBER, card.id_number), Method.IDCARD,
                               identity=identity_of(card), photo=None, extra=extra)
        try:
            self.ctx.emit(obs)
        except StoreError as exc:
            # Not recorded: forget the presentation so the card, still on the reader, is read again.
            log.error("card %s at %s not stored: %s", mask(card.id_number), self.ctx.device_id, exc)
            if self.reader is not None and self._port is not None:
                self.reader.attach(self._port)

    # -- health ----------------------------------------------------------------------------------
    def _refresh_health(self) -> None:
        reader = self.reader
        if reader is not None:
            c = reader.counters
            request_errors = sum(n for code, n in c.status_errors.items() if sw.category(code) == "request")
            self.protocol_errors = reader.parser.errors["garbage"] + c.corrupt_replies + c.bad_card_data + request_errors
        failures = sum(self._failures)
        if self._unanswered >= NOT_ANSWERING_AFTER:
            self.set_health(HealthState.DOWN, f"not answering ({self._unanswered} polls unanswered)")
        elif failures >= DEGRADED_FAILURES:
            self.set_health(HealthState.DEGRADED, f"{failures} of the last {len(self._failures)} polls failed: "
                                                  f"{self._reader_fault or self._last_problem}")
        else:
            self._reader_fault = ""
            self.set_health(HealthState.UP, f"SAM {self.sam_id}")
