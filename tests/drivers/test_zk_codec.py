"""ZKTeco PUSH codec against the transcript in ../shared (vectors.json ``zk_push``) and the
reference (protocols.md §3): both directions, bad lines, and random input."""
from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zkhik_fixtures import load_vectors

from sitegate.drivers.zk_push import codec, codes
from sitegate.errors import ProtocolError

V = load_vectors()["zk_push"]
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def query_of(request_line: str) -> str:
    """'GET /iclock/cdata?SN=…&…' -> 'SN=…&…'."""
    return request_line.split(" ", 1)[1].partition("?")[2]


# -- requests and the handshake ----------------------------------------------------------------
def test_handshake_request_vector_parses():
    req = codec.parse_request(query_of(V["handshake_request"]))
    assert req.sn == "CKJ1234567"
    assert req.get("options") == "all" and req.get("pushver") == "2.4.1"
    assert req.chinese    # language=83


def test_handshake_reply_has_what_the_terminal_needs():
    reply = codec.options_reply(codec.ServerOptions("CKJ1234567", {"ATTLOG": "123456"}))
    lines = reply.splitlines()
    assert lines[0] == "GET OPTION FROM: CKJ1234567"
    for needed in V["handshake_reply_must_contain"]:
        assert needed in reply, needed
    assert "ATTLOGStamp=123456" in lines and "OPERLOGStamp=0" in lines and "ATTPHOTOStamp=0" in lines
    for line in ("ErrorDelay=30", "Delay=10", "TransTimes=00:00;14:05", "TransInterval=1", "TimeZone=8",
                 "Realtime=1", "Encrypt=None", "TransFlag=TransData AttLog\tOpLog\tAttPhoto\tEnrollUser\tChgUser"):
        assert line in lines, line
    assert codec.parse_options_reply(reply)["ATTLOGStamp"] == "123456"


def test_upload_request_vector_parses():
    req = codec.parse_request(query_of(V["attlog_request"]))
    assert (req.sn, req.table, codec.parse_stamp(req.get("Stamp"))) == ("CKJ1234567", "ATTLOG", "123456")


@pytest.mark.parametrize("query, problem", [
    ("table=ATTLOG", "SN"), ("SN=&table=ATTLOG", "SN"), ("SN=" + "A" * 65, "serial"), ("SN=a%09b", "serial"),
    ("SN=X&" + "a=1&" * 600, "longer"),
])
def test_bad_requests_are_refused_with_the_reason(query, problem):
    with pytest.raises(ProtocolError, match=problem):
        codec.parse_request(query)


@pytest.mark.parametrize("value, stamp", [("123456", "123456"), ("None", None), ("", None), ("-1", None), ("9" * 21, None)])
def test_stamp_values(value, stamp):
    assert codec.parse_stamp(value) == stamp


def test_options_reply_parser_refuses_other_text():
    with pytest.raises(ProtocolError, match="GET OPTION FROM"):
        codec.parse_options_reply("OK")


# -- ATTLOG ------------------------------------------------------------------------------------
def test_attlog_vector_decodes_to_expect():
    parsed = codec.parse_attlog(V["attlog_body"])
    assert parsed.bad == []
    got = [{"pin": r.pin, "time": r.time_text, "status": r.status_name, "verify": r.method} for r in parsed.records]
    assert got == V["attlog_expect"]
    assert parsed.records[0].time == datetime(2025, 3, 15, 7, 31, 2)
    assert parsed.records[0].direction == "in"


def test_attlog_lines_encode_to_the_vector():
    body = "".join(codec.format_attlog_line(r.pin, r.time, r.status, r.verify) + "\n"
                   for r in codec.parse_attlog(V["attlog_body"]).records)
    assert body == V["attlog_body"]


def test_attlog_bad_lines_are_reported_and_the_rest_kept():
    good1, good2 = V["attlog_body"].splitlines()
    body = "\r\n".join([good1, "garbage", "1003\t2025-13-40 99:00:00\t0\t15", "10 04\t2025-03-15 07:31:02\t0\t15",
                        "1005\t2025-03-15 07:31:02\tx\t15", "", "1006\t2025-03-15 07:31:02\t0\t" + "9" * 7,
                        "A" * 5000, good2]) + "\r\n"
    parsed = codec.parse_attlog(body)
    assert [r.pin for r in parsed.records] == ["1001", "1002"]
    reasons = [(b.line_no, b.reason) for b in parsed.bad]
    assert [no for no, _ in reasons] == [2, 3, 4, 5, 7, 8]
    assert "field" in reasons[0][1] and "time" in reasons[1][1] and "PIN" in reasons[2][1]
    assert "status" in reasons[3][1] and "verify" in reasons[4][1] and "longer" in reasons[5][1]


