"""The vendor kit: a third-party driver installed through the entry point is listed, shown and passes
the conformance run against a real pseudo-terminal."""
import json
import os
import pty
import threading

import pytest


def test_list_and_show_a_third_party_driver(site, example_driver):
    code, out, _ = site.cli("drivers", "list", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["wiegand-lines"]["origin"] == "sitegate-wiegand-lines 1.0.0" and rows["wiegand-lines"]["available"]
    code, out, _ = site.cli("drivers", "show", "wiegand-lines", "--json")
    keys = json.loads(out)["keys"]
    assert keys["port"]["required"] and keys["baudrate"]["default"] == 9600
    code, _, err = site.cli("drivers", "show", "no-such-driver")
    assert code == 2 and "no driver named" in err


def test_config_check_validates_the_drivers_own_keys(site, example_driver):
    site.write_config('\n[[devices]]\nid = "r"\ndriver = "wiegand-lines"\ndirection = "in"\nbaudrate = "fast"\n')
    code, _, err = site.cli("config", "check", "-c", str(site.config))
    assert code == 2
    assert "devices[0].baudrate: has the wrong type str (expected an integer)" in err
    assert "devices[0].port: is required" in err


def test_conformance_run_passes_on_a_pseudo_terminal(site, example_driver):
    master, slave = pty.openpty()
    site.write_config(f'\n[[devices]]\nid = "r"\ndriver = "wiegand-lines"\ndirection = "in"\nport = "{os.ttyname(slave)}"\n')
    stop = threading.Event()

    def reader_at_the_gate():     # a card every 0.3 s, and line noise
        while not stop.wait(0.3):
            os.write(master, b"3659533\n\x07garbage\xff\n")

    t = threading.Thread(target=reader_at_the_gate, daemon=True)
    t.start()
    try:
        code, out, err = site.cli("drivers", "test", "r", "-c", str(site.config), "--no-prompt", "--timeout", "10",
                                  "--json")
    finally:
        stop.set()
        t.join()
        os.close(master)
        os.close(slave)
    steps = {s["name"]: s for s in json.loads(out)}
    assert code == 0, out + err
    assert all(s["passed"] for s in steps.values())
    assert not steps["rejects garbage"]["skipped"]
    assert "card 3659533" in steps["produces an observation"]["detail"]
