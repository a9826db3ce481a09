"""补卡: a clerk records a passage the gate did not, through ``sitegate.manual.add_supplementary``
(the same rules as ``sitegate events add``).

A supplementary clock-in pays a day's wage, so a form sent twice (double click, reload, a phone
resending on a bad network) must make one record: each form carries a one-time ``form_id`` and a
second submission of it answers with the first record instead of a new one. After success the
browser is redirected (POST/redirect/GET), so a reload shows the result without posting again.
"""
from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict
from datetime import datetime
from zoneinfo import ZoneInfo

from sitegate.buffer import Roster
from sitegate.commands._common import parse_local_time
from sitegate.commands.events import event_row
from sitegate.errors import StoreError, UsageError
from sitegate.idcard import mask, normalise
from sitegate.manual import add_supplementary
from sitegate.web import labels
from sitegate.web.http import HttpError, Response, json_response, redirect
from sitegate.web.layout import csrf_field, facts
from sitegate.web.markup import Markup, attrs

PATH = "/manual"
TITLE = "补卡"
MAX_REASON = 200
MAX_CHANNEL = 64
_PIN = re.compile(r"\d{1,9}")


class _Slot:
    """One form's record: being made (``ready`` not set) or made (``event_id``)."""

    def __init__(self):
        self.ready = threading.Event()
        self.event_id: str | None = None


class SubmittedForms:
    """form_id -> the record it made, for the last few thousand forms.

    The first submission claims the form_id and makes the record; a duplicate arriving meanwhile
    waits for it and answers with the same record. No lock is held while the store is written.
    """

    WAIT_S = 30.0

    def __init__(self, limit: int = 5000):
        self._slots: OrderedDict[str, _Slot] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def claim(self, form_id: str) -> tuple[bool, _Slot]:
        """(True, new slot) for the first submission of ``form_id``; (False, its slot) after that."""
        with self._lock:
            slot = self._slots.get(form_id)
            if slot is not None:
                return False, slot
            slot = self._slots[form_id] = _Slot()
            while len(self._slots) > self._limit:
                self._slots.popitem(last=False)
            return True, slot

    def done(self, form_id: str, slot: _Slot, event_id: str | None) -> None:
        """The record is made (event_id) or was refused (None: the form may be sent again)."""
        slot.event_id = event_id
        if event_id is None:
            with self._lock:
                if self._slots.get(form_id) is slot:
                    del self._slots[form_id]
        slot.ready.set()

    def wait(self, slot: _Slot) -> str:
        if not slot.ready.wait(self.WAIT_S) or slot.event_id is None:
            raise UsageError("这张表单的上一次提交没有成功，请刷新页面后重新填写")
        return slot.event_id


def _resolve(ctx, who: str) -> str:
    """The worker's ID number from a PIN or an ID number as typed."""
    who = normalise(who or "")
    if not who:
        raise UsageError("请填写工人的 PIN 或身份证号")
    if _PIN.fullmatch(who):
        # the cache first; the table for a worker imported a moment ago
        worker = ctx.roster.by_pin(int(who)) or Roster(ctx.store).by_pin(int(who))
        if worker is None:
            raise UsageError(f"花名册中没有 PIN 为 {who} 的工人")
        return worker.id_card_number
    return who


def create(ctx, forms: SubmittedForms, *, who: str, direction: str, time_text: str, channel: str,
           reason: str, actor: str, form_id: str = "") -> tuple[str, bool]:
    """Record the supplementary clock-in. Returns (event_id, created); created is False when this
    form_id already made a record. Raises UsageError with what is wrong."""
    reason = (reason or "").strip()
    channel = (channel or "").strip()
    if direction not in ("in", "out"):
        raise UsageError("请选择进场或出场")
    if not reason:
        raise UsageError("请填写补卡原因（例如：闸机故障、忘带卡）")
    if len(reason) > MAX_REASON:
        raise UsageError(f"补卡原因最多 {MAX_REASON} 个字")
    if len(channel) > MAX_CHANNEL:
        raise UsageError(f"通道名称最多 {MAX_CHANNEL} 个字")
    if form_id and not re.fullmatch(r"[A-Za-z0-9_-]{16,64}", form_id):
        raise UsageError("表单编号无效，请刷新页面后重试")
    when = parse_local_time(time_text, ctx.tz) if (time_text or "").strip() else None
    idn = _resolve(ctx, who)
    if not form_id:
        return _add(ctx, idn, direction, when, reason, channel, actor), True
    first, slot = forms.claim(form_id)
    if not first:
        return forms.wait(slot), False
    event_id = None
    try:
        event_id = _add(ctx, idn, direction, when, reason, channel, actor)
    finally:
        forms.done(form_id, slot, event_id)
    return event_id, True


def _add(ctx, idn: str, direction: str, when, reason: str, channel: str, actor: str) -> str:
    return add_supplementary(ctx.store, id_card_number=idn, direction=direction, when=when, reason=reason,
                             channel=channel, actor=actor, clock=ctx.clock).event_id


# -- the page ----------------------------------------------------------------------------------
def _lanes(ctx) -> list[str]:
    try:
        return sorted({str(d.get("lane")) for d in ctx.devices() if d.get("lane")})
    except Exception:  # noqa: BLE001 - a suggestion list is not worth failing the form for
        return []


