"""Drivers that misbehave on purpose, to prove the supervisor contains them."""
import threading
import time

from sitegate.drivers.api import Credential, CredentialKind, Driver, HealthState
from sitegate.model import Method


class _Base(Driver):
    TRANSPORT = "test"
    runs = 0

    def emit_card(self, n: str = "3659533"):
        return self.ctx.emit(self.observation(Credential(CredentialKind.CARD, n), Method.CARD))


class CrashDriver(_Base):
    NAME = "test-crash"

    def run(self, stop):
        type(self).runs += 1
        self.set_health(HealthState.UP)
        self.emit_card()
        raise RuntimeError("firmware said no")


class HangDriver(_Base):
    NAME = "test-hang"
    HEARTBEAT_S = 0.2

    def __init__(self, ctx):
        super().__init__(ctx)
        self._never = threading.Event()

    def run(self, stop):
        type(self).runs += 1
        self.set_health(HealthState.UP)
        self._never.wait()        # stuck in a read that never returns...

    def close(self):
        self._never.set()         # ...until its port is closed


class FloodDriver(_Base):
    NAME = "test-flood"

    def run(self, stop):
        self.set_health(HealthState.UP)
        while not stop.is_set():
            self.ctx.beat()
            self.emit_card(str(int(time.monotonic_ns() % 10**9)))


class SteadyDriver(_Base):
    NAME = "test-steady"

    def run(self, stop):
        self.set_health(HealthState.UP)
        while not stop.wait(0.05):
            self.ctx.beat()
            self.emit_card()
