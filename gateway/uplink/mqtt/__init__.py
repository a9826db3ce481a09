"""The mqtt uplink profile (fleet scale): JSON records, QoS 1, persistent session, to an existing
broker (Mosquitto, EMQX). docs/platform.md "## mqtt profile" is the consumer's contract.

- ``settings``   topics, client id, secrets, from the validated configuration
- ``codes``      MQTT v5 reason codes: success, configuration fault, transient
- ``connection`` a thin adapter over one paho-mqtt connection (callbacks only record)
- ``engine``     ``MqttUplink``: store states, PUBACK tracking, flow control, reconnect
"""
from sitegate.uplink.mqtt.engine import MqttUplink
from sitegate.uplink.mqtt.settings import MqttSettings, client_id, topics

__all__ = ["MqttUplink", "MqttSettings", "client_id", "topics"]