def _form(ctx, csrf: str, values: dict[str, str], error: str = "") -> Markup:
    now_local = datetime.fromtimestamp(ctx.now(), ZoneInfo(ctx.tz)).strftime("%Y-%m-%dT%H:%M")
    direction = values.get("direction", "in")
    radios = Markup("").join(
        Markup("<label><input{}> {}</label>").format(
            attrs(type="radio", name="direction", value=d, checked=direction == d, required=True), text)
        for d, text in (("in", "进场"), ("out", "出场")))
    lanes = Markup("").join(Markup("<option{}>").format(attrs(value=lane)) for lane in _lanes(ctx))
    err = Markup('<p class="flash error" role="alert">无法补卡：{}</p>').format(error) if error else Markup("")
    return err + Markup(
        '<form class="stack" method="post" action="/manual">{csrf}'
        '<input type="hidden" name="form_id" value="{form_id}">'
        '<label>工人 <span class="hint">PIN 或身份证号</span>'
        '<input name="who" value="{who}" required autocomplete="off" inputmode="text"></label>'
        '<fieldset><legend class="hint">方向</legend>{radios}</fieldset>'
        '<label>时间 <span class="hint">工地当地时间</span>'
        '<input type="datetime-local" name="time" value="{time}" max="{now}" required></label>'
        '<label>通道 <span class="hint">闸机 / 通道名称</span>'
        '<input name="channel" value="{channel}" list="lanes" maxlength="{max_channel}"></label>'
        '<datalist id="lanes">{lanes}</datalist>'
        '<label>原因 <span class="hint">必填，例如：闸机故障、忘带卡</span>'
        '<textarea name="reason" required maxlength="{max_reason}">{reason}</textarea></label>'
        '<button type="submit">提交补卡</button></form>'
    ).format(csrf=csrf_field(csrf), form_id=secrets.token_urlsafe(16), who=values.get("who", ""), radios=radios,
             time=values.get("time") or now_local, now=now_local, channel=values.get("channel", ""), lanes=lanes,
             reason=values.get("reason", ""), max_channel=MAX_CHANNEL, max_reason=MAX_REASON)


def _safe_who(who: str) -> str:
    """What to put back into the form after an error: a PIN, never an ID number."""
    who = normalise(who or "")
    return who if _PIN.fullmatch(who) else ""


def _done(ctx, event_id: str) -> Markup:
    event = ctx.store.get_event(event_id) if re.fullmatch(r"[0-9a-f-]{36}", event_id) else None
    if event is None or event.method.value != "manual":
        return Markup("")
    row = event_row(event, ctx.tz)
    return Markup('<p class="flash ok" role="status">补卡已记录，事件编号 <code>{}</code></p>').format(event_id) + facts([
        ("姓名", row["name"]), ("身份证号", row["id_card_number"]), ("方向", labels.label(labels.DIRECTION, row["direction"])),
        ("时间", row["time"]), ("通道", row["lane"]), ("原因", row["note"]),
        ("录入人", event.extra.get("entered_by", "")),
    ]) + Markup('<h2>再补一条</h2>')


def get_page(app, req) -> Response:
    ctx = app.ctx
    done = _done(ctx, req.query.get("done", ""))
    pin = req.query.get("pin", "")
    body = done + _form(ctx, req.session.csrf, {"who": pin if _PIN.fullmatch(pin) else ""})
    return app.page(req, TITLE, body, active=PATH)


def post_page(app, req) -> Response:
    ctx, f = app.ctx, req.form()
    try:
        event_id, _created = create(ctx, app.manual_forms, who=f.get("who", ""), direction=f.get("direction", ""),
                                    time_text=f.get("time", ""), channel=f.get("channel", ""),
                                    reason=f.get("reason", ""), actor=req.session.username,
                                    form_id=f.get("form_id", ""))
    except UsageError as exc:
        app.metrics_rejected("manual_refused")
        values = {**f, "who": _safe_who(f.get("who", ""))}
        return app.page(req, TITLE, _form(ctx, req.session.csrf, values, str(exc)), active=PATH, status=400)
    return redirect(f"{PATH}?done={event_id}")


def post_api(app, req) -> Response:
    ctx, body = app.ctx, req.json()
    fields = {k: body.get(k, "") for k in ("worker", "direction", "time", "channel", "reason", "request_id")}
    bad = [k for k, v in fields.items() if not isinstance(v, str)]
    if bad:
        raise HttpError(400, f"{', '.join(bad)} must be strings")
    try:
        event_id, created = create(ctx, app.manual_forms, who=fields["worker"], direction=fields["direction"],
                                   time_text=fields["time"], channel=fields["channel"], reason=fields["reason"],
                                   actor=req.session.username, form_id=fields["request_id"])
    except UsageError as exc:
        app.metrics_rejected("manual_refused")
        return json_response({"error": str(exc), "worker": mask(fields["worker"]) if not _PIN.fullmatch(
            fields["worker"].strip()) else fields["worker"]}, 400)
    except StoreError as exc:
        raise HttpError(503, f"the store did not take the record: {exc}") from None
    event = ctx.store.get_event(event_id)
    return json_response({"created": created, "event": event_row(event, ctx.tz)}, 201 if created else 200)
