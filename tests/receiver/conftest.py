"""A real reference platform on 127.0.0.1 (ephemeral port) and a client for it, sharing one
hand-driven clock so the async delay and the timestamp window are tested without sleeping."""
from __future__ import annotations

import pytest
from receiver_helpers import APPID, ROSTER, SECRET, START, ManualClock

from sitegate.receiver import Receiver
from sitegate.uplink.national import NationalClient


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def receiver(clock, tmp_path):
    rx = Receiver(APPID, SECRET, str(tmp_path / "platform.db"), roster=ROSTER, clock=clock, seed=7)
    rx.start()
    yield rx
    rx.stop()


@pytest.fixture
def client(receiver, clock):
    c = NationalClient(receiver.url, APPID, SECRET, clock=clock, timeout=(2.0, 10.0))
    yield c
    c.close()
