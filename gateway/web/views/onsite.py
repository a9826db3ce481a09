"""在场人员: who is on site now.

A worker is on site when their latest admitted passage (any method) is an entry and happened
within the last ``WINDOW_H`` hours: a forgotten exit swipe does not keep someone "on site" for ever,
and 16 hours covers the longest shift with overtime.
"""
from __future__ import annotations

from sitegate.web import labels
from sitegate.web.layout import table
from sitegate.web.markup import Markup
from sitegate.web.views.common import decrypt_name, team_key, team_label, worker_link

PATH = "/onsite"
TITLE = "在场人员"
WINDOW_H = 16

# The latest admitted event per worker within the window; events of the window are newer than any
# outside it, so "latest overall, if within the window" is "latest within the window".
_SQL = """
SELECT e.id_hash, e.id_masked, e.name_enc, e.team_sys_no, e.team_name, e.wall_ts, e.method, e.lane,
       e.device_id, e.direction, w.pin, w.name_enc AS roster_name_enc
FROM events e
JOIN (SELECT id_hash, max(wall_ts) AS ts FROM events
      WHERE outcome = 'admitted' AND id_hash IS NOT NULL AND wall_ts >= ? GROUP BY id_hash) latest
  ON e.id_hash = latest.id_hash AND e.wall_ts = latest.ts
LEFT JOIN workers w ON w.id_hash = e.id_hash
WHERE e.outcome = 'admitted'
ORDER BY e.wall_ts, e.seq
"""


def data(ctx, req) -> dict:
    now = ctx.now()
    latest: dict[str, object] = {}
    for r in ctx.store.query(_SQL, (now - WINDOW_H * 3600,)):
        latest[r["id_hash"]] = r           # ties at the same instant: the later row (by seq) wins
    teams: dict[tuple, dict] = {}
    for r in latest.values():
        if r["direction"] != "in":
            continue
        key = team_key(r["team_sys_no"], r["team_name"])
        team = teams.setdefault(key, {"team_sys_no": r["team_sys_no"], "team_name": r["team_name"] or "",
                                      "count": 0, "workers": []})
        name = decrypt_name(ctx.store, r["name_enc"]) or decrypt_name(ctx.store, r["roster_name_enc"])
        team["workers"].append({
            "pin": r["pin"], "name": name, "id_card_number": r["id_masked"] or "",
            "since": labels.local_time(r["wall_ts"], ctx.tz), "since_ts": r["wall_ts"],
            "method": r["method"], "lane": r["lane"] or r["device_id"],
        })
        team["count"] += 1
    ordered = sorted(teams.values(), key=lambda t: (-t["count"], t["team_name"]))
    return {"as_of": labels.local_time(now, ctx.tz), "as_of_ts": now, "window_hours": WINDOW_H,
            "total": sum(t["count"] for t in ordered), "teams": ordered}


def render(ctx, req, d: dict) -> Markup:
    summary = Markup('<div class="summary"><div class="stat">在场人数<b>{}</b></div>'
                     '<div class="stat">班组<b>{}</b></div></div>'
                     '<p class="muted">截至 {}；最近一次通过的记录为进场、且在 {} 小时内的工人。</p>').format(
        d["total"], len(d["teams"]), d["as_of"], d["window_hours"])
    if not d["teams"]:
        return summary + Markup('<p class="empty">现在没有人在场。</p>')
    columns = [
        ("姓名", lambda w: worker_link(w["pin"], w["name"])),
        ("身份证号", lambda w: w["id_card_number"]),
        ("进场时间", lambda w: w["since"]),
        ("方式", lambda w: labels.label(labels.METHOD, w["method"])),
        ("通道", lambda w: w["lane"]),
    ]
    blocks = Markup("").join(
        Markup('<section class="team"><h2>{} <span class="muted">{} 人</span></h2>{}</section>').format(
            team_label(t["team_sys_no"], t["team_name"]), t["count"], table(columns, t["workers"]))
        for t in d["teams"])
    return summary + blocks
