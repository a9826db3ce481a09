"""The soak site's files: a configuration the real loader accepts, the disk-full knob that rewrites
one line of it, and the launcher's way around libfaketime's broken sleep."""
import os
import subprocess
import sys

import pytest

from sitegate.bench.soakkit.gatewayproc import faketime_library
from sitegate.bench.soakkit.site import SiteFiles


def test_the_config_loads_and_min_free_mb_is_rewritten_alone(tmp_path):
    from sitegate.config import load

    site = SiteFiles(tmp_path / "site", 20, seed=1)
    site.prepare_dirs()
    site.write_config("http://127.0.0.1:9/open.api", devices="", fence_lane="管线电子围栏1")
    before = site.config.read_text(encoding="utf-8")
    cfg = load(site.config)
    assert cfg["storage"]["min_free_mb"] == 100
    assert cfg["geofences"][0]["lane"] == "管线电子围栏1"
    assert cfg["http"]["listen"] == f"127.0.0.1:{site.http_port}"

    site.set_min_free_mb(123456789)
    after = site.config.read_text(encoding="utf-8")
    assert load(site.config)["storage"]["min_free_mb"] == 123456789
    assert [a for a, b in zip(before.splitlines(), after.splitlines()) if a != b] == ["min_free_mb = 100"]
    assert os.stat(site.root / "appsecret").st_mode & 0o077 == 0     # secrets are 0600


def test_people_get_pins_hashes_and_phone_keys_from_the_store(tmp_path):
    site = SiteFiles(tmp_path / "site", 12, seed=2)
    site.prepare_dirs()
    site.write_config("http://127.0.0.1:9/open.api", devices="", fence_lane="fence")
    site.prepare_store(site.people[:2])
    pins = [p.pin for p in site.people]
    assert len(set(pins)) == 12 and min(pins) >= 1001
    assert all(len(p.id_hash) > 16 for p in site.people)
    assert [p.phone_id for p in site.people[:3]] == ["P-SOAK-001", "P-SOAK-002", ""]
    assert len(site.people[0].phone_key) == 32


@pytest.mark.skipif(faketime_library() is None, reason="libfaketime missing (Debian package faketime)")
def test_the_launcher_sleep_works_under_libfaketime(tmp_path):
    offset = tmp_path / "offset"
    offset.write_text("+2h\n")
    env = dict(os.environ, LD_PRELOAD=faketime_library(), FAKETIME_TIMESTAMP_FILE=str(offset),
               FAKETIME_NO_CACHE="1", FAKETIME_DONT_FAKE_MONOTONIC="1")
    code = ("import time\n"
            "from sitegate.bench.soakkit import launch\n"
            "assert launch.under_faketime()\n"
            "time.sleep = launch._select_sleep\n"
            "t = time.monotonic()\n"
            "for _ in range(3):\n"
            "    time.sleep(0.01)\n"
            "took = time.monotonic() - t\n"
            "assert 0.02 < took < 5, took\n"
            "assert time.time() - time.clock_gettime(time.CLOCK_BOOTTIME) > 0\n"
            "print('ok', round(time.time()))\n")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    faked = int(done.stdout.split()[1])
    import time

    assert faked - time.time() > 7000          # the wall clock is two hours ahead in there


def test_the_launcher_leaves_sleep_alone_without_libfaketime(monkeypatch):
    from sitegate.bench.soakkit import launch

    monkeypatch.setenv("LD_PRELOAD", "")
    assert not launch.under_faketime()
    with pytest.raises(ValueError):
        launch._select_sleep(-1)
