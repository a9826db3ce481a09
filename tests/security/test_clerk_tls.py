"""The clerk pages over TLS: ``[http] cert_file``/``key_file`` make the daemon's web port speak
HTTPS only (docs/security.md, "What each endpoint trusts"), and the pair is checked by `config check`."""
from __future__ import annotations

import os

import pytest
import requests

from sitegate.config import loads
from sitegate.daemon.runtime import Runtime
from sitegate.errors import ConfigError
from tests.tlsutil import make_ca_and_server


def _config(data, cert: str = "", key: str = ""):
    lines = [f'cert_file = "{cert}"'] if cert else []
    lines += [f'key_file = "{key}"'] if key else []
    return ('[site]\nproject_code = "370102202300001"\ngateway_id = "gw"\n'
            f'data_dir = "{data}"\n[uplink]\nenabled = false\n'
            '[http]\nlisten = "127.0.0.1:0"\n' + "\n".join(lines) + "\n")


def test_the_daemon_web_port_with_a_certificate_answers_https_and_refuses_plain_http(tmp_path):
    certs = make_ca_and_server(tmp_path)
    runtime = Runtime(loads(_config(tmp_path / "data", certs["cert"], certs["key"])))
    runtime.start()
    try:
        assert runtime.url.startswith("https://127.0.0.1:")
        answer = requests.get(runtime.url + "healthz", verify=str(certs["ca"]), timeout=30)
        assert answer.status_code in (200, 503) and answer.url.startswith("https://")
        plain = runtime.url.replace("https://", "http://") + "healthz"
        with pytest.raises(requests.ConnectionError):
            requests.get(plain, timeout=30)
        # still serving after the plain-text attempt
        assert requests.get(runtime.url + "healthz", verify=str(certs["ca"]), timeout=30).status_code == answer.status_code
    finally:
        runtime.stop()


def test_certificate_and_key_go_together_and_the_key_must_be_0600(tmp_path):
    certs = make_ca_and_server(tmp_path)
    with pytest.raises(ConfigError) as only_cert:
        loads(_config(tmp_path, cert=certs["cert"]), "c.toml")
    assert any("http.key_file: cert_file and key_file go together" in p for p in only_cert.value.problems)
    with pytest.raises(ConfigError) as only_key:
        loads(_config(tmp_path, key=certs["key"]), "c.toml")
    assert any("http.cert_file: cert_file and key_file go together" in p for p in only_key.value.problems)
    os.chmod(certs["key"], 0o644)
    with pytest.raises(ConfigError) as readable:
        loads(_config(tmp_path, certs["cert"], certs["key"]), "c.toml")
    assert [p for p in readable.value.problems if "http." in p] == [
        f"c.toml:10: http.key_file: secret file {certs['key']} has mode 0644; it must be 0600 (chmod 600 {certs['key']})"]


def test_a_key_that_does_not_match_its_certificate_stops_the_start_with_a_clear_error(tmp_path):
    certs = make_ca_and_server(tmp_path)
    (tmp_path / "other").mkdir()
    other = make_ca_and_server(tmp_path / "other")
    runtime = Runtime(loads(_config(tmp_path / "data", certs["cert"], other["key"])))
    with pytest.raises(ConfigError) as bad:
        runtime.start()
    runtime.stop()
    assert "http.cert_file / http.key_file" in bad.value.problems[0]
