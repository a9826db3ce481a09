"""The demo's configuration, rendered into the demo's data directory (so `sitegate status -c
demo-data/sitegate.toml` works from another terminal). This is the embedded demo configuration
`make demo` runs."""
from __future__ import annotations

TEMPLATE = """# sitegate demo — written by `sitegate demo`; every key is explained in config/example.toml
[site]
project_code = "370102202300001"
gateway_id   = "gw-demo"
data_dir     = "{data_dir}/gateway"
timezone     = "Asia/Shanghai"
name         = "演示工地 (demo site)"

[uplink]
profile        = "national"
url            = "{platform_url}"
appid          = "DEMOAPPID0001"
appsecret_file = "{data_dir}/appsecret"
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
lane      = "东门1号闸"
direction = "in"
port      = "{data_dir}/ttyIDCARD"
poll_interval = 0.3
""",
    "wg-udp": """
[[devices]]
id        = "east-turnstile"
driver    = "wg-udp"
lane      = "东门2号闸"
direction = "device"
host      = "127.0.0.1"
port      = {wg_port}
serial    = 223000123
mode      = "controller"
listen    = "127.0.0.1:0"
""",
    "zk-push": """
[[devices]]
id        = "west-face-zk"
driver    = "zk-push"
lane      = "西门人脸1"
direction = "device"
listen    = "127.0.0.1:{zk_port}"
serial    = "CKJ1234567"
""",
    "hik-isapi": """
[[devices]]
id        = "west-face-hik"
driver    = "hik-isapi"
lane      = "西门人脸2"
direction = "device"
host      = "http://127.0.0.1:{hik_port}"
username  = "admin"
password_file = "{data_dir}/hik-password"
listen    = "127.0.0.1:{hik_push_port}"
""",
    "camera-face": """
[[devices]]
id        = "north-camera"
driver    = "camera-face"
lane      = "北门摄像头"
direction = "in"
source    = "{video}"
""",
}

GEOFENCE = """
[[geofences]]
id        = "pipeline-site"
crs       = "gcj02"            # drawn on an Amap screen
center    = [117.1205, 36.6512]
radius_m  = 150
lane      = "管线工地电子围栏"
direction = "both"
"""
