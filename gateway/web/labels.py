"""Chinese labels for the codes the store keeps, and local-time formatting for the pages."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

DIRECTION = {"in": "进场", "out": "出场"}
METHOD = {"idcard": "身份证", "card": "门禁卡", "face": "人脸", "fingerprint": "指纹", "geofence": "定位打卡",
          "manual": "补卡"}
OUTCOME = {"admitted": "通过", "denied": "拒绝"}
DENY_REASON = {
    "unknown": "未登记（不在花名册）",
    "blacklisted": "黑名单",
    "left_project": "已退场",
    "id_card_expired": "身份证已过期",
    "contract_expired": "合同/进场期限已过",
    "anti_passback": "防潜回（重复进出）",
    "outside_fence": "不在电子围栏内",
    "spoof_suspected": "疑似定位作弊",
    "device_denied": "设备拒绝",
}
DELIVERY = {"held": "待校时", "pending": "待上传", "inflight": "上传中", "delivered": "已上传", "dead": "被平台拒收",
            "": "不上传", "not sent": "不上传"}
DEVICE_STATE = {"up": "正常", "degraded": "降级", "down": "离线"}
WORKER_STATUS = {"active": "在册", "left": "已退场"}
REVIEW_KIND = {"geofence": "定位打卡"}


def label(table: dict[str, str], code: str | None) -> str:
    """The Chinese label, or the code itself when there is none (a new code is still shown)."""
    if code is None:
        return ""
    return table.get(code, code)


def local_time(ts: float | None, tz: str, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    if ts is None:
        return "—"
    return datetime.fromtimestamp(ts, ZoneInfo(tz)).strftime(fmt)


def short_time(ts: float | None, tz: str) -> str:
    return local_time(ts, tz, "%m-%d %H:%M")


def age_text(seconds: float | None) -> str:
    """'3 小时 20 分' style, for 'how long ago'."""
    if seconds is None:
        return "—"
    seconds = max(int(seconds), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} 天 {hours} 小时"
    if hours:
        return f"{hours} 小时 {minutes} 分"
    return f"{minutes} 分钟"