def test_attlog_short_lines_of_old_firmware():
    rec = codec.parse_attlog("7\t2025-03-15 07:31:02\n").records[0]
    assert (rec.status, rec.verify, rec.status_name, rec.direction) == (255, 0, "undefined", None)


@pytest.mark.parametrize("code, name, method", [
    (0, "any", "other"), (1, "fingerprint", "fingerprint"), (2, "pin", "other"), (3, "password", "other"),
    (4, "card", "card"), (15, "face", "face"), (16, "face-combo-16", "face"), (20, "face-combo-20", "face"),
    (25, "palm", "other"), (99, "verify-99", "other"),
])
def test_verify_table(code, name, method):
    assert (codes.verify_name(code), codes.verify_method(code)) == (name, method)


@pytest.mark.parametrize("code, name, direction", [
    (0, "check-in", "in"), (1, "check-out", "out"), (2, "break-out", None), (3, "break-in", None),
    (4, "overtime-in", None), (5, "overtime-out", None), (255, "undefined", None), (7, "status-7", None),
])
def test_status_table(code, name, direction):
    assert (codes.status_name(code), codes.status_direction(code)) == (name, direction)


# -- rtlog -------------------------------------------------------------------------------------
def test_rtlog_vector_parses_by_key():
    rec = codec.parse_rtlog(V["rtlog_body"]).records[0]
    assert (rec.pin, rec.cardno, rec.event, rec.inoutstatus, rec.verifytype, rec.index, rec.eventaddr) == \
        ("1001", "0", 0, 0, 15, "42", "1")
    assert (rec.outcome, rec.direction, rec.method, rec.time) == ("granted", "in", "face", datetime(2017, 1, 10, 11, 49, 32))


def test_rtlog_key_order_does_not_matter_and_encodes_back():
    rec = codec.parse_rtlog(V["rtlog_body"]).records[0]
    line = codec.format_rtlog_line(time=rec.time, pin=rec.pin, event=rec.event, inoutstatus=rec.inoutstatus,
                                   verifytype=rec.verifytype, index=int(rec.index), cardno=rec.cardno)
    assert line + "\n" == V["rtlog_body"]
    shuffled = "\t".join(reversed(V["rtlog_body"].strip().split("\t")))
    a, b = codec.parse_rtlog(shuffled).records[0], rec
    assert (a.time, a.pin, a.cardno, a.event, a.inoutstatus, a.verifytype, a.index) == \
        (b.time, b.pin, b.cardno, b.event, b.inoutstatus, b.verifytype, b.index)


@pytest.mark.parametrize("event, outcome", [(0, "granted"), (19, "granted"), (20, "denied"), (99, "denied"),
                                            (100, "alarm"), (199, "alarm"), (200, "granted"), (253, "granted"),
                                            (254, "alarm")])
def test_rtlog_event_classes(event, outcome):
    assert codes.rtlog_outcome(event) == outcome


def test_rtlog_bad_lines():
    body = "\n".join(["time=2017-01-10 11:49:32\tpin=1\tevent=0", "nonsense",
                      "time=2017-01-10 11:49:32\tpin=1\tevent=0\tindex=x",
                      "time=2017-01-10 11:49:32\tpin=1\tevent=0\tindex=5\tcardno=12ab", V["rtlog_body"]])
    parsed = codec.parse_rtlog(body)
    assert [r.index for r in parsed.records] == ["42"]
    assert ["index" in parsed.bad[0].reason, "key=value" in parsed.bad[1].reason,
            "index" in parsed.bad[2].reason, "cardno" in parsed.bad[3].reason] == [True] * 4


# -- OPERLOG, tabledata, encodings ---------------------------------------------------------------
def test_operlog_kinds_and_users():
    body = ("OPLOG 4\t0\t2025-03-15 07:31:02\t0\t0\t0\t0\n"
            + codec.format_user_line("1001", "张三", "3659533") + "\n"
            + "FP PIN=1001\tFID=6\tSize=1000\tValid=1\tTMP=AAAA\n"
            + "broken line\n" + "USER PIN=\tName=x\n")
    parsed = codec.parse_operlog(body)
    assert [r.kind for r in parsed.records] == ["OPLOG", "USER", "FP"]
    user = parsed.records[1].fields
    assert (user["PIN"], user["Name"], user["Card"], user["Pri"]) == ("1001", "张三", "3659533", "0")
    assert [b.line_no for b in parsed.bad] == [4, 5]


