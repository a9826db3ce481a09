"""Who counts as on site, and how a day's attendance is cut (site-local calendar day)."""
from __future__ import annotations

from web_helpers import IDS, XSS_NAME, event

from sitegate.model import Method

H = 3600


def onsite_names(gw) -> dict[str, str]:
    d = gw.logged_in().get("/api/onsite").json()
    return {w["name"]: w["since"] for t in d["teams"] for w in t["workers"]}


def test_latest_admitted_passage_decides(gw):
    now, s = gw.clock.t, gw.store
    # 张三: in, out, in again -> on site since the second entry
    s.append(event(IDS[0], "张三", ts=now - 5 * H))
    s.append(event(IDS[0], "张三", ts=now - 4 * H, direction="out"))
    s.append(event(IDS[0], "张三", ts=now - 1 * H, method=Method.FACE))
    # 李四: in then out -> gone
    s.append(event(IDS[1], "李四", ts=now - 3 * H))
    s.append(event(IDS[1], "李四", ts=now - 2 * H, direction="out"))
    # XSS worker: in, then a DENIED exit attempt -> still on site (denied attempts are not passages)
    s.append(event(IDS[2], XSS_NAME, ts=now - 3 * H))
    s.append(event(IDS[2], XSS_NAME, ts=now - 1 * H, direction="out", denied=True))
    # 王五: entered 17 hours ago and never left -> a forgotten swipe, not on site
    s.append(event(IDS[3], "王五", ts=now - 17 * H))
    on = onsite_names(gw)
    assert set(on) == {"张三", XSS_NAME}
    assert on["张三"].endswith("13:00:00")       # START is 14:00 local


def test_the_window_is_sixteen_hours(gw):
    now = gw.clock.t
    gw.store.append(event(IDS[0], "张三", ts=now - 16 * H + 60))
    assert set(onsite_names(gw)) == {"张三"}
    gw.clock.advance(120)
    assert onsite_names(gw) == {}


def test_headcount_per_team(gw):
    now, s = gw.clock.t, gw.store
    s.append(event(IDS[0], "张三", ts=now - H))
    s.append(event(IDS[2], XSS_NAME, ts=now - H))
    s.append(event(IDS[1], "李四", ts=now - H, team=(101, "木工班")))
    d = gw.logged_in().get("/api/onsite").json()
    assert d["total"] == 3
    assert [(t["team_name"], t["count"]) for t in d["teams"]] == [("钢筋班", 2), ("木工班", 1)]


def test_attendance_uses_the_site_local_calendar_day(gw):
    now, s = gw.clock.t, gw.store          # 14:00 local on 2025-06-10
    s.append(event(IDS[0], "张三", ts=now - 14 * H - 60, team=(100, "钢筋班")))   # 23:59 the day before
    s.append(event(IDS[0], "张三", ts=now - 14 * H + 60))                          # 00:01 today
    s.append(event(IDS[0], "张三", ts=now - 6 * H, direction="out"))
    s.append(event(IDS[0], "张三", ts=now - 5 * H))
    s.append(event(IDS[0], "张三", ts=now - 2 * H, direction="out"))
    c = gw.logged_in()
    d = c.get("/api/attendance").json()
    [w] = [w for t in d["teams"] for w in t["workers"]]
    assert (w["first_in"], w["last_out"], w["passages"]) == ("2025-06-10 00:01:00", "2025-06-10 12:00:00", 4)
    prev = c.get("/api/attendance", params={"date": "2025-06-09"}).json()
    [w] = [w for t in prev["teams"] for w in t["workers"]]
    assert (w["first_in"], w["last_out"], w["passages"]) == ("2025-06-09 23:59:00", None, 1)
    assert c.get("/api/attendance", params={"date": "2025-06-11"}).json()["workers_total"] == 0


def test_denied_attempts_are_listed_apart_with_their_reasons(gw):
    now = gw.clock.t
    gw.store.append(event(IDS[3], "王五", ts=now - H, denied=True))
    d = gw.logged_in().get("/api/attendance").json()
    assert d["workers_total"] == 0 and d["teams"] == []
    assert [(x["name"], x["reason"]) for x in d["denied"]] == [("王五", "blacklisted")]
    page = gw.logged_in().get("/attendance").text
    assert "黑名单" in page and "被拒绝的通行" in page
