"""The phone simulator: its signed requests verify on a real loopback HTTP server, a replay is
refused, and a walk into a fence and out again clocks the worker in and out exactly once."""
from __future__ import annotations

import argparse
import json

import pytest
from pyproj import Geod

from sitegate.drivers.phone import simulator
from sitegate.drivers.phone.walker import (PhoneWalker, WalkSettings, Waypoint, load_waypoints, path_through_fence,
                                           request_bodies)
from sitegate.errors import UsageError
from sitegate.geofence.clockin import parse_and_verify
from sitegate.geofence.coords import wgs84_to_gcj02
from sitegate.geofence.decision import Verdict
from sitegate.geofence.engine import GeofenceEngine
from sitegate.geofence.fences import parse_fences
from sitegate.geofence.guards import NonceCache
from sitegate.geofence.phonekeys import key_to_text, new_phone_key

GEOD = Geod(ellps="WGS84")
LNG0, LAT0 = 117.0, 36.65
T0 = 1_718_000_000.0

SITE_TOML = f"""
[[geofences]]
id = "yard"
crs = "gcj02"
center = [{wgs84_to_gcj02(LNG0, LAT0)[0]!r}, {wgs84_to_gcj02(LNG0, LAT0)[1]!r}]
radius_m = 100

[[geofences]]
id = "road"
crs = "wgs84"
line = [[{LNG0 + 0.01}, {LAT0}], [{LNG0 + 0.03}, {LAT0 + 0.005}]]
width_m = 40
"""


@pytest.fixture(scope="module")
def site():
    import tomllib

    fences, problems = parse_fences(tomllib.loads(SITE_TOML)["geofences"])
    assert problems == []
    return fences


@pytest.fixture
def key_file(tmp_path):
    key = new_phone_key()
    f = tmp_path / "phone.key"
    f.write_text(key_to_text(key) + "\n")
    f.chmod(0o600)
    return key, f


def sim_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    simulator.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_module_declares_itself_for_sitegate_sim():
    assert simulator.SIM_NAME == "phone" and callable(simulator.add_arguments) and callable(simulator.main)


def test_requests_verify_on_a_loopback_server_and_a_replay_is_refused(clockin_server, key_file, tmp_path, site):
    key, f = key_file
    srv = clockin_server({"P-0001": key})
    toml = tmp_path / "site.toml"
    toml.write_text(SITE_TOML)
    args = sim_args("--url", srv.url, "--phone-id", "P-0001", "--key-file", str(f), "--fences", str(toml),
                    "--fence", "yard", "--crs", "bd09", "--count", "5", "--replay", "2", "--no-wait")
    assert simulator.main(args) == 0
    assert len(srv.accepted) == 5 and srv.rejected == ["replayed"]
    assert {c.crs for c in srv.accepted} == {"bd09"}
    # what arrived, converted back to WGS-84, is where the walker was (within its noise)
    walker = simulator.build_walker(args)
    for i, c in enumerate(srv.accepted):
        lng, lat = walker.true_lnglat(i * 15.0)
        assert GEOD.inv(lng, lat, c.wgs_lng, c.wgs_lat)[2] < 30


def test_unknown_phone_and_wrong_key_are_refused_by_the_server(clockin_server, key_file, tmp_path):
    key, f = key_file
    srv = clockin_server({"P-0001": new_phone_key()})           # the server knows another key
    path = tmp_path / "walk.json"
    path.write_text(json.dumps([[LNG0, LAT0], [LNG0 + 0.001, LAT0]]))
    args = sim_args("--url", srv.url, "--phone-id", "P-0001", "--key-file", str(f), "--path", str(path),
                    "--count", "2", "--no-wait")
    assert simulator.main(args) == 0
    assert srv.accepted == [] and srv.rejected == ["bad_signature", "bad_signature"]


def test_unreachable_gateway_exits_1(key_file, tmp_path, clockin_server):
    _, f = key_file
    srv = clockin_server({})
    url = srv.url
    srv.shutdown()
    srv.server_close()        # the port is closed now: connection refused
    path = tmp_path / "walk.json"
    path.write_text(json.dumps([[LNG0, LAT0]]))
    args = sim_args("--url", url, "--phone-id", "P-0001", "--key-file", str(f), "--path", str(path), "--no-wait",
                    "--timeout", "2")
    assert simulator.main(args) == 1


def test_dry_run_prints_signed_bodies(key_file, tmp_path, capsys):
    key, f = key_file
    path = tmp_path / "walk.json"
    path.write_text(json.dumps({"crs": "gcj02", "points": [list(wgs84_to_gcj02(LNG0, LAT0)), [LNG0 + 0.01, LAT0, 30]]}))
    args = sim_args("--phone-id", "P-7", "--key-file", str(f), "--path", str(path), "--dry-run", "--count", "3",
                    "--mock", "--accuracy", "12")
    assert simulator.main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    times = [json.loads(line)["fix_time"] for line in lines]
    assert times[1] - times[0] == times[2] - times[1] == 15_000      # a simulated timeline
    nonces = NonceCache()
    for line in lines:
        body = json.loads(line)
        assert body["is_mock"] is True and body["crs"] == "wgs84"
        c = parse_and_verify(line.encode(), {"P-7": key}.get, nonces, body["fix_time"] / 1000 + 1)
        assert 9.0 <= c.accuracy_m <= 15.0


