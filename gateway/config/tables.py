"""The configuration's tables and keys. Extend freely; never rename a key users rely on.

Every key here is documented in config/example.toml (a test checks that each key appears there).
"""
from __future__ import annotations

from sitegate.config.schema import (
    Key, Table, between, host_port, matches, non_negative, positive, timezone_name, url,
)

SITE = Table(required=True, help="this site and this gateway", keys={
    "project_code": Key(str, "项目编码 issued by the platform", required=True,
                        check=matches(r"[0-9A-Za-z_-]{1,40}", "a project code (letters, digits, _ or -)")),
    "gateway_id": Key(str, "this gateway's name, unique on the project (MQTT topics, logs)", required=True,
                      check=matches(r"[0-9A-Za-z_-]{1,40}", "a name of letters, digits, _ or -")),
    "data_dir": Key(str, "where the SQLite buffer, photos and keys live", required=True),
    "timezone": Key(str, "the site's zone for local times shown to clerks", default="Asia/Shanghai",
                    check=timezone_name),
    "name": Key(str, "the site's name on the clerk pages", default=""),
})

MQTT = Table(help="the mqtt profile (fleet scale, an existing broker)", keys={
    "host": Key(str, "broker host name", default="127.0.0.1"),
    "port": Key(int, "broker port (8883 for TLS)", default=1883, check=between(1, 65535)),
    "tls": Key(bool, "connect with TLS (certificate verified)", default=False),
    "ca_file": Key(str, "CA certificate file for the broker", default=""),
    "certfile": Key(str, "client certificate (optional)", default=""),
    "keyfile": Key(str, "client key (optional)", default=""),
    "username": Key(str, "MQTT user name", default=""),
    "password_file": Key(str, "file holding the MQTT password (mode 0600)", default="", secret_file=True),
    "keepalive_s": Key(int, "MQTT keepalive", default=30, check=between(5, 3600)),
    "session_expiry_s": Key(int, "how long the broker keeps our session", default=7 * 86400, check=positive),
    "topic_prefix": Key(str, "first topic level: <prefix>/<project_code>/<gateway_id>/attendance", default="sitegate",
                        check=matches(r"[0-9A-Za-z_-]+(/[0-9A-Za-z_-]+)*", "a topic prefix such as sitegate or fleet/east")),
    "max_inflight": Key(int, "QoS 1 messages awaiting PUBACK at once (the broker's Receive Maximum caps it too)",
                        default=100, check=between(1, 65535)),
    "secret_file": Key(str, "HMAC-SHA256 key signing each message (user property sitegate-signature); optional",
                       default="", secret_file=True),
})

WEBHOOK = Table(help="the webhook profile (JSON POST)", keys={
    "url": Key(str, "where batches are POSTed", default="", check=url),
    "secret_file": Key(str, "HMAC-SHA256 key for X-Sitegate-Signature (mode 0600)", default="", secret_file=True),
})

UPLINK = Table(help="where attendance goes", keys={
    "profile": Key(str, "national | mqtt | webhook", default="national", choices=("national", "mqtt", "webhook")),
    "enabled": Key(bool, "send at all (off: keep everything locally)", default=True),
    "url": Key(str, "the platform's open.api URL (national profile)", default="", check=url),
    "appid": Key(str, "appid issued by the platform", default=""),
    "appsecret_file": Key(str, "file holding the appsecret (mode 0600)", default="", secret_file=True),
    "payload_key_file": Key(str, "AES-256-GCM key, 64 hex characters (mode 0600), encrypting ID numbers and names "
                                 "in mqtt/webhook records for the receiver", default="", secret_file=True),
    "default_team": Key(int, "teamSysNo when the roster has none", default=0, check=non_negative),
    "batch_size": Key(int, "records per call (the platform takes at most 20)", default=20, check=between(1, 20)),
    "timeout_s": Key(float, "HTTP timeout per call", default=15.0, check=positive),
    "poll_interval_s": Key(float, "how often to ask for asynchronous results", default=5.0, check=positive),
    "ca_file": Key(str, "CA bundle to verify the platform's certificate (default: system CAs)", default=""),
    "max_image_kb": Key(int, "event photos are re-encoded to fit (the platform takes 50 KB)", default=50,
                        check=between(5, 50)),
    "roster_sync_minutes": Key(int, "how often the daemon downloads the roster (0 = never)", default=60,
                               check=non_negative),
}, subtables={"mqtt": MQTT, "webhook": WEBHOOK})

HTTP = Table(help="the clerk pages, JSON API, /metrics and /healthz", keys={
    "listen": Key(str, "HOST:PORT to listen on; keep it on the site LAN", default="127.0.0.1:8080", check=host_port),
    "session_minutes": Key(int, "clerk sessions expire after this long idle", default=30, check=between(1, 1440)),
    "cert_file": Key(str, "PEM certificate (chain) to serve the pages over HTTPS; with key_file, or neither "
                          "(plain HTTP)", default=""),
    "key_file": Key(str, "PEM private key of cert_file (mode 0600)", default="", secret_file=True),
})

