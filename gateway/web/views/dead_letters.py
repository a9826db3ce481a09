"""死信: records the platform refused for their content, with the platform's own reason. After the
clerk corrects the cause (usually the roster or the worker's registration on the platform),
"重新上传" puts the record back in the queue (``DeliveryQueue.requeue_dead``, audited)."""
from __future__ import annotations

import re

from sitegate.buffer import DeliveryQueue
from sitegate.idcard import mask_text
from sitegate.web import labels
from sitegate.web.http import HttpError, Response, json_response, redirect
from sitegate.web.layout import csrf_field, table
from sitegate.web.markup import Markup
from sitegate.web.views.common import decrypt_name, json_note, worker_link

PATH = "/dead-letters"
TITLE = "死信"
MAX_NOTE = 200
_EVENT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

_SQL = """
SELECT dl.id, dl.event_id, dl.uplink, dl.reason, dl.code, dl.created_ts,
       e.wall_ts, e.id_masked, e.name_enc, e.direction, e.method, e.lane, e.device_id, e.team_name, w.pin
FROM dead_letters dl
LEFT JOIN events e ON e.event_id = dl.event_id
LEFT JOIN workers w ON w.id_hash = e.id_hash
WHERE dl.resolved_ts IS NULL AND (? = '' OR dl.uplink = ?)
ORDER BY dl.created_ts
"""


def data(ctx, req) -> dict:
    rows = ctx.store.query(_SQL, (ctx.uplink_name, ctx.uplink_name))
    return {"uplink": ctx.uplink_name, "open": len(rows), "items": [{
        "id": r["id"], "event_id": r["event_id"], "uplink": r["uplink"],
        "reason": mask_text(r["reason"]), "code": r["code"],
        "refused": labels.local_time(r["created_ts"], ctx.tz),
        "time": labels.local_time(r["wall_ts"], ctx.tz) if r["wall_ts"] is not None else None,
        "name": decrypt_name(ctx.store, r["name_enc"]), "id_card_number": r["id_masked"] or "", "pin": r["pin"],
        "team_name": r["team_name"] or "", "direction": r["direction"], "method": r["method"],
        "lane": r["lane"] or r["device_id"],
    } for r in rows]}


def _retry_form(csrf: str, event_id: str) -> Markup:
    return Markup(
        '<form class="actions" method="post" action="/dead-letters/{}">{}'
        '<input name="note" placeholder="已更正的内容（可选）" maxlength="{}">'
        '<button type="submit">重新上传</button></form>').format(event_id, csrf_field(csrf), MAX_NOTE)


def render(ctx, req, d: dict) -> Markup:
    csrf = req.session.csrf
    columns = [
        ("被拒时间", lambda i: i["refused"]),
        ("姓名", lambda i: worker_link(i["pin"], i["name"])),
        ("身份证号", lambda i: i["id_card_number"] or "—"),
        ("通行", lambda i: f"{labels.label(labels.DIRECTION, i['direction'])} {i['time'] or '—'}"),
        ("平台原因", lambda i: f"{i['reason']}" + (f"（{i['code']}）" if i["code"] else "")),
        ("处理", lambda i: _retry_form(csrf, i["event_id"])),
    ]
    intro = Markup('<p class="muted">平台因内容拒收的记录。请先按平台原因更正（例如在平台登记该工人、导入最新花名册），'
                   "再点“重新上传”。</p>")
    return intro + table(columns, d["items"], empty="没有死信。")


def retry(ctx, event_id: str, actor: str, note: str) -> bool:
    if not _EVENT_ID.fullmatch(event_id):
        raise HttpError(400, "event id must be a UUID")
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise HttpError(400, f"备注最多 {MAX_NOTE} 个字")
    if not ctx.uplink_name:
        raise HttpError(409, "uploading is switched off on this gateway: nothing to retry")
    return DeliveryQueue(ctx.store, ctx.uplink_name).requeue_dead(event_id, actor, note)


def post_page(app, req) -> Response:
    event_id = req.params["event_id"]
    if retry(app.ctx, event_id, req.session.username, req.form().get("note", "")):
        app.flash(req, "ok", f"记录 {event_id} 已重新排队上传")
    else:
        app.flash(req, "error", f"记录 {event_id} 已不在死信中（可能已被他人处理）")
    return redirect(PATH)


def post_api(app, req) -> Response:
    note = json_note(req)
    event_id = req.params["event_id"]
    if not retry(app.ctx, event_id, req.session.username, note):
        raise HttpError(409, f"event {event_id} is not a dead letter on uplink {app.ctx.uplink_name!r}")
    return json_response({"event_id": event_id, "requeued": True})
