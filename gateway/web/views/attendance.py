"""今日考勤: one local day's attendance per team — first entry and last exit of each worker — and,
apart from it, the attempts the gate denied with their reasons (``?date=YYYY-MM-DD`` for other days)."""
from __future__ import annotations

from sitegate.idcard import mask_text
from sitegate.web import labels
from sitegate.web.layout import badge, table
from sitegate.web.markup import Markup
from sitegate.web.views.common import day_bounds, decrypt_name, parse_day, team_key, team_label, worker_link

PATH = "/attendance"
TITLE = "今日考勤"

_SQL = """
SELECT e.event_id, e.id_hash, e.id_masked, e.name_enc, e.team_sys_no, e.team_name, e.wall_ts, e.direction,
       e.method, e.lane, e.device_id, e.outcome, e.deny_reason, e.decision_detail, w.pin
FROM events e LEFT JOIN workers w ON w.id_hash = e.id_hash
WHERE e.wall_ts >= ? AND e.wall_ts < ?
ORDER BY e.wall_ts, e.seq
"""


def data(ctx, req) -> dict:
    tz = ctx.tz
    day = parse_day(req.query.get("date"), tz, ctx.now())
    start, end = day_bounds(day, tz)
    names: dict[str, str] = {}      # one decryption per worker, not per event

    def name_of(r) -> str:
        key = r["id_hash"] or r["event_id"]
        if key not in names:
            names[key] = decrypt_name(ctx.store, r["name_enc"])
        return names[key]

    workers: dict[str, dict] = {}
    denied = []
    for r in ctx.store.query(_SQL, (start, end)):
        if r["outcome"] != "admitted":
            denied.append({"time": labels.local_time(r["wall_ts"], tz), "time_ts": r["wall_ts"],
                           "name": name_of(r), "id_card_number": r["id_masked"] or "", "pin": r["pin"],
                           "direction": r["direction"], "method": r["method"], "lane": r["lane"] or r["device_id"],
                           "reason": r["deny_reason"], "detail": mask_text(r["decision_detail"] or "")})
            continue
        key = r["id_hash"] or r["event_id"]
        w = workers.get(key)
        if w is None:
            w = workers[key] = {"pin": r["pin"], "name": name_of(r), "id_card_number": r["id_masked"] or "",
                                "team_sys_no": r["team_sys_no"], "team_name": r["team_name"] or "",
                                "first_in": None, "first_in_ts": None, "last_out": None, "last_out_ts": None,
                                "passages": 0, "methods": []}
        w["passages"] += 1
        if r["method"] not in w["methods"]:
            w["methods"].append(r["method"])
        if r["direction"] == "in" and w["first_in_ts"] is None:
            w["first_in_ts"], w["first_in"] = r["wall_ts"], labels.local_time(r["wall_ts"], tz)
        if r["direction"] == "out":
            w["last_out_ts"], w["last_out"] = r["wall_ts"], labels.local_time(r["wall_ts"], tz)
    teams: dict[tuple, dict] = {}
    for w in workers.values():
        t = teams.setdefault(team_key(w["team_sys_no"], w["team_name"]),
                             {"team_sys_no": w["team_sys_no"], "team_name": w["team_name"], "workers": []})
        t["workers"].append({k: v for k, v in w.items() if k not in ("team_sys_no", "team_name")})
    ordered = sorted(teams.values(), key=lambda t: (t["team_name"], t["team_sys_no"] or 0))
    for t in ordered:
        t["count"] = len(t["workers"])
        t["workers"].sort(key=lambda w: w["first_in_ts"] or w["last_out_ts"] or 0)
    return {"date": day.isoformat(), "workers_total": len(workers),
            "passages_total": sum(w["passages"] for w in workers.values()), "teams": ordered, "denied_total": len(denied), "denied": denied}


def render(ctx, req, d: dict) -> Markup:
    pick = Markup('<form class="row" method="get" action="/attendance"><label>日期'
                  '<input type="date" name="date" value="{}"></label><button type="submit">查看</button></form>'
                  ).format(d["date"])
    summary = Markup('<div class="summary"><div class="stat">出勤人数<b>{}</b></div><div class="stat">通行次数<b>{}</b></div>'
                     '<div class="stat">拒绝次数<b>{}</b></div></div>').format(
        d["workers_total"], d["passages_total"], d["denied_total"])
    columns = [
        ("姓名", lambda w: worker_link(w["pin"], w["name"])),
        ("身份证号", lambda w: w["id_card_number"]),
        ("首次进场", lambda w: w["first_in"] or "—"),
        ("最后出场", lambda w: w["last_out"] or "—"),
        ("通行次数", lambda w: w["passages"]),
        ("方式", lambda w: "、".join(labels.label(labels.METHOD, m) for m in w["methods"])),
    ]
    teams = Markup("").join(
        Markup('<section class="team"><h2>{} <span class="muted">{} 人</span></h2>{}</section>').format(
            team_label(t["team_sys_no"], t["team_name"]), t["count"], table(columns, t["workers"]))
        for t in d["teams"]) or Markup('<p class="empty">这一天没有考勤记录。</p>')
    denied_cols = [
        ("时间", lambda r: r["time"]),
        ("姓名", lambda r: worker_link(r["pin"], r["name"]) if r["name"] else "（未识别）"),
        ("身份证号", lambda r: r["id_card_number"] or "—"),
        ("方向", lambda r: labels.label(labels.DIRECTION, r["direction"])),
        ("通道", lambda r: r["lane"]),
        ("原因", lambda r: badge(labels.label(labels.DENY_REASON, r["reason"]) or "—", "bad")),
        ("说明", lambda r: r["detail"]),
    ]
    denied = Markup("<h2>被拒绝的通行 <span class=\"muted\">{} 次</span></h2>{}").format(
        d["denied_total"], table(denied_cols, d["denied"], empty="这一天没有被拒绝的通行。"))
    return pick + summary + teams + denied