@pytest.mark.parametrize("argv,words", [
    (["--fences", "{toml}", "--fence", "nope"], "--fence 'nope' not found"),
    (["--fences", "{toml}"], "--fences needs --fence"),
    (["--path", "{missing}"], "No such file"),
    (["--path", "{badjson}"], "not JSON"),
    (["--path", "{badpoints}"], "waypoints[1]"),
])
def test_bad_simulator_input_is_a_usage_error(key_file, tmp_path, argv, words):
    _, f = key_file
    (tmp_path / "site.toml").write_text(SITE_TOML)
    (tmp_path / "bad.json").write_text("{nope")
    (tmp_path / "points.json").write_text(json.dumps([[LNG0, LAT0], [LNG0]]))
    subst = {"{toml}": str(tmp_path / "site.toml"), "{missing}": str(tmp_path / "missing.json"),
             "{badjson}": str(tmp_path / "bad.json"), "{badpoints}": str(tmp_path / "points.json")}
    argv = [subst.get(a, a) for a in argv]
    with pytest.raises(UsageError, match=words.replace("[", r"\[").replace("]", r"\]")):
        simulator.main(sim_args("--phone-id", "P", "--key-file", str(f), "--dry-run", *argv))


def test_bad_key_file_is_a_usage_error(tmp_path):
    f = tmp_path / "k"
    f.write_text("not a key")
    with pytest.raises(UsageError, match="52 base32 or 64 hex"):
        simulator.build_walker(sim_args("--phone-id", "P", "--key-file", str(f), "--path", str(f)))


def _evaluate_walk(site, walker: PhoneWalker, *, crs="wgs84"):
    """Feed a simulated timeline through parse_and_verify and the engine; collect transitions."""
    key = walker.key
    engine = GeofenceEngine(site)
    nonces = NonceCache()
    transitions, verdicts = [], []
    for body, _ in request_bodies(walker.payloads(start_time=T0)):
        fix_s = json.loads(body)["fix_time"] / 1000
        c = parse_and_verify(body, {walker.phone_id: key}.get, nonces, fix_s + 1.5)
        ev = engine.evaluate(c, worker_id="W-1")
        assert ev.flags == [], ev.reason
        transitions += ev.transitions
        verdicts.append(ev.verdict)
    return transitions, verdicts


@pytest.mark.parametrize("crs", ["wgs84", "gcj02", "bd09"])
def test_walk_in_dwell_and_out_clocks_in_and_out_once(site, crs):
    waypoints = path_through_fence(site.by_id("yard"), site, approach_m=150, dwell_s=120)
    walker = PhoneWalker("P-1", new_phone_key(), waypoints, WalkSettings(accuracy_m=8, seed=5, crs=crs))
    transitions, verdicts = _evaluate_walk(site, walker)
    assert [(t.fence_id, t.kind) for t in transitions] == [("yard", "clock_in"), ("yard", "clock_out")]
    assert transitions[0].confirmed_at - transitions[0].at >= 30
    assert verdicts[0] is Verdict.OUT and Verdict.IN in verdicts and verdicts[-1] is Verdict.OUT


def test_walk_along_a_corridor(site):
    waypoints = path_through_fence(site.by_id("road"), site, approach_m=100, dwell_s=0)
    walker = PhoneWalker("P-2", new_phone_key(), waypoints, WalkSettings(accuracy_m=5, speed_mps=8.0, seed=2))
    transitions, _ = _evaluate_walk(site, walker)
    assert [(t.fence_id, t.kind) for t in transitions] == [("road", "clock_in"), ("road", "clock_out")]


def test_walker_geometry_and_settings():
    w = PhoneWalker("P", bytes(32), [Waypoint(LNG0, LAT0, 10), Waypoint(LNG0 + 0.01, LAT0)],
                    WalkSettings(speed_mps=2.0, interval_s=10, jitter_m=0, accuracy_m=None))
    length = GEOD.inv(LNG0, LAT0, LNG0 + 0.01, LAT0)[2]
    assert w.duration_s == pytest.approx(10 + length / 2.0, rel=1e-4)
    assert w.true_lnglat(5) == pytest.approx((LNG0, LAT0), abs=1e-9)       # still dwelling
    mid = w.true_lnglat(10 + length / 4)
    assert GEOD.inv(LNG0, LAT0, *mid)[2] == pytest.approx(length / 2, rel=1e-3)
    payloads = list(w.payloads(start_time=T0))
    assert len(payloads) == int(w.duration_s // 10) + 1
    assert payloads[1]["fix_time"] - payloads[0]["fix_time"] == 10_000
    assert all(p["accuracy_m"] is None for p in payloads)
    with pytest.raises(UsageError):
        WalkSettings(crs="utm")
    with pytest.raises(UsageError):
        load_waypoints([])


def test_replay_yields_the_same_bytes_again():
    w = PhoneWalker("P", bytes(32), [Waypoint(LNG0, LAT0), Waypoint(LNG0 + 0.002, LAT0)])
    out = list(request_bodies(w.payloads(start_time=T0), replay=2))
    assert [r for _, r in out].count(True) == 1
    assert out[2] == (out[1][0], True)


def test_live_pacing_waits_before_each_later_fix_and_dates_it_then():
    clock = [T0]
    slept = []

    def sleep(s):
        slept.append(s)
        clock[0] += s

    w = PhoneWalker("P", bytes(32), [Waypoint(LNG0, LAT0), Waypoint(LNG0 + 0.0005, LAT0)],
                    WalkSettings(interval_s=15.0))
    times = [p["fix_time"] for p in w.payloads(clock=lambda: clock[0], pace=sleep)]
    n = len(times)
    assert n >= 2 and slept == [15.0] * (n - 1)          # no wait after the last fix
    assert times == [int((T0 + 15 * i) * 1000) for i in range(n)]
