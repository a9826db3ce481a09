"""A Wiegand-to-serial converter prints each card it reads as one decimal number and a newline.

Everything this driver uses is sitegate's public driver API (sitegate.drivers.api) and pyserial.
"""
from __future__ import annotations

import threading

import serial

from sitegate.config.schema import Key, positive
from sitegate.drivers.api import Credential, CredentialKind, DeviceUnavailable, Driver, HealthState
from sitegate.errors import ProtocolError
from sitegate.model import Method

MAX_LINE = 32


class WiegandLinesDriver(Driver):
    NAME = "wiegand-lines"
    DESCRIPTION = "Wiegand-to-serial card reader printing one card number per line"
    TRANSPORT = "serial"
    MODE = "push"
    HEARTBEAT_S = 5.0
    CONFIG_KEYS = {
        "port": Key(str, "serial device, e.g. /dev/ttyUSB0", required=True),
        "baudrate": Key(int, "line speed", default=9600, check=positive),
    }

    def __init__(self, ctx):
        super().__init__(ctx)
        self._port: serial.Serial | None = None

    def run(self, stop: threading.Event) -> None:
        try:
            self._port = serial.Serial(self.options["port"], self.options.get("baudrate", 9600), timeout=0.5)
        except serial.SerialException as exc:
            self.set_health(HealthState.DOWN, f"cannot open {self.options['port']}: {exc}")
            raise DeviceUnavailable(str(exc)) from None
        self.set_health(HealthState.UP)
        try:
            while not stop.is_set():
                self.ctx.beat()
                try:
                    line = self._port.readline(MAX_LINE + 2)
                except serial.SerialException as exc:
                    self.set_health(HealthState.DOWN, f"read failed: {exc}")
                    raise DeviceUnavailable(str(exc)) from None
                if not line:
                    continue
                try:
                    number = parse_line(line)
                except ProtocolError as exc:
                    self.protocol_errors += 1
                    self.log.warning("device %s: %s", self.ctx.device_id, exc)
                    continue
                self.ctx.emit(self.observation(Credential(CredentialKind.CARD, number), Method.CARD))
        finally:
            self.close()

    def close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            port.close()


def parse_line(line: bytes) -> str:
    text = line.strip()
    if not text.isdigit() or len(text) > 10:
        raise ProtocolError(f"not a card number: {line[:MAX_LINE]!r}")
    return text.decode("ascii")
