"""Configuration faults (-2 signature, -3 permission): stop sending, raise ``uplink_config``, keep
everything, and deliver it all once the configuration is fixed."""
from __future__ import annotations

import io
import time
from contextlib import redirect_stdout

from engine_fixtures import engine, receiver, site_cfg, store  # noqa: F401  (pytest fixtures)
from engine_helpers import (
    SECRET, TEAM_A, WRONG_SECRET, drain, event, load_site, make_engine, natural_key, received_keys, states,
    write_site,
)

from sitegate.buffer import status


def config_alarm(store) -> dict | None:
    return next((a for a in store.active_alarms() if a["code"] == "uplink_config"), None)


def requests_seen(receiver) -> int:
    return sum(receiver.stats()["codes"].values())


def cli_status(config) -> str:
    from sitegate.cli import main

    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["status", "-c", str(config)]) == 0
    return out.getvalue()


def test_a_bad_secret_stops_alarms_keeps_everything_and_a_fixed_secret_delivers(receiver, tmp_path):
    from engine_helpers import open_store

    config = write_site(tmp_path / "site", receiver.url, secret=WRONG_SECRET)
    cfg = load_site(config)
    events = [event(i + 1, i, team=TEAM_A) for i in range(25)]
    with open_store(cfg) as store:
        for ev in events:
            store.append(ev)
        bad = make_engine(cfg, store)
        bad.step()
        alarm = config_alarm(store)
        assert alarm is not None and alarm["severity"] == "critical"
        assert "-2" in alarm["message"] and "appsecret" in alarm["message"] and "clock" in alarm["message"]
        assert bad.status.state == "stopped"
        assert states(store) == {"pending": 25}               # nothing lost
        asked = requests_seen(receiver)
        for _ in range(5):
            assert bad.step() is False                        # stopped: no more calls
        assert requests_seen(receiver) == asked == 1
        assert "uplink_config" in [a["code"] for a in status(store)["alarms"]]
        assert "ALARM [critical] uplink_config" in cli_status(config)
        bad.close()

        write_site(tmp_path / "site", receiver.url, secret=SECRET)     # the clerk fixes the file
        fixed = make_engine(load_site(config), store)                  # the daemon recreates the uplink
        drain(fixed, store)
        fixed.close()
        assert config_alarm(store) is None
        assert states(store) == {"delivered": 25}
    assert sorted(received_keys(receiver)) == sorted(natural_key(ev) for ev in events)
    assert receiver.duplicates() == {}


def test_no_permission_alarms_and_the_same_engine_resumes_after_its_retry_period(receiver, engine, store):
    receiver.set_rules(denied_methods={"WorkerAttendance.Add"})
    events = [event(i + 1, i, team=TEAM_A) for i in range(5)]
    for ev in events:
        store.append(ev)
    engine.config_retry_s = 0.05
    engine.step()
    alarm = config_alarm(store)
    assert alarm is not None and "-3" in alarm["message"] and "WorkerAttendance.Add" in alarm["message"]
    assert states(store) == {"pending": 5}
    receiver.set_rules(denied_methods=())                 # the platform grants the method
    time.sleep(0.06)
    drain(engine, store)
    assert config_alarm(store) is None and engine.status.state == "ok"
    assert sorted(received_keys(receiver)) == sorted(natural_key(ev) for ev in events)


def test_a_wrong_url_is_a_configuration_fault_too(receiver, tmp_path):
    from engine_helpers import open_store

    cfg = load_site(write_site(tmp_path / "site", receiver.url.replace("/open.api", "/wrong.api")))
    with open_store(cfg) as store:
        store.append(event(1, 1))
        engine = make_engine(cfg, store)
        engine.step()
        alarm = config_alarm(store)
        assert alarm is not None and "HTTP 404" in alarm["message"] and "uplink.url" in alarm["message"]
        assert states(store) == {"pending": 1}
        engine.close()