STORAGE = Table(help="the local buffer", keys={
    "retention_days": Key(int, "delivered events and photos are purged after this many days", default=30,
                          check=between(1, 3650)),
    "photo_max_kb": Key(int, "largest event photo kept", default=200, check=between(10, 5000)),
    "quota_mb": Key(int, "database size at which new photos are refused (events go on)", default=4096, check=positive),
    "min_free_mb": Key(int, "free disk below which new events are refused", default=100, check=non_negative),
})

GATE = Table(help="the gate policy", keys={
    "repeat_window_s": Key(float, "a second swipe by the same worker within this window is one event",
                           default=10.0, check=non_negative),
    "anti_passback": Key(bool, "deny an entry by a worker already inside (and an exit by one outside)",
                         default=False),
    "anti_passback_lanes": Key(list, "lanes where anti-passback applies (empty: all lanes when on)", default=[]),
    "check_id_card_validity": Key(bool, "deny an expired ID card", default=True),
})

DEVICE_COMMON = {
    "id": Key(str, "the device's name, unique on this gateway", required=True,
              check=matches(r"[0-9A-Za-z_.-]{1,64}", "a name of letters, digits, '.', '_' or '-'")),
    "driver": Key(str, "which driver speaks to it (sitegate drivers list)", required=True),
    "lane": Key(str, "the lane / gate name sent as the platform's channel", default=""),
    "direction": Key(str, "in | out | device (the device reports it)", required=True,
                     choices=("in", "out", "device")),
    "enabled": Key(bool, "start this device", default=True),
}
DEVICES = Table(array=True, help="one table per device; driver-specific keys beside these", keys=DEVICE_COMMON)

# Geofence keys are validated by sitegate.geofence (they nest); listed here so the table is known.
GEOFENCES = Table(array=True, help="electronic fences for phone clock-ins", keys={})

_TOPIC = matches(r"[^#+/\s]+(/[^#+/\s]+)*", "an MQTT topic without wildcards or empty levels, "
                                             "e.g. sitegate/370102202300001/clockin")

# Tuning of the geofence clock-in decision (sitegate.geofence.settings turns it into the core's configs).
# Defaults follow ../shared/reference/geofence.md §3-4 (engineering defaults, not a standard).
GEOFENCE = Table(help="geofence clock-ins from phones: decision tuning, hysteresis, limits, MQTT intake", keys={
    "margin_factor": Key(float, "margin M = max(margin_factor x accuracy, min_margin_m); 1.2 gives >= 95 % "
                                "confidence for Android and iOS accuracy radii", default=1.2, check=between(0.5, 5.0)),
    "min_margin_m": Key(float, "smallest margin around a fence edge, metres", default=10.0, check=between(0, 1000)),
    "max_accuracy_m": Key(float, "fixes reporting a worse accuracy decide nothing (UNCERTAIN)", default=100.0,
                          check=between(1, 10000)),
    "stale_s": Key(float, "fixes older than this when they arrive decide nothing (UNCERTAIN)", default=60.0,
                   check=between(1, 600)),
    "dwell_s": Key(float, "clock-in/out needs a first fix and a later one at least this far apart, same side",
                   default=30.0, check=between(0, 3600)),
    "max_gap_s": Key(float, "a longer silence between two fixes of a run restarts the run", default=600.0,
                     check=between(1, 86400)),
    "max_speed_mps": Key(float, "faster apparent movement between fixes of one phone is a spoofing signal",
                         default=55.0, check=between(1, 1000)),
    "rate_per_minute": Key(float, "sustained clock-in requests allowed per phone", default=12.0,
                           check=between(0.1, 6000)),
    "rate_burst": Key(int, "requests a phone may send at once (fixes buffered while offline)", default=20,
                      check=between(1, 10000)),
    "state_save_s": Key(float, "who-is-in state is written to disk at most this often (transitions at once)",
                        default=5.0, check=between(0.1, 3600)),
    "mqtt_intake": Key(bool, "also take clock-ins over MQTT, on the [uplink.mqtt] broker", default=False),
    "mqtt_topic": Key(str, "topic prefix for MQTT clock-ins: <prefix>/<phone_id> in, <prefix>/<phone_id>/result "
                           "out; empty: <uplink.mqtt.topic_prefix>/<project_code>/clockin", default="",
                      check=lambda v: None if v == "" else _TOPIC(v)),
})

ROOT: dict[str, Table] = {
    "site": SITE,
    "uplink": UPLINK,
    "http": HTTP,
    "storage": STORAGE,
    "gate": GATE,
    "devices": DEVICES,
    "geofences": GEOFENCES,
    "geofence": GEOFENCE,
}

# Keys that look like inline secrets get a pointed message instead of "unknown key".
INLINE_SECRET_NAMES = {"appsecret", "password", "secret", "token", "key"}