def test_tabledata_is_answered_name_equals_count():
    assert codec.tabledata_reply("user", 3) == "user=3"


def test_bodies_decode_as_utf8_or_gb18030():
    assert codec.decode_body("张三".encode("utf-8")) == "张三"
    assert codec.decode_body("张三".encode("gb2312")) == "张三"
    assert codec.encode_text("张三", chinese=True) == "张三".encode("gb18030")
    assert codec.encode_text("张三", chinese=False) == "张三".encode("utf-8")


# -- commands and results ------------------------------------------------------------------------
def test_user_update_command_encodes_to_the_vector():
    cmd = codec.Command(17, codec.user_update(1001, "张三", "3659533"))
    assert cmd.line() == V["getrequest_reply_example"]
    assert codec.parse_commands(cmd.line() + "\n").records == [cmd]


def test_command_builders():
    assert codec.user_delete(1001) == "DATA DELETE USERINFO PIN=1001"
    assert codec.set_option("Delay", "5") == "SET OPTION Delay=5"
    assert codec.user_update(7, "a\tb\nc", None) == "DATA UPDATE USERINFO PIN=7\tName=a b c\tPri=0\tPasswd=\tCard=\tGrp=1"
    assert codec.command_lines([]) == "OK"
    assert codec.command_lines([codec.Command(1, "INFO"), codec.Command(2, "CHECK")]) == "C:1:INFO\nC:2:CHECK\n"
    with pytest.raises(ValueError):
        codec.set_option("bad key", "1")


def test_devicecmd_vector_parses():
    res = codec.parse_results(V["devicecmd_body_example"]).records[0]
    assert (res.id, res.code, res.cmd, res.ok) == (17, 0, "DATA", True)
    assert codec.format_result(17, 0, "DATA") == V["devicecmd_body_example"]


def test_devicecmd_results_split_on_ampersand_and_keep_info_details():
    body = ("ID=1&Return=0&CMD=INFO\n~DeviceName=iFace&Co\nMAC=00:17:61\n"
            "ID=2&Return=-1001&CMD=DATA UPDATE&more\nID=x&Return=0\nReturn=0&CMD=DATA\nstray text\n")
    parsed = codec.parse_results(body)
    assert [(r.id, r.code, r.cmd) for r in parsed.records] == [(1, 0, "INFO"), (2, -1001, "DATA UPDATE")]
    assert parsed.records[0].extra == {"DeviceName": "iFace&Co", "MAC": "00:17:61"}
    assert len(parsed.bad) == 3 and "ID" in parsed.bad[0].reason


def test_command_lines_bad():
    parsed = codec.parse_commands("C:1:INFO\nX:2:INFO\nC:abc:INFO\nC:3:\n")
    assert [c.id for c in parsed.records] == [1] and len(parsed.bad) == 3
    assert codec.parse_commands("OK").records == []


# -- random input --------------------------------------------------------------------------------
LINE_PIECES = st.sampled_from(["1001", "\t", "2025-03-15 07:31:02", "0", "15", "=", "pin", "index=4", "time=", "\r",
                               "\n", "ID=", "&Return=", "C:", ":", "张", "\x00", " ", "-1", "99999999"])
TEXTS = st.one_of(st.text(max_size=400), st.lists(LINE_PIECES, max_size=60).map("".join))


@FAST
@given(TEXTS)
def test_parsers_never_raise_and_account_for_every_line(text):
    content_lines = sum(1 for ln in text.split("\n") if ln.rstrip("\r").strip())
    for parse in (codec.parse_attlog, codec.parse_rtlog, codec.parse_operlog, codec.parse_commands):
        parsed = parse(text)
        if parse is not codec.parse_commands or text.strip() != "OK":
            assert len(parsed.records) + len(parsed.bad) == content_lines
    codec.parse_results(text)


@FAST
@given(st.binary(max_size=600))
def test_any_bytes_decode(data):
    assert isinstance(codec.decode_body(data), str)


@FAST
@given(TEXTS, st.integers(0, 2))
def test_good_lines_survive_any_garbage_around_them(junk, where):
    good = V["attlog_body"].splitlines()
    lines = list(good)
    lines.insert(where, junk.replace("\n", " "))
    records = codec.parse_attlog("\n".join(lines)).records
    expected = codec.parse_attlog(V["attlog_body"]).records
    assert all(r in records for r in [type(r)(**{**r.__dict__, "line_no": r.line_no + (r.line_no > where)})
                                      for r in expected])


@FAST
@given(st.text(max_size=300))
def test_request_parser_raises_only_protocol_error(query):
    try:
        codec.parse_request(query)
    except ProtocolError:
        pass
