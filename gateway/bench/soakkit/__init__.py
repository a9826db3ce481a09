"""The soak and fault harness: a whole site on simulators, the gateway as its own process,
faults on a seeded schedule, and a tally of every passage against what the platform received.

    from sitegate.bench.soakkit import SoakSettings, run_soak
    result = run_soak(SoakSettings(workers=300, lanes=4, kills=5))
    result.lost            # passages acknowledged at a gate that never reached the platform

``sitegate bench soak`` (gateway/bench/soak.py) prints the figures; docs/soak.md defines every
count. The Mosquitto-bridge comparison (mosquitto.py) runs beside it with the same events and the
same SIGKILL schedule.
"""
from sitegate.bench.soakkit.harness import run_soak
from sitegate.bench.soakkit.settings import SoakSettings
from sitegate.bench.soakkit.tally import SoakResult

__all__ = ["SoakResult", "SoakSettings", "run_soak"]
