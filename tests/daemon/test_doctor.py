"""`sitegate doctor`: one line per check with its verdict and the fix, against a real reference
platform over HTTP and a serial device path that is not there."""
from __future__ import annotations

import json

from sitegate.receiver import Receiver
from sitegate.secrets import write_secret

SECRET = "0123456789abcdef0123456789ABCDEF"
OTHER_SECRET = "fedcba98765432100123456789abcdef"  # the signature lower-cases the secret: differ in more than case


def _config(tmp_path, url: str, secret: str, device: str = "") -> str:
    write_secret(tmp_path / "appsecret", secret)
    path = tmp_path / "sitegate.toml"
    path.write_text(
        f'[site]\nproject_code = "370102202300001"\ngateway_id = "gw"\ndata_dir = "{tmp_path / "data"}"\n'
        f'[uplink]\nprofile = "national"\nurl = "{url}"\nappid = "APPID1"\n'
        f'appsecret_file = "{tmp_path / "appsecret"}"\n[http]\nlisten = "127.0.0.1:0"\n{device}',
        encoding="utf-8")
    return str(path)


def _checks(site, path: str) -> tuple[int, dict[str, dict]]:
    code, out, _ = site.cli("doctor", "-c", path, "--json")
    return code, {c["name"]: c for c in json.loads(out)}


def test_credentials_the_platform_accepts_pass_and_wrong_ones_fail_with_the_fix(site, tmp_path):
    with Receiver("APPID1", SECRET, str(tmp_path / "platform.db")) as rx:
        code, checks = _checks(site, _config(tmp_path, rx.url, SECRET))
        assert checks["platform"]["verdict"] == "ok" and "CheckSign.Query" in checks["platform"]["detail"]
        assert checks["configuration"]["verdict"] == "ok"
        assert code == 0 or any(c["verdict"] == "FAIL" for c in checks.values() if c["name"] != "platform")

        code, checks = _checks(site, _config(tmp_path, rx.url, OTHER_SECRET))
        assert code == 1 and checks["platform"]["verdict"] == "FAIL"
        assert "appsecret" in checks["platform"]["fix"]
        assert OTHER_SECRET not in json.dumps(checks)       # a secret is never printed


def test_a_missing_serial_port_is_named_with_its_fix(site, tmp_path):
    device = (f'[[devices]]\nid = "east-idcard"\ndriver = "ga467-serial"\ndirection = "in"\n'
              f'port = "{tmp_path / "ttyNOPE"}"\n')
    code, checks = _checks(site, _config(tmp_path, "http://127.0.0.1:9/open.api", SECRET, device))
    failing = [c for c in checks.values() if c["verdict"] == "FAIL" and "east-idcard" in c["name"]]
    assert code == 1 and failing, checks
    assert any("ttyNOPE" in c["detail"] and c["fix"] for c in failing)


def test_an_invalid_configuration_is_one_failing_line_pointing_at_config_check(site, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[site]\nproject_code = "P"\ngatway_id = "x"\n', encoding="utf-8")
    code, out, _ = site.cli("doctor", "-c", str(path))
    assert code == 1
    [line] = out.strip().splitlines()
    assert line.startswith("[FAIL] configuration:") and "sitegate config check" in line
