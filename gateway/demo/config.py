"""The demo's configuration, rendered into the demo's data directory (so `sitegate status -c
demo-data/sitegate.toml` works from another terminal). This is the embedded demo configuration
`make demo` runs; every key is explained in config/example.toml.

Only devices whose simulator started are written. Ports the gateway listens on for terminals that
call it (ZKTeco, Hikvision) are fixed in the file, as on a real site: the terminal is configured
with that address, and a restarted driver must come back on the same port.
"""
from __future__ import annotations

import json
from pathlib import Path

PROJECT_CODE = "370102202300001"
APPID = "DEMOAPPID0001"

TEMPLATE = """# sitegate demo — written by `sitegate demo`; every key is explained in config/example.toml
[site]
project_code = "{project_code}"
gateway_id   = "gw-demo"
data_dir     = {gateway_dir}
timezone     = "Asia/Shanghai"
name         = "演示工地 (demo site)"

[uplink]
profile        = "national"
url            = "{platform_url}"
appid          = "{appid}"
appsecret_file = {appsecret_file}
default_team   = 100156750
poll_interval_s = 2.0
roster_sync_minutes = 10

[http]
listen = "{listen}"

[gate]
repeat_window_s = 10.0
anti_passback   = false
{devices}{geofences}"""

DEVICES = {
    "ga467-serial": """
[[devices]]
id        = "east-idcard"
driver    = "ga467-serial"
lane      = "{lane}"
direction = "in"
port      = {tty}
poll_interval = 0.3
""",
    "wg-udp": """
[[devices]]
id        = "east-turnstile"
driver    = "wg-udp"
lane      = "{lane}"
direction = "device"
host      = "127.0.0.1"
port      = {wg_port}
serial    = {wg_serial}
mode      = "controller"
listen    = "127.0.0.1:0"
""",
    "zk-push": """
[[devices]]
id        = "west-face-zk"
driver    = "zk-push"
lane      = "{lane}"
direction = "device"
listen    = "127.0.0.1:{zk_port}"
serial    = "{zk_serial}"
""",
    "hik-isapi": """
[[devices]]
id        = "west-face-hik"
driver    = "hik-isapi"
lane      = "{lane}"
direction = "device"
host      = "{hik_host}"
username  = "admin"
password_file = {hik_password_file}
listen    = "127.0.0.1:{hik_push_port}"
""",
    "camera-face": """
[[devices]]
id        = "north-camera"
driver    = "camera-face"
lane      = "{lane}"
direction = "in"
source    = {video}
loop      = true           # the sample clip plays again and again, like a live camera
min_face_px = 80           # the clip is 640x360: faces are smaller than at a real gate
tolerance = 0.6            # its small stage faces measure 0.56-0.57 from the enrolment frame; a gate camera keeps 0.5
""",
}

# Driver -> the lane its device reports (the platform's "channel"); the demo test maps records back.
LANES = {"ga467-serial": "东门1号闸", "wg-udp": "东门2号闸", "zk-push": "西门人脸1", "hik-isapi": "西门人脸2",
         "camera-face": "北门摄像头", "geofence": "管线工地电子围栏"}

# A circle drawn on an Amap screen (GCJ-02). The [geofence] tuning is the demo's: a short dwell so
# a phone clocks in within a minute of the start, and a rate that allows one fix every 2 s.
GEOFENCE = """
[[geofences]]
id        = "pipeline-site"
crs       = "gcj02"            # drawn on an Amap screen
center    = [117.1205, 36.6512]
radius_m  = 150
lane      = "{lane}"
direction = "both"

[geofence]
dwell_s         = 6.0          # demo: two fixes 6 s apart clock in (default 30 s)
rate_per_minute = 60.0         # demo phones send a fix every 2 s (default 12 per minute)
"""


def toml_str(value: str | Path) -> str:
    """A TOML basic string (JSON's escaping is valid TOML for these characters)."""
    return json.dumps(str(value), ensure_ascii=False)


def render(*, data_dir: Path, platform_url: str, listen: str, devices: dict[str, dict], geofence: bool) -> str:
    """The configuration text for the started devices (driver -> its template values)."""
    device_text = "".join(DEVICES[driver].format(lane=LANES[driver], **values) for driver, values in devices.items())
    return TEMPLATE.format(project_code=PROJECT_CODE, appid=APPID, gateway_dir=toml_str(data_dir / "gateway"),
                           platform_url=platform_url, appsecret_file=toml_str(data_dir / "appsecret"),
                           listen=listen, devices=device_text,
                           geofences=GEOFENCE.format(lane=LANES["geofence"]) if geofence else "")
