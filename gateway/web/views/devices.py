"""设备: the gate devices and their health as the daemon sees them (``ctx.devices()``)."""
from __future__ import annotations

import logging

from sitegate.idcard import mask_text
from sitegate.web import labels
from sitegate.web.layout import badge, table
from sitegate.web.markup import Markup

log = logging.getLogger(__name__)

PATH = "/devices"
TITLE = "设备"
_KIND = {"up": "ok", "degraded": "warn", "down": "bad"}
_DIRECTION = {**labels.DIRECTION, "device": "由设备上报"}


def data(ctx, req) -> dict:
    try:
        devices = list(ctx.devices() or [])
    except Exception as exc:  # noqa: BLE001 - the page says so instead of failing
        log.error("device list failed: %s", exc)
        return {"devices": [], "error": "设备状态暂时无法获取"}
    out = []
    for d in devices:
        since = d.get("since")
        out.append({
            "id": str(d.get("id", "")), "driver": str(d.get("driver", "")), "lane": str(d.get("lane", "")),
            "direction": str(d.get("direction", "")), "state": str(d.get("state", "down")),
            "reason": mask_text(str(d.get("reason") or "")),
            "since": labels.local_time(since, ctx.tz) if isinstance(since, (int, float)) else None,
            "since_ts": since if isinstance(since, (int, float)) else None,
        })
    return {"devices": out, "up": sum(d["state"] == "up" for d in out), "total": len(out)}


def render(ctx, req, d: dict) -> Markup:
    if d.get("error"):
        return Markup('<p class="flash error">{}</p>').format(d["error"])
    columns = [
        ("设备", lambda x: x["id"]),
        ("状态", lambda x: badge(labels.label(labels.DEVICE_STATE, x["state"]), _KIND.get(x["state"], "bad"))),
        ("自", lambda x: x["since"] or "—"),
        ("原因", lambda x: x["reason"] or "—"),
        ("通道", lambda x: x["lane"] or "—"),
        ("方向", lambda x: labels.label(_DIRECTION, x["direction"]) or "—"),
        ("驱动", lambda x: x["driver"]),
    ]
    summary = Markup('<div class="summary"><div class="stat">正常<b>{}</b></div>'
                     '<div class="stat">设备总数<b>{}</b></div></div>').format(d["up"], d["total"])
    return summary + table(columns, d["devices"], empty="没有配置设备。")
