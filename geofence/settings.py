"""The ``[geofence]`` configuration table turned into the geofence core's own settings.

The keys, their defaults and their checks are declared once, in ``sitegate.config.tables.GEOFENCE``
(documented in config/example.toml). A configuration built by hand (tests, the demo) may leave keys
out: the declared defaults fill them in here.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sitegate.config.tables import GEOFENCE
from sitegate.geofence.decision import DecisionConfig
from sitegate.geofence.hysteresis import HysteresisConfig
from sitegate.geofence.spoof import SpoofConfig

DEFAULT_TOPIC_PREFIX = "sitegate"


@dataclass(frozen=True)
class IntakeSettings:
    decision: DecisionConfig
    hysteresis: HysteresisConfig
    spoof: SpoofConfig
    rate_per_s: float
    rate_burst: float
    state_save_s: float
    mqtt_intake: bool
    mqtt_topic: str          # the prefix: phones publish to <mqtt_topic>/<phone_id>

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> "IntakeSettings":
        raw = dict(cfg.get("geofence") or {})
        values = {name: raw.get(name, key.default) for name, key in GEOFENCE.keys.items()}
        site = cfg.get("site") or {}
        mqtt = (cfg.get("uplink") or {}).get("mqtt") or {}
        topic = values["mqtt_topic"] or "/".join(
            (mqtt.get("topic_prefix") or DEFAULT_TOPIC_PREFIX, str(site.get("project_code", "")), "clockin"))
        return cls(
            decision=DecisionConfig(margin_factor=float(values["margin_factor"]),
                                    min_margin_m=float(values["min_margin_m"]),
                                    max_accuracy_m=float(values["max_accuracy_m"]),
                                    max_age_s=float(values["stale_s"])),
            hysteresis=HysteresisConfig(dwell_s=float(values["dwell_s"]), max_gap_s=float(values["max_gap_s"])),
            spoof=SpoofConfig(max_speed_mps=float(values["max_speed_mps"])),
            rate_per_s=float(values["rate_per_minute"]) / 60.0,
            rate_burst=float(values["rate_burst"]),
            state_save_s=float(values["state_save_s"]),
            mqtt_intake=bool(values["mqtt_intake"]),
            mqtt_topic=topic,
        )
