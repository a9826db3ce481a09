"""花名册: search the roster by name, the last 4 characters of the ID number, card number, PIN or
team. ID numbers are shown masked; a full ID number typed into the box is looked up through the
blind index and never echoed back."""
from __future__ import annotations

import re

from sitegate.idcard import check_digit_ok, mask, normalise
from sitegate.web import labels
from sitegate.web.http import HttpError
from sitegate.web.layout import badge, pager, table
from sitegate.web.markup import Markup, attrs
from sitegate.web.views.common import decrypt_name, team_label, worker_link

PATH = "/roster"
TITLE = "花名册"
PER_PAGE = 50
STATUSES = ("active", "left", "all")

_COLUMNS = ("id_hash, id_masked, id_card_type, name_enc, team_sys_no, team_name, work_type, card_no, valid_to, "
            "blacklisted, status, pin")


def _int_param(req, name: str, default: int | None) -> int | None:
    raw = req.query.get(name, "")
    if raw == "":
        return default
    if not re.fullmatch(r"-?\d{1,12}", raw):
        raise HttpError(400, f"{name} must be a whole number, got {raw[:20]!r}")
    return int(raw)


def _matcher(ctx, q: str):
    """(predicate over (row, name), whether it needs the name): chosen by what the text looks like."""
    qn = normalise(q)
    if not qn:
        return (lambda r, name: True), False
    if len(qn) == 18 and check_digit_ok(qn):
        h = ctx.store.cipher.index(qn)
        return (lambda r, name: r["id_hash"] == h), False
    if re.fullmatch(r"\d{3}[\dX]", qn):     # last 4 of an ID number, or a short card number / PIN
        return (lambda r, name: ((r["id_masked"] or "").endswith(qn) or _card_eq(r["card_no"], qn)
                                 or str(r["pin"]) == qn)), False
    if qn.isdigit():
        return (lambda r, name: _card_eq(r["card_no"], qn) or str(r["pin"]) == qn), False
    folded = q.strip().casefold()
    return (lambda r, name: (folded in name.casefold() or folded in (r["team_name"] or "").casefold()
                             or folded in (r["work_type"] or "").casefold())), True


def _card_eq(card_no: str | None, q: str) -> bool:
    # controllers report decimal numbers; CSVs sometimes keep leading zeros
    return bool(card_no) and card_no.lstrip("0") == q.lstrip("0")


def data(ctx, req) -> dict:
    q = req.query.get("q", "").strip()[:64]
    team = _int_param(req, "team", None)
    status = req.query.get("status", "active") or "active"
    if status not in STATUSES:
        raise HttpError(400, f"status must be one of {', '.join(STATUSES)}")
    page_no = max(_int_param(req, "page", 1) or 1, 1)
    sql, args = f"SELECT {_COLUMNS} FROM workers WHERE 1=1", []
    if status != "all":
        sql += " AND status = ?"
        args.append(status)
    if team is not None:
        sql += " AND team_sys_no = ?"
        args.append(team)
    match, needs_name = _matcher(ctx, q)
    found = []
    for r in ctx.store.query(sql + " ORDER BY pin", tuple(args)):
        # names are encrypted: decrypt every row only when the search is by name
        name = decrypt_name(ctx.store, r["name_enc"]) if needs_name else None
        if match(r, name):
            found.append((r, name))
    pages = max((len(found) + PER_PAGE - 1) // PER_PAGE, 1)
    page_no = min(page_no, pages)
    chunk = [(r, name if name is not None else decrypt_name(ctx.store, r["name_enc"]))
             for r, name in found[(page_no - 1) * PER_PAGE: page_no * PER_PAGE]]
    teams = [{"team_sys_no": r["team_sys_no"], "team_name": r["team_name"] or ""} for r in ctx.store.query(
        "SELECT DISTINCT team_sys_no, team_name FROM workers WHERE team_sys_no IS NOT NULL ORDER BY team_name, team_sys_no")]
    shown_q = mask(q) if len(normalise(q)) >= 15 and normalise(q)[:15].isdigit() else q
    return {
        "q": shown_q, "team": team, "status": status, "page": page_no, "pages": pages, "per_page": PER_PAGE,
        "total": len(found), "teams": teams,
        "workers": [{
            "pin": r["pin"], "name": name, "id_card_number": r["id_masked"], "id_card_type": r["id_card_type"],
            "team_sys_no": r["team_sys_no"], "team_name": r["team_name"] or "", "work_type": r["work_type"] or "",
            "card_no": r["card_no"], "valid_to": r["valid_to"], "blacklisted": bool(r["blacklisted"]),
            "status": r["status"],
        } for r, name in chunk],
    }


def _status_tag(w: dict) -> Markup:
    if w["blacklisted"]:
        return badge("黑名单", "bad")
    return badge(labels.label(labels.WORKER_STATUS, w["status"]), "ok" if w["status"] == "active" else "warn")


def render(ctx, req, d: dict) -> Markup:
    team_opts = Markup("").join(
        Markup("<option{}>{}</option>").format(attrs(value=t["team_sys_no"], selected=t["team_sys_no"] == d["team"]),
                                               team_label(t["team_sys_no"], t["team_name"]))
        for t in d["teams"])
    status_opts = Markup("").join(
        Markup("<option{}>{}</option>").format(attrs(value=s, selected=s == d["status"]), text)
        for s, text in (("active", "在册"), ("left", "已退场"), ("all", "全部")))
    form = Markup(
        '<form class="row" method="get" action="/roster" role="search">'
        '<label>查找<input type="search" name="q" value="{}" placeholder="姓名、身份证后4位、卡号或班组" '
        'autocomplete="off"></label>'
        '<label>班组<select name="team"><option value="">全部班组</option>{}</select></label>'
        '<label>状态<select name="status">{}</select></label>'
        '<button type="submit">查找</button></form>').format(d["q"], team_opts, status_opts)
    columns = [
        ("PIN", lambda w: w["pin"]),
        ("姓名", lambda w: worker_link(w["pin"], w["name"])),
        ("身份证号", lambda w: w["id_card_number"]),
        ("班组", lambda w: team_label(w["team_sys_no"], w["team_name"])),
        ("工种", lambda w: w["work_type"] or "—"),
        ("卡号", lambda w: w["card_no"] or "—"),
        ("有效期至", lambda w: w["valid_to"] or "—"),
        ("状态", _status_tag),
    ]
    count = Markup('<p class="muted">共 {} 人</p>').format(d["total"])
    params = {"q": d["q"], "team": d["team"], "status": d["status"]}
    return form + count + table(columns, d["workers"], empty="没有找到符合条件的工人。") + pager(
        PATH, params, d["page"], d["pages"])
