"""The comparison's brokers behave as the comparison claims: a local Mosquitto at its default
autosave keeps a queue for a down platform only in memory, so a SIGKILL loses every event it had
already PUBACKed; without a kill, everything arrives. Real /usr/sbin/mosquitto processes."""
import time

import pytest

from sitegate.bench.soakkit import mosquitto

pytestmark = [pytest.mark.mqtt,
              pytest.mark.skipif(not mosquitto.available(), reason=f"{mosquitto.MOSQUITTO} is missing")]


def _wait_acked(cmp, n: int, limit_s: float = 20.0) -> None:
    """Wait for the local broker's PUBACKs (a guard against hanging, not a timing assertion)."""
    deadline = time.monotonic() + limit_s
    while len(cmp.acknowledged()) < n:
        assert time.monotonic() < deadline, f"only {len(cmp.acknowledged())} of {n} PUBACKed"
        time.sleep(0.02)


def test_a_killed_local_broker_loses_what_it_acknowledged_for_a_down_platform(tmp_path):
    cmp = mosquitto.BridgeComparison(tmp_path)
    cmp.start()
    try:
        cmp.platform_down()
        for i in range(30):
            cmp.publish(f"e{i}")
        _wait_acked(cmp, 30)             # the device was told "delivered" 30 times
        cmp.kill_local()
        cmp.start_local()
        cmp.platform_back()
        result = cmp.finish(settle_s=3.0, limit_s=30.0)
    finally:
        cmp.close()
    assert (result.published, result.acknowledged, result.local_kills) == (30, 30, 1)
    assert result.lost == 30 and result.received == 0


def test_without_a_kill_the_bridge_delivers_everything_after_the_outage(tmp_path):
    cmp = mosquitto.BridgeComparison(tmp_path)
    cmp.start()
    try:
        cmp.platform_down()
        for i in range(30):
            cmp.publish(f"e{i}")
        _wait_acked(cmp, 30)
        cmp.platform_back()
        result = cmp.finish(settle_s=5.0, limit_s=40.0)
    finally:
        cmp.close()
    assert result.acknowledged == 30 and result.received == 30 and result.lost == 0
