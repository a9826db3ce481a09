"""The mqtt and webhook profiles' settings: topics, client id, secrets from files, configuration faults."""
from __future__ import annotations

import pytest

from sitegate.buffer import Store
from sitegate.config import loads
from sitegate.errors import ConfigError
from sitegate.uplink.feed import UplinkConfigError
from sitegate.uplink.mqtt import MqttSettings, MqttUplink, client_id, topics
from sitegate.uplink.profiles import uplink_class
from sitegate.uplink.webhook import WebhookSettings, WebhookUplink
from tests.uplink.mosquitto import GATEWAY, PROJECT, mqtt_config, secret_file
from tests.uplink.webhook_receiver import webhook_config


def test_profiles_resolve_to_these_engines():
    assert uplink_class("mqtt") is MqttUplink
    assert uplink_class("webhook") is WebhookUplink


def test_topics_and_client_id():
    assert client_id("370102202300001", "gw-east") == "sitegate-370102202300001-gw-east"
    assert topics("sitegate", "P1", "gw") == ("sitegate/P1/gw/attendance", "sitegate/P1/gw/status")
    assert topics("fleet/east", "P1", "gw")[0] == "fleet/east/P1/gw/attendance"


def test_settings_from_config(tmp_path):
    cfg = mqtt_config(tmp_path, 1884, password="pw-1", signing_key="sig")
    s = MqttSettings.from_config(cfg)
    assert s.client_id == f"sitegate-{PROJECT}-{GATEWAY}"
    assert s.attendance_topic == f"sitegate/{PROJECT}/{GATEWAY}/attendance"
    assert s.status_topic == f"sitegate/{PROJECT}/{GATEWAY}/status"
    assert (s.password, s.signing_key, s.session_expiry_s, s.max_inflight) == ("pw-1", b"sig", 3600, 100)
    assert "pw-1" not in repr(s) and "sig" not in repr(s).replace("signing", "")


@pytest.mark.parametrize("prefix", ["a/#", "/lead", "trail/", "sp ace", "a//b", "+"])
def test_topic_prefix_with_wildcards_or_empty_levels_is_refused(tmp_path, prefix):
    text = (f'[site]\nproject_code = "P"\ngateway_id = "g"\ndata_dir = "{tmp_path}"\n'
            f'[uplink]\nprofile = "mqtt"\n[uplink.mqtt]\ntopic_prefix = "{prefix}"\n')
    with pytest.raises(ConfigError, match="topic_prefix"):
        loads(text)


def test_open_password_file_is_a_config_fault_with_an_alarm(tmp_path):
    cfg = mqtt_config(tmp_path, 1884, password="pw")
    (tmp_path / "mqtt.password").chmod(0o644)
    with pytest.raises(UplinkConfigError, match="chmod 600"):
        MqttSettings.from_config(cfg)
    with Store.from_config(cfg) as store:
        up = MqttUplink(cfg, store)
        assert up.step() is False and up.stopped
        [alarm] = store.active_alarms()
        assert alarm["code"] == "uplink_config" and "password_file" in alarm["message"]


def test_missing_ca_file_is_a_config_fault(tmp_path):
    cfg = mqtt_config(tmp_path, 8883, password="pw", tls=True, tls_ca=tmp_path / "nope.pem")
    with pytest.raises(UplinkConfigError, match="ca_file .* does not exist"):
        MqttSettings.from_config(cfg)


def test_webhook_settings(tmp_path):
    cfg = webhook_config(tmp_path, "http://127.0.0.1:9/hook", "s3cret")
    s = WebhookSettings.from_config(cfg)
    assert (s.url, s.secret, s.batch_size, s.verify) == ("http://127.0.0.1:9/hook", b"s3cret", 20, True)
    assert "s3cret" not in repr(s)
    secret_file(tmp_path / "webhook.secret", "x").chmod(0o640)
    with pytest.raises(UplinkConfigError, match="secret_file"):
        WebhookSettings.from_config(cfg)
