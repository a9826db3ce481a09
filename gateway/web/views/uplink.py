"""上传状态: what has reached the platform and what has not (``sitegate.buffer.status``): records per
delivery state, the oldest one still waiting, the last confirmed delivery, dead letters, alarms."""
from __future__ import annotations

from sitegate.buffer import status
from sitegate.buffer.deliveries import STATES
from sitegate.idcard import mask_text
from sitegate.web import labels
from sitegate.web.layout import badge, facts, link, table
from sitegate.web.markup import Markup

PATH = "/uplink"
TITLE = "上传状态"


def data(ctx, req) -> dict:
    st = status(ctx.store)
    now = ctx.now()
    oldest = st["oldest_undelivered_ts"]
    return {
        "uplink": ctx.uplink_name,
        "events": st["events"],
        "backlog": st["backlog"],
        "oldest_undelivered": labels.local_time(oldest, ctx.tz) if oldest else None,
        "oldest_undelivered_ts": oldest,
        "oldest_undelivered_age_s": max(now - oldest, 0.0) if oldest else None,
        "last_delivery": labels.local_time(st["last_delivery_ts"], ctx.tz) if st["last_delivery_ts"] else None,
        "last_delivery_ts": st["last_delivery_ts"],
        "dead_letters": st["dead_letters"],
        "alarms": [{"code": a["code"], "severity": a["severity"], "message": mask_text(a["message"]),
                    "raised": labels.local_time(a["raised_ts"], ctx.tz), "last": labels.local_time(a["last_ts"], ctx.tz),
                    "count": a["count"]} for a in st["alarms"]],
    }


def render(ctx, req, d: dict) -> Markup:
    ev = d["events"]
    waiting = sum(n for states in d["backlog"].values() for s, n in states.items() if s in ("held", "pending", "inflight"))
    summary = Markup(
        '<div class="summary"><div class="stat">待上传<b>{}</b></div><div class="stat">死信<b>{}</b></div>'
        '<div class="stat">记录总数<b>{}</b></div><div class="stat">告警<b>{}</b></div></div>').format(
        waiting, d["dead_letters"], ev["total"], len(d["alarms"]))
    info = facts([
        ("最早未上传", f"{d['oldest_undelivered']}（{labels.age_text(d['oldest_undelivered_age_s'])}前）"
         if d["oldest_undelivered"] else "无"),
        ("最近一次上传成功", d["last_delivery"] or "尚未上传"),
        ("通行记录", f"{ev['total']} 条（通过 {ev['admitted']}，拒绝 {ev['denied']}；拒绝的记录不上传）"),
        ("死信", link("/dead-letters", f"{d['dead_letters']} 条待处理") if d["dead_letters"] else "无"),
    ])
    columns = [("上传通道", lambda r: r[0])] + [
        (labels.label(labels.DELIVERY, s), (lambda r, s=s: r[1][s])) for s in STATES]
    backlog = table(columns, sorted(d["backlog"].items()), empty="未配置上传（uplink 已关闭）。")
    alarm_cols = [
        ("级别", lambda a: badge("严重", "bad") if a["severity"] == "critical" else badge("警告", "warn")),
        ("代码", lambda a: a["code"]),
        ("内容", lambda a: a["message"]),
        ("首次", lambda a: a["raised"]),
        ("次数", lambda a: a["count"]),
    ]
    return (summary + info + Markup("<h2>各状态记录数</h2>") + backlog
            + Markup("<h2>告警</h2>") + table(alarm_cols, d["alarms"], empty="没有告警。"))
