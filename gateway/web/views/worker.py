"""工人: one worker's page, addressed by PIN (never by ID number in a URL): details, recent events
with their delivery state, whether a face is enrolled, and the phones issued for geofence clock-ins
(active or revoked; the key itself is never shown again after issue)."""
from __future__ import annotations

from sitegate.buffer import Roster
from sitegate.commands.events import event_row
from sitegate.idcard import mask_text
from sitegate.web import labels
from sitegate.web.http import HttpError
from sitegate.web.layout import badge, facts, table
from sitegate.web.markup import Markup
from sitegate.web.views.common import team_label

PATH = "/workers/<int:pin>"
TITLE = "工人"
RECENT = 50


def _delivery_states(ctx, event_ids: list[str]) -> dict[str, str]:
    """event_id -> its state on the configured uplink (or on any uplink when none is named)."""
    if not event_ids:
        return {}
    marks = ",".join("?" * len(event_ids))
    sql = f"SELECT event_id, uplink, state FROM deliveries WHERE event_id IN ({marks})"
    out: dict[str, str] = {}
    for r in ctx.store.query(sql, tuple(event_ids)):
        if not ctx.uplink_name or r["uplink"] == ctx.uplink_name:
            out[r["event_id"]] = r["state"]
    return out


def data(ctx, req) -> dict:
    pin = req.params["pin"]
    worker = Roster(ctx.store).by_pin(pin)
    if worker is None:
        raise HttpError(404, f"no worker with PIN {pin} on the roster")
    idn = worker.id_card_number
    id_hash = ctx.store.cipher.index(idn)
    events = ctx.store.events(id_card_number=idn, limit=RECENT, newest_first=True)
    states = _delivery_states(ctx, [e.event_id for e in events])
    face = ctx.store.query("SELECT source, created_ts, updated_ts FROM faces WHERE id_hash = ?", (id_hash,))
    phones = ctx.store.query("SELECT phone_id, created_ts, revoked_ts FROM phones WHERE id_hash = ? "
                             "ORDER BY created_ts DESC", (id_hash,))
    rows = []
    for e in events:
        row = event_row(e, ctx.tz, states.get(e.event_id, "" if not e.uploadable else "not sent"))
        row["note"] = mask_text(row["note"] or "")
        rows.append(row)
    return {
        "worker": worker.public_dict(),
        "face": {"enrolled": bool(face), "source": face[0]["source"] if face else None,
                 "updated": labels.local_time(face[0]["updated_ts"], ctx.tz) if face else None},
        "phones": [{"phone_id": p["phone_id"], "active": p["revoked_ts"] is None,
                    "issued": labels.local_time(p["created_ts"], ctx.tz),
                    "revoked": labels.local_time(p["revoked_ts"], ctx.tz) if p["revoked_ts"] else None}
                   for p in phones],
        "events": rows,
    }


def _delivery_tag(state: str) -> Markup:
    kind = {"delivered": "ok", "dead": "bad", "held": "warn", "pending": "info", "inflight": "info"}.get(state, "")
    return badge(labels.label(labels.DELIVERY, state), kind)


def render(ctx, req, d: dict) -> Markup:
    w = d["worker"]
    status = "黑名单" if w["blacklisted"] else labels.label(labels.WORKER_STATUS, w["status"])
    face = d["face"]
    details = facts([
        ("姓名", w["name"]), ("身份证号", w["id_card_number"]), ("PIN", w["pin"]),
        ("班组", team_label(w["team_sys_no"], w["team_name"])), ("工种", w["work_type"]),
        ("卡号", w["card_no"]), ("有效期至", w["valid_to"]), ("状态", status),
        ("人脸", f"已录入（{face['updated']}）" if face["enrolled"] else "未录入"),
        ("手机打卡", "、".join(("有效" if p["active"] else "已吊销") + f" {p['phone_id']}" for p in d["phones"])
         or "未登记"),
    ])
    columns = [
        ("时间", lambda r: r["time"]),
        ("方向", lambda r: labels.label(labels.DIRECTION, r["direction"])),
        ("方式", lambda r: labels.label(labels.METHOD, r["method"])),
        ("通道", lambda r: r["lane"] or r["device_id"]),
        ("结果", lambda r: badge(labels.label(labels.OUTCOME, r["outcome"]), "ok" if r["outcome"] == "admitted" else "bad")
         + (Markup(" {}").format(labels.label(labels.DENY_REASON, r["reason"])) if r["reason"] else Markup(""))),
        ("上传", lambda r: _delivery_tag(r["delivery"])),
        ("备注", lambda r: r["note"] or "—"),
    ]
    manual = Markup('<p><a class="button" href="/manual?pin={}">为此工人补卡</a></p>').format(w["pin"])
    return (Markup("<h2>{}</h2>").format(w["name"]) + details + manual
            + Markup("<h2>最近记录</h2>") + table(columns, d["events"], empty="还没有记录。"))
