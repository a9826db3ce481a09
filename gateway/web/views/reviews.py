"""待审核: clock-ins the gateway would not decide alone (uncertain position, spoofing signals). The
clerk accepts one (it becomes an attendance event, queued for the platform) or rejects it, with a
note; both are kept with who decided (``sitegate.buffer.reviews.ReviewQueue``)."""
from __future__ import annotations

from sitegate.buffer.reviews import ReviewQueue
from sitegate.errors import UsageError
from sitegate.idcard import mask_text
from sitegate.web import labels
from sitegate.web.http import HttpError, Response, json_response, redirect
from sitegate.web.layout import csrf_field, table
from sitegate.web.markup import Markup
from sitegate.web.views.common import json_note

PATH = "/reviews"
TITLE = "待审核"
MAX_NOTE = 200


def _item(ctx, it) -> dict:
    ev = it.event
    loc = ev.location
    return {
        "id": it.id, "kind": it.kind, "created": labels.local_time(it.created_ts, ctx.tz), "created_ts": it.created_ts,
        "name": ev.worker.name, "id_card_number": it.id_masked, "team_name": ev.worker.team_name,
        "direction": ev.direction.value, "method": ev.method.value,
        "time": labels.local_time(ev.time.wall.timestamp(), ctx.tz), "lane": ev.source.lane or ev.source.device_id,
        "reasons": [{"code": str(r.get("code", "")), "message": mask_text(str(r.get("message", "")))} for r in it.reasons],
        "location": {"lng": loc.lng, "lat": loc.lat, "accuracy_m": loc.accuracy_m} if loc else None,
    }


def data(ctx, req) -> dict:
    items = ReviewQueue(ctx.store).list("open")
    return {"open": len(items), "items": [_item(ctx, it) for it in items]}


def _actions(csrf: str, item_id: int) -> Markup:
    return Markup(
        '<form class="actions" method="post" action="/reviews/{id}">{csrf}'
        '<input name="note" placeholder="备注（可选）" maxlength="{max}">'
        '<button type="submit" name="decision" value="accept">通过</button>'
        '<button type="submit" name="decision" value="reject" class="danger">驳回</button></form>'
    ).format(id=item_id, csrf=csrf_field(csrf), max=MAX_NOTE)


def render(ctx, req, d: dict) -> Markup:
    csrf = req.session.csrf
    columns = [
        ("提交时间", lambda i: i["created"]),
        ("姓名", lambda i: i["name"] or "—"),
        ("身份证号", lambda i: i["id_card_number"] or "—"),
        ("打卡", lambda i: f"{labels.label(labels.DIRECTION, i['direction'])} {i['time']}"),
        ("类型", lambda i: labels.label(labels.REVIEW_KIND, i["kind"])),
        ("原因", lambda i: "；".join(r["message"] or r["code"] for r in i["reasons"]) or "—"),
        ("位置", lambda i: (f"{i['location']['lat']:.5f}, {i['location']['lng']:.5f}"
                          + (f" ±{i['location']['accuracy_m']:.0f} 米" if i["location"]["accuracy_m"] is not None else ""))
         if i["location"] else "—"),
        ("处理", lambda i: _actions(csrf, i["id"])),
    ]
    intro = Markup('<p class="muted">通过后生成考勤记录并上传平台；驳回的记录保留备查。</p>')
    return intro + table(columns, d["items"], empty="没有待审核的打卡。")


def decide(ctx, item_id: int, decision: str, actor: str, note: str) -> dict:
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise UsageError(f"备注最多 {MAX_NOTE} 个字")
    queue = ReviewQueue(ctx.store)
    if queue.get(item_id) is None:
        raise HttpError(404, f"no review item {item_id}")
    if decision == "accept":
        event_id = queue.accept(item_id, actor, note)
        return {"id": item_id, "status": "accepted", "event_id": event_id}
    if decision == "reject":
        queue.reject(item_id, actor, note)
        return {"id": item_id, "status": "rejected", "event_id": None}
    raise HttpError(400, "decision must be accept or reject")


def post_page(app, req) -> Response:
    f = req.form()
    try:
        result = decide(app.ctx, req.params["id"], f.get("decision", ""), req.session.username, f.get("note", ""))
    except UsageError as exc:
        app.flash(req, "error", f"操作未完成：{exc}")
        return redirect(PATH)
    if result["status"] == "accepted":
        app.flash(req, "ok", f"第 {result['id']} 条已通过，生成考勤记录 {result['event_id']}")
    else:
        app.flash(req, "ok", f"第 {result['id']} 条已驳回")
    return redirect(PATH)


def post_api(app, req) -> Response:
    note = json_note(req)
    try:
        return json_response(decide(app.ctx, req.params["id"], req.params["decision"], req.session.username, note))
    except UsageError as exc:
        raise HttpError(409 if "already" in str(exc) else 400, str(exc)) from None
