import json

import pytest

from tests.conftest import make_id

A, B, C = make_id(1), make_id(2), make_id(3)


def write(site, name: str, text: str, encoding: str = "utf-8") -> str:
    path = site.root / name
    path.write_bytes(text.encode(encoding))
    return str(path)


@pytest.mark.parametrize("encoding,header", [
    ("utf-8", "id_card_number,name,team_sys_no,team_name,work_type,card_no,valid_to,blacklisted"),
    ("utf-8-sig", "身份证号,姓名,班组编号,班组名称,工种,卡号,有效期至,黑名单"),
    ("gbk", "身份证号,姓名,班组编号,班组名称,工种,卡号,有效期至,黑名单"),
])
def test_import_reads_every_encoding_and_both_headers(site, encoding, header):
    csv = f"{header}\n{A},张三,100156750,钢筋班,钢筋工,3659533,2027-12-31,否\n{B},李四,,,,,,1\n"
    code, out, err = site.cli("roster", "import", "-c", str(site.config), write(site, "r.csv", csv, encoding), "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["imported"] == 2 and res["added"] == 2 and res["problems"] == []
    code, out, _ = site.cli("roster", "list", "-c", str(site.config), "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["张三"]["team_name"] == "钢筋班" and rows["张三"]["card_no"] == "3659533"
    assert rows["张三"]["valid_to"] == "2027-12-31" and not rows["张三"]["blacklisted"]
    assert rows["李四"]["blacklisted"]
    assert rows["张三"]["id_card_number"] == A[:6] + "********" + A[-4:]
    assert A not in out  # never the full number in a listing


def test_bad_rows_are_reported_by_line_and_skipped(site):
    bad_check = A[:17] + ("0" if A[17] != "0" else "1")
    csv = (f"id_card_number,name,team_sys_no,valid_to\n{A},张三,1,\n{bad_check},王五,,\n"
           f"{B},,,\n{C},赵六,abc,\n{A},张三又,,\n{make_id(4)},钱七,,2027-02-30\n")
    code, out, err = site.cli("roster", "import", "-c", str(site.config), write(site, "r.csv", csv))
    assert code == 2   # the good row is in, the exit code says not everything was
    assert f"r.csv:3: skipped: ID number check digit is {bad_check[17]}, GB 11643 requires {A[17]}" in out
    assert "r.csv:4: skipped: name is empty" in out
    assert "r.csv:5: skipped: team_sys_no 'abc' is not a number" in out
    assert "r.csv:6: skipped: the same ID number is already on line 2" in out
    assert "r.csv:7: skipped:" in out and "2027-02-30" in out
    assert "imported 1 worker(s)" in out


def test_file_without_required_columns(site):
    code, out, err = site.cli("roster", "import", "-c", str(site.config), write(site, "r.csv", "name,team\nx,y\n"))
    assert code == 2 and "missing column(s) id_card_number" in err


def test_reimport_reports_changes(site):
    path = write(site, "r.csv", f"id_card_number,name,team_sys_no\n{A},张三,1\n{B},李四,1\n")
    site.cli("roster", "import", "-c", str(site.config), path)
    path = write(site, "r.csv", f"id_card_number,name,team_sys_no\n{A},张三,2\n{B},李四,1\n{C},王五,1\n")
    code, out, _ = site.cli("roster", "import", "-c", str(site.config), path, "--json")
    res = json.loads(out)
    assert (res["added"], res["changed"], res["unchanged"]) == (1, 1, 1)
    code, out, _ = site.cli("roster", "show", "-c", str(site.config), A, "--json")
    assert json.loads(out)["team_sys_no"] == 2
    code, out, _ = site.cli("roster", "show", "-c", str(site.config), "1002", "--json")   # by PIN
    assert json.loads(out)["name"] == "李四"


def test_supplementary_clock_in(site):
    site.cli("roster", "import", "-c", str(site.config), write(site, "r.csv", f"id_card_number,name\n{A},张三\n"))
    code, out, err = site.cli("events", "add", "-c", str(site.config), "--id-card-number", A, "--direction", "in",
                              "--time", "2026-11-27 07:31:02", "--reason", "读卡器故障", "--channel", "东门1号闸",
                              "--by", "王会计")
    assert code == 0, err
    event_id = out.strip()
    assert len(event_id) == 36
    code, out, _ = site.cli("events", "list", "-c", str(site.config), "--json")
    [row] = json.loads(out)
    assert row["event_id"] == event_id and row["method"] == "manual" and row["lane"] == "东门1号闸"
    assert row["time"] == "2026-11-27 07:31:02" and row["time_iso"] == "2026-11-27T07:31:02+08:00"
    assert row["note"] == "读卡器故障" and row["id_card_number"] == A[:6] + "********" + A[-4:]
    with site.store() as store:
        [audit] = [dict(r) for r in store.query("SELECT * FROM audit WHERE action = 'events.add'")]
        assert audit["actor"] == "王会计" and audit["subject"] == event_id and "读卡器故障" in audit["detail"]
        assert A not in audit["detail"]


@pytest.mark.parametrize("argv,message", [
    (["--id-card-number", make_id(9), "--direction", "in"], "no worker with ID number"),
    (["--id-card-number", A, "--direction", "in", "--time", "2999-01-01 08:00:00"], "is in the future"),
    (["--id-card-number", A, "--direction", "in", "--time", "yesterday"], "is not 'YYYY-MM-DD HH:MM:SS'"),
    (["--id-card-number", A, "--direction", "up"], "invalid choice"),
])
def test_supplementary_clock_in_refusals(site, argv, message):
    site.cli("roster", "import", "-c", str(site.config), write(site, "r.csv", f"id_card_number,name\n{A},张三\n"))
    code, out, err = site.cli("events", "add", "-c", str(site.config), *argv)
    assert code == 2 and message in err
    with site.store() as store:
        assert store.count_events() == 0


def test_status_json(site):
    site.write_config(extra="")
    code, out, err = site.cli("status", "-c", str(site.config), "--json")
    assert code == 0, err
    st = json.loads(out)
    assert st["events"]["total"] == 0 and st["dead_letters"] == 0 and st["alarms"] == []
