"""The ZKTeco user-list queue (pure logic: no HTTP, time passed in)."""
from __future__ import annotations

from datetime import date

from zkhik_fixtures import worker

from sitegate.drivers.zk_push.commands import CommandResult
from sitegate.drivers.zk_push.sync import ADMIN_MARK, DeviceUser, UserSync, admitted_users

TODAY = date(2025, 3, 15)


def answer(sync: UserSync, code: int = 0, now: float = 0.0) -> list[str]:
    """Take every command and answer each with ``code``; returns the command texts."""
    cmds = sync.take(now)
    for c in cmds:
        sync.result(CommandResult(c.id, code, c.text.split(" ")[0]))
    return [c.text for c in cmds]


def test_only_admitted_workers_with_a_pin_go_to_the_terminal():
    workers = [worker(1001, "张三", card="3659533"), worker(1002, "李四", status="left"),
               worker(1003, "王五", blacklisted=True), worker(1004, "赵六", valid_to="2025-03-14"),
               worker(1005, "钱七", valid_to="2025-03-15"), worker(1006, "孙八")]
    workers[-1].pin = None
    assert admitted_users(workers, TODAY) == {"1001": DeviceUser("1001", "张三", "3659533"),
                                              "1005": DeviceUser("1005", "钱七", "")}


def test_plan_take_confirm_then_nothing_more():
    sync = UserSync()
    assert sync.plan(admitted_users([worker(1001, "张三", card="1"), worker(1002, "李四")], TODAY)) == 2
    texts = answer(sync)
    assert texts == ["DATA UPDATE USERINFO PIN=1001\tName=张三\tPri=0\tPasswd=\tCard=1\tGrp=1",
                     "DATA UPDATE USERINFO PIN=1002\tName=李四\tPri=0\tPasswd=\tCard=\tGrp=1"]
    assert set(sync.known) == {"1001", "1002"} and sync.changed and not sync.busy
    assert sync.plan(admitted_users([worker(1001, "张三", card="1"), worker(1002, "李四")], TODAY)) == 0


def test_ids_grow_and_continue_from_the_saved_counter():
    sync = UserSync(next_id=41)
    sync.plan({"7": DeviceUser("7", "a"), "8": DeviceUser("8", "b")})
    assert [c.id for c in sync.take(0.0)] == [41, 42] and sync.next_id == 43


def test_leaver_and_changed_name_after_a_restart():
    first = UserSync()
    first.plan({"1001": DeviceUser("1001", "张三"), "1002": DeviceUser("1002", "李四")})
    answer(first)
    restarted = UserSync(dict(first.known))   # what the driver saved
    restarted.plan({"1001": DeviceUser("1001", "张三丰")})
    assert answer(restarted) == ["DATA UPDATE USERINFO PIN=1001\tName=张三丰\tPri=0\tPasswd=\tCard=\tGrp=1",
                                 "DATA DELETE USERINFO PIN=1002"]
    assert set(restarted.known) == {"1001"}


def test_failed_command_is_retried_a_bounded_number_of_times_then_reported():
    sync = UserSync(max_attempts=3)
    sync.plan({"1001": DeviceUser("1001", "张三")})
    outcomes = []
    for _ in range(4):
        for c in sync.take(0.0):
            outcomes.append(sync.result(CommandResult(c.id, -1001, "DATA")))
    assert outcomes == ["retry", "retry", "gave_up"]
    reason = sync.failure_reason()
    assert "PIN=1001" in reason and "Return=-1001" in reason and "张三" not in reason
    assert sync.plan({"1001": DeviceUser("1001", "张三")}) == 1 and sync.failure_reason() == ""


def test_unanswered_commands_are_sent_again():
    sync = UserSync(resend_after_s=60)
    sync.plan({"1001": DeviceUser("1001", "张三")})
    first = sync.take(0.0)
    assert sync.expire(30.0) == 0 and sync.take(30.0) == []
    assert sync.expire(61.0) == 1
    again = sync.take(61.0)
    assert [c.text for c in again] == [c.text for c in first] and again[0].id != first[0].id
    assert sync.result(CommandResult(first[0].id, 0)) == "unknown"      # a late answer to the old id


def test_a_new_plan_while_commands_are_in_flight_does_not_repeat_them():
    sync = UserSync()
    sync.plan({"1001": DeviceUser("1001", "张三")})
    inflight = sync.take(0.0)
    assert sync.plan({"1001": DeviceUser("1001", "张三"), "1002": DeviceUser("1002", "李四")}) == 1
    assert [c.text.split("\t")[0] for c in sync.take(0.0)] == ["DATA UPDATE USERINFO PIN=1002"]
    assert sync.result(CommandResult(inflight[0].id, 0)) == "ok"


def test_terminal_admins_are_never_deleted_and_strangers_are():
    sync = UserSync()
    sync.plan({"1001": DeviceUser("1001", "张三")})
    sync.learn("1", "boss", "", admin=True)
    sync.learn("55", "stranger", "")
    texts = answer(sync)
    assert "DATA DELETE USERINFO PIN=55" in texts and not any("PIN=1\t" in t or t.endswith("PIN=1") for t in texts)
    assert sync.known == {"1": ADMIN_MARK, "1001": DeviceUser("1001", "张三").digest}


def test_a_reported_user_with_the_same_name_and_card_needs_no_command():
    sync = UserSync()
    sync.learn("1001", "张三", "3659533")
    assert sync.plan({"1001": DeviceUser("1001", "张三", "3659533")}) == 0


def test_query_answer_replaces_what_was_believed():
    sync = UserSync({"1001": DeviceUser("1001", "张三").digest, "1002": DeviceUser("1002", "李四").digest})
    sync.plan({"1001": DeviceUser("1001", "张三"), "1002": DeviceUser("1002", "李四")})
    assert not sync.busy
    sync.query_users()
    query = sync.take(0.0)
    assert [c.text for c in query] == ["DATA QUERY USERINFO"]
    sync.learn("1001", "张三", "")            # the terminal lost 1002 (factory reset, local delete)
    assert sync.result(CommandResult(query[0].id, 0, "DATA")) == "ok"
    assert [t.split("\t")[0] for t in answer(sync)] == ["DATA UPDATE USERINFO PIN=1002"]


def test_query_unsupported_is_harmless():
    sync = UserSync()
    sync.plan({})
    sync.query_users()
    cmd = sync.take(0.0)[0]
    assert sync.result(CommandResult(cmd.id, -1002)) == "failed" and sync.failure_reason() == ""
