"""The [geofence] table: validated by the config loader (FILE:LINE: key: problem), defaults filled
in, and turned into the geofence core's settings."""
from __future__ import annotations

import pytest

from sitegate.config import loads
from sitegate.errors import ConfigError
from sitegate.geofence.settings import IntakeSettings

BASE = '[site]\nproject_code = "370102202300001"\ngateway_id = "gw"\ndata_dir = "/tmp/x"\n[uplink]\nenabled = false\n'


def test_defaults_are_the_reference_rule():
    s = IntakeSettings.from_config(loads(BASE))
    assert (s.decision.margin_factor, s.decision.min_margin_m, s.decision.max_accuracy_m, s.decision.max_age_s) == \
        (1.2, 10.0, 100.0, 60.0)
    assert (s.hysteresis.dwell_s, s.hysteresis.max_gap_s, s.spoof.max_speed_mps) == (30.0, 600.0, 55.0)
    assert s.rate_per_s == pytest.approx(0.2) and s.rate_burst == 20 and s.mqtt_intake is False
    assert s.mqtt_topic == "sitegate/370102202300001/clockin"
    # a configuration built by hand, without the table, gets the same
    assert IntakeSettings.from_config({"site": {"project_code": "P"}}).decision == s.decision


def test_values_reach_the_core_and_the_topic_follows_the_uplink_prefix():
    cfg = loads(BASE + '[uplink.mqtt]\ntopic_prefix = "fleet/east"\n[geofence]\nmargin_factor = 1.5\n'
                       'min_margin_m = 15\ndwell_s = 60\nmax_speed_mps = 40\nrate_per_minute = 6\nstale_s = 90\n')
    s = IntakeSettings.from_config(cfg)
    assert (s.decision.margin_factor, s.decision.min_margin_m, s.decision.max_age_s) == (1.5, 15.0, 90.0)
    assert (s.hysteresis.dwell_s, s.spoof.max_speed_mps, s.rate_per_s) == (60.0, 40.0, 0.1)
    assert s.mqtt_topic == "fleet/east/370102202300001/clockin"
    cfg = loads(BASE + '[geofence]\nmqtt_topic = "site9/clockins"\n')
    assert IntakeSettings.from_config(cfg).mqtt_topic == "site9/clockins"


@pytest.mark.parametrize("line,words", [
    ("margin_factor = 0.1", "geofence.margin_factor: 0.1 must be between 0.5 and 5.0"),
    ("mqtt_topic = \"a/+/b\"", "geofence.mqtt_topic: 'a/+/b' is not an MQTT topic without wildcards"),
    ("mqtt_topic = \"a//b\"", "geofence.mqtt_topic"),
    ("mqtt_intake = \"yes\"", "geofence.mqtt_intake: has the wrong type str"),
    ("dwel_s = 30", "geofence.dwel_s: unknown key; did you mean 'dwell_s'?"),
])
def test_bad_values_name_the_file_line_and_key(line, words):
    with pytest.raises(ConfigError) as err:
        loads(BASE + "[geofence]\n" + line + "\n", "site.toml")
    (problem,) = err.value.problems
    assert problem.startswith("site.toml:8: ") and words in problem, problem


def test_the_commented_fence_examples_in_example_toml_are_valid():
    import tomllib

    from sitegate.geofence.fences import parse_fences
    from tests.conftest import REPO

    text = (REPO / "config" / "example.toml").read_text(encoding="utf-8")
    start = text.index("# [[geofences]]")
    lines = []
    for line in text[start:].splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[2:] if line.startswith("# ") else "")
    fences, problems = parse_fences(tomllib.loads("\n".join(lines))["geofences"])
    assert problems == [] and [f.kind for f in fences] == ["circle", "polygon", "corridor"]
