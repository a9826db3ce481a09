"""The soak in its short CI form (``sitegate bench soak --quick``): 300 workers on 6 lanes (one of
each kind), the gateway SIGKILLed 5 times and every fault once, then the tally. Nothing
acknowledged at a gate may be missing at the platform without a dead letter, and no record may
reach the platform twice outside the lost-response window. The Mosquitto comparison runs too; its
loss depends on timing, so only its running and counting is checked here (test_soak_bridge.py
makes the loss deterministic)."""
import pytest

from sitegate.bench.soakkit import SoakSettings, run_soak
from sitegate.bench.soakkit import mosquitto
from sitegate.bench.soakkit.gatewayproc import faketime_library
from sitegate.bench.soakkit.report import figures

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]


def test_short_soak_loses_nothing_and_duplicates_nothing(tmp_path):
    settings = SoakSettings.quick(workdir=tmp_path / "soak", progress=False)
    result = run_soak(settings)

    detail = "\n".join(f"{m.passage.kind} {m.passage.direction} seq {m.passage.seq}: {m.verdict}" for m in result.lost)
    assert result.lost_count == 0, detail
    assert result.duplicates_unexplained == 0
    assert result.kills == settings.kills and result.starts >= settings.kills + 1
    # the shift really happened: nearly every planned passage got through despite the faults
    assert result.acknowledged >= 0.95 * result.planned
    assert result.gateway_admitted >= result.acknowledged
    assert result.platform_records > 0.5 * result.acknowledged
    # every acknowledged passage is accounted for: delivered, dead-lettered with a reason, or waiting
    delivered = result.acknowledged - len(result.dead) - len(result.queued)
    assert delivered <= result.platform_records
    assert all(m.detail for m in result.dead)
    # every fault ran (the clock jump only where libfaketime is installed)
    ran = " ".join(result.faults)
    for what in ("platform down", "platform back", "error_rate", "drop_rate", "unplug", "replug",
                 "close_socket", "reopen_socket", "disk full", "disk space back"):
        assert what in ran, what
    if faketime_library():
        assert "wall clock offset +2h" in ran
    else:
        assert any("clock_jump SKIPPED" in s for s in result.skipped_faults)
    assert result.max_backlog > 0 and result.peak_rss_mb > 0
    if mosquitto.available():
        mq = result.mosquitto
        assert mq is not None and mq.local_kills == settings.kills
        assert mq.published == result.acknowledged and isinstance(mq.lost, int) and mq.lost >= 0
    key = figures(result)[0]
    assert key.target == "= 0" and key.met is True
