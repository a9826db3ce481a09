import os
import re
from pathlib import Path

import pytest

from sitegate.config import load, loads
from sitegate.config.tables import ROOT
from sitegate.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]

GOOD = """[site]
project_code = "370102202300001"
gateway_id = "gw-east"
data_dir = "/tmp/x"

[uplink]
enabled = false
"""


def problems(text: str, name: str = "c.toml") -> list[str]:
    with pytest.raises(ConfigError) as exc:
        loads(text, name)
    return exc.value.problems


def test_minimal_config_gets_defaults():
    cfg = loads(GOOD)
    assert cfg.site.timezone == "Asia/Shanghai"
    assert cfg.http.listen == "127.0.0.1:8080"
    assert cfg.storage.retention_days == 30
    assert cfg.uplink.batch_size == 20
    assert cfg.devices == []


def test_unknown_key_is_an_error_with_file_line_and_a_hint():
    text = GOOD.replace('gateway_id = "gw-east"', 'gateway_id = "gw-east"\ngatway_name = "x"')
    [p] = problems(text)
    assert p.startswith("c.toml:4: site.gatway_name: unknown key; did you mean 'gateway_id'?")


def test_wrong_type_and_missing_required():
    text = GOOD.replace('gateway_id = "gw-east"\n', "").replace('data_dir = "/tmp/x"', "data_dir = 5")
    ps = problems(text)
    assert any(re.match(r"c\.toml:3: site\.data_dir: has the wrong type int \(expected a string\)", p) for p in ps)
    assert any(p.startswith("c.toml:1: site.gateway_id: is required") for p in ps)


def test_device_keys_and_duplicate_ids_point_at_their_lines():
    text = GOOD + """
[[devices]]
id = "a"
driver = "manual-test"
direction = "in"

[[devices]]
id = "a"
driver = "manual-test"
direction = "sideways"
"""
    from sitegate.config import loader

    loader.HOOKS["driver_keys"] = lambda name: {} if name == "manual-test" else None
    try:
        ps = problems(text)
    finally:
        loader.HOOKS.pop("driver_keys")
    assert "c.toml:15: devices[1].id: 'a' is already the id of devices[0] (expected a unique id)" in ps
    assert any(p.startswith("c.toml:17: devices[1].direction: 'sideways' is not allowed (expected one of 'in', 'out', 'device')") for p in ps)


def test_unknown_driver_is_named():
    from sitegate.config import loader

    loader.HOOKS["driver_keys"] = lambda name: None
    loader.HOOKS["known_drivers"] = lambda: ["ga467-serial", "wg-udp"]
    try:
        ps = problems(GOOD + '[[devices]]\nid = "a"\ndriver = "ga476"\ndirection = "in"\n')
    finally:
        loader.HOOKS.clear()
    assert ps == ["c.toml:10: devices[0].driver: no driver named 'ga476' is installed (expected one of ga467-serial, wg-udp)"]


def test_inline_secret_is_refused():
    ps = problems(GOOD.replace("enabled = false", 'enabled = false\nappsecret = "0123"'))
    assert ps == ["c.toml:8: uplink.appsecret: secrets must not be written in the configuration "
                  "(expected appsecret_file = a path to a file with mode 0600)"]


def test_secret_file_must_be_0600(tmp_path):
    secret = tmp_path / "appsecret"
    secret.write_text("0123456789abcdef0123456789ABCDEF")
    os.chmod(secret, 0o644)
    text = GOOD.replace("enabled = false", f'url = "https://p.example/open.api"\nappid = "A"\nappsecret_file = "{secret}"')
    [p] = problems(text)
    assert p == f"c.toml:9: uplink.appsecret_file: secret file {secret} has mode 0644; it must be 0600 (chmod 600 {secret})"
    os.chmod(secret, 0o600)
    cfg = loads(text)
    assert cfg.secret("uplink.appsecret_file") == "0123456789abcdef0123456789ABCDEF"


def test_national_profile_needs_its_keys():
    ps = problems(GOOD.replace("enabled = false", 'profile = "national"'))
    assert {p.split(": ")[1] for p in ps} == {"uplink.url", "uplink.appid", "uplink.appsecret_file"}


@pytest.mark.parametrize("profile", ["mqtt", "webhook"])
def test_mqtt_and_webhook_profiles_need_the_payload_key(profile):
    ps = problems(GOOD.replace("enabled = false", f'profile = "{profile}"'))
    assert any(p.startswith("c.toml:6: uplink.payload_key_file: is required when profile") for p in ps), ps


def test_toml_syntax_error_has_a_line():
    ps = problems(GOOD + "\n[http]\nlisten = 127.0.0.1:8080\n")
    assert len(ps) == 1 and ps[0].startswith("c.toml:10: not valid TOML")


def test_example_documents_every_key():
    text = (REPO / "config" / "example.toml").read_text(encoding="utf-8")
    missing = []
    for name, table in ROOT.items():
        for key in table.keys:
            if not re.search(rf"^\s*{re.escape(key)}\s*=.*#", text, re.M) and not re.search(
                    rf"^\s*{re.escape(key)}\s*=", text, re.M):
                missing.append(f"{name}.{key}")
        for sub, subtable in table.subtables.items():
            for key in subtable.keys:
                if not re.search(rf"^\s*{re.escape(key)}\s*=", text, re.M):
                    missing.append(f"{name}.{sub}.{key}")
    assert missing == []


def test_example_is_valid_once_its_files_exist(tmp_path):
    """config/example.toml must pass `config check` when the files it names are in place."""
    text = (REPO / "config" / "example.toml").read_text(encoding="utf-8")
    secret = tmp_path / "appsecret"
    secret.write_text("0123456789abcdef0123456789ABCDEF")
    secret.chmod(0o600)
    text = text.replace("/etc/sitegate/appsecret", str(secret)).replace("/var/lib/sitegate", str(tmp_path / "data"))
    from sitegate.config import loader

    # driver-specific keys are checked by the drivers' own schema when installed
    cfg = loads(text, "example.toml")
    assert cfg.devices[0].id == "east-gate-reader"


def test_cli_config_check_exit_codes(site):
    code, out, err = site.cli("config", "check", "-c", str(site.config))
    assert code == 0 and "ok" in out
    site.config.write_text(site.config.read_text() + "\n[storage]\nretention_dayz = 5\n")
    code, out, err = site.cli("config", "check", "-c", str(site.config))
    assert code == 2
    assert re.match(rf"{re.escape(str(site.config))}:\d+: storage\.retention_dayz: unknown key; did you mean 'retention_days'\?", err)
    code, out, err = site.cli("config", "check", "-c", str(site.root / "nope.toml"))
    assert code == 2 and "no such configuration file" in err


def test_configuration_reference_in_docs_is_the_schema():
    """docs/configuration.md is generated; when a key changes, regenerate it with
    `sitegate config reference > docs/configuration.md`."""
    from sitegate.config.reference import markdown

    assert (REPO / "docs" / "configuration.md").read_text(encoding="utf-8") == markdown()
