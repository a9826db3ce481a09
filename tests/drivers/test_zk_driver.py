"""The zk-push driver against the ZKTeco terminal simulator over real HTTP on 127.0.0.1."""
from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import requests
from zkhik_fixtures import FakePipeline, MemoryState, RunningDriver, make_context, wait_until, worker

from sitegate.clock import Clock
from sitegate.drivers.api import CredentialKind, HealthState
from sitegate.drivers.zk_push.driver import ZkPushDriver
from sitegate.drivers.zk_push.simulator import ZkTerminalSim
from sitegate.drivers.zk_push.terminal import SimUser
from sitegate.errors import StoreFull
from sitegate.model import ADMIT, DenyReason, Direction, Method, Outcome

SN = "CKJ1234567"
SHANGHAI = ZoneInfo("Asia/Shanghai")


class Site:
    """A driver (restartable on the same port and state) and the simulators calling it."""

    def __init__(self, workers=None, *, offline_after_s: float = 120, synced: bool = True, clock=None):
        self.pipeline = FakePipeline()
        self.state = MemoryState()
        self.workers = list(workers or [])
        self.options = {"listen": "127.0.0.1:0", "serial": SN, "offline_after_s": offline_after_s}
        self.synced = synced
        self.clock = clock
        self.sims: list[ZkTerminalSim] = []
        self.driver: ZkPushDriver | None = None

    def new_driver(self) -> ZkPushDriver:
        ctx = make_context(self.options, self.pipeline, state=self.state, roster=lambda: self.workers,
                           synced=self.synced, clock=self.clock)
        self.driver = ZkPushDriver(ctx)
        return self.driver

    @property
    def url(self) -> str:
        host, port = self.driver.address
        return f"http://{host}:{port}"

    def sim(self, serial: str = SN, **kw) -> ZkTerminalSim:
        kw.setdefault("poll_s", 0.05)
        kw.setdefault("retry_s", 0.05)
        sim = ZkTerminalSim(self.url, serial, **kw).start()
        self.sims.append(sim)
        return sim

    def stop(self) -> None:
        for sim in self.sims:
            sim.stop()


@contextmanager
def running(site: Site):
    with RunningDriver(site.new_driver()) as driver:
        # keep the port for a restart on the same address (the simulator's server setting)
        site.options["listen"] = "127.0.0.1:%d" % driver.address[1]
        yield driver


@pytest.fixture
def site():
    s = Site([worker(1001, "张三", card="3659533"), worker(1002, "李四")])
    yield s
    s.stop()


def test_handshake_upload_and_observations(site):
    with running(site) as driver:
        sim = site.sim()
        at = datetime(2025, 3, 15, 7, 31, 2)
        sim.punch("1001", verify="face", status=0, at=at)
        sim.punch("1002", verify="card", status=1, at=at + timedelta(seconds=7))
        wait_until(lambda: site.pipeline.count() == 2, what="two observations")
        first, second = site.pipeline.observations
        assert (first.credential.kind, first.credential.value, first.method, first.direction) == \
            (CredentialKind.PIN, "1001", Method.FACE, Direction.IN)
        assert (second.credential.value, second.method, second.direction) == ("1002", Method.CARD, Direction.OUT)
        assert first.device_time == datetime(2025, 3, 15, 7, 31, 2, tzinfo=SHANGHAI)
        assert first.device_time.utcoffset() == timedelta(hours=8)
        assert first.source_key == f"{SN}:1001:2025-03-15 07:31:02"
        assert first.device_decision == ADMIT and first.lane == "east" and first.device_id == "gate-1"
        assert first.extra["status"] == "check-in" and first.extra["verify"] == "face"
        assert driver.counters["handshakes"] == 1 and driver.health.state is HealthState.UP


def test_stamp_is_stored_after_the_upload_and_returned_at_the_next_handshake(site):
    with running(site):
        sim = site.sim()
        for i in range(3):
            sim.punch("1001", at=datetime(2025, 3, 15, 7, 0, i))
        wait_until(lambda: site.state.get("device.gate-1.stamp.ATTLOG") == "3", what="stamp 3 stored")
        reply = requests.get(f"{site.url}/iclock/cdata?SN={SN}&options=all&pushver=2.4.1", timeout=5).text
        assert "ATTLOGStamp=3" in reply.splitlines()


def test_stamp_reset_reupload_makes_no_new_observations(site):
    with running(site) as driver:
        sim = site.sim()
        for i in range(4):
            sim.punch("1001", at=datetime(2025, 3, 15, 7, 0, i))
        wait_until(lambda: site.pipeline.count() == 4 and sim.unsent == 0, what="four uploaded")
        sim.reset_stamp()
        wait_until(lambda: len(site.pipeline.emits) == 8 and sim.unsent == 0, what="history re-uploaded")
        assert site.pipeline.count() == 4
        assert driver.counters["attlog_duplicates"] == 4


def test_server_side_stamp_loss_reuploads_history_as_duplicates(site):
    with running(site):
        sim = site.sim()
        sim.punch("1002", at=datetime(2025, 3, 15, 8, 0, 0))
        wait_until(lambda: site.pipeline.count() == 1 and sim.unsent == 0, what="uploaded")
    site.state.clear()                       # a gateway whose state was lost answers ATTLOGStamp=0
    with running(site):
        wait_until(lambda: len(site.pipeline.emits) == 2, what="re-upload")
        assert site.pipeline.count() == 1


def test_unknown_serial_is_refused_and_counted(site):
    with running(site) as driver:
        stranger = site.sim(serial="OTHER99")
        stranger.punch("1001")
        wait_until(lambda: driver.counters["refused_sn"] >= 2, what="refusals")
        assert stranger.statuses[403] >= 1 and stranger.unsent == 1
        assert site.pipeline.count() == 0


def test_garbage_lines_are_counted_and_good_lines_in_the_same_body_kept(site):
    with running(site) as driver:
        sim = site.sim()
        sim.send_garbage("garbage\tline", "10 01\t2025-03-15 07:31:02\t0\t15")
        sim.punch("1001", at=datetime(2025, 3, 15, 7, 31, 2))
        sim.punch("1002", at=datetime(2025, 3, 15, 7, 31, 9))
        wait_until(lambda: site.pipeline.count() == 2 and sim.unsent == 0, what="good lines")
        assert driver.counters["bad_lines.ATTLOG"] == 2
        assert sim.statuses[200] > 0 and not sim.statuses.get(400)


def test_roster_push_makes_the_terminal_list_equal_the_admitted_workers(site):
    site.workers.append(worker(1003, "王五", status="left"))
    with running(site) as driver:
        sim = site.sim(users={"1003": SimUser("王五"), "77": SimUser("stranger"), "1": SimUser("boss", pri=14)})
        wait_until(lambda: set(sim.users) == {"1", "1001", "1002"}, what="terminal list = admitted (+ its admin)")
        assert sim.users["1001"] == SimUser("张三", "3659533", 0)     # GB18030 on the wire, decoded by the terminal
        # a worker leaves, another joins
        site.workers[1].status = "left"
        site.workers.append(worker(1004, "赵六"))
        driver.push_roster(site.workers)
        wait_until(lambda: set(sim.users) == {"1", "1001", "1004"}, what="leaver removed, joiner added")
        assert driver.health.state is HealthState.UP
        assert site.state["device.gate-1.users_sn"] == SN and "张三" not in site.state["device.gate-1.users"]


def test_names_go_as_utf8_to_terminals_not_set_to_chinese(site):
    with running(site):
        sim = site.sim(language="69")
        wait_until(lambda: set(sim.users) == {"1001", "1002"}, what="users")
        assert sim.users["1002"].name == "李四"


def test_restart_rebuilds_the_queue_without_resending_confirmed_users(site):
    with running(site):
        sim = site.sim()
        wait_until(lambda: set(sim.users) == {"1001", "1002"}, what="users")
        wait_until(lambda: "device.gate-1.users" in site.state, what="users saved")
    executed = len(sim.terminal.executed)
    with running(site):
        wait_until(lambda: len(sim.terminal.executed) > executed, what="the restart's query")
        wait_until(lambda: not site.driver.sync.busy, what="queue drained")
        assert [t for t in sim.terminal.executed[executed:] if t.startswith("DATA UPDATE")] == []


def test_failing_command_is_retried_then_reported_degraded(site):
    with running(site) as driver:
        sim = site.sim()
        sim.fail_commands_for("1002", -1001)
        wait_until(lambda: driver.health.state is HealthState.DEGRADED, what="DEGRADED")
        assert "PIN=1002" in driver.health.reason and "Return=-1001" in driver.health.reason
        assert sum(1 for t in sim.terminal.executed if t.startswith("DATA UPDATE USERINFO PIN=1002")) == 3
        assert set(sim.users) == {"1001"}


def test_silent_terminal_goes_down():
    s = Site([], offline_after_s=0.3)
    try:
        with running(s) as driver:
            assert driver.health.state is HealthState.DOWN           # nobody called yet
            sim = s.sim()
            wait_until(lambda: driver.health.state is HealthState.UP, what="UP")
            sim.stop()
            wait_until(lambda: driver.health.state is HealthState.DOWN, what="DOWN")
            assert driver.health.reason.startswith("silent for")
    finally:
        s.stop()


def test_records_kept_while_the_gateway_is_down_arrive_later(site):
    with running(site):
        sim = site.sim()
        sim.punch("1001", at=datetime(2025, 3, 15, 7, 0, 0))
        wait_until(lambda: site.pipeline.count() == 1, what="first")
    sim.punch("1001", at=datetime(2025, 3, 15, 7, 5, 0))
    sim.punch("1002", at=datetime(2025, 3, 15, 7, 6, 0))
    wait_until(lambda: sim.counters["failed_cycles"] >= 2, what="the terminal notices")
    assert sim.unsent == 2
    with running(site):
        wait_until(lambda: site.pipeline.count() == 3 and sim.unsent == 0, what="kept records")
        assert site.state["device.gate-1.stamp.ATTLOG"] == "3"


def test_store_failure_gets_no_ok_and_the_terminal_resends(site):
    failing = {"on": True}
    site.pipeline.fail = lambda obs: StoreFull("disk full") if failing["on"] else None
    with running(site) as driver:
        sim = site.sim()
        sim.punch("1001")
        wait_until(lambda: sim.statuses[503] >= 2, what="503 answers")
        assert sim.unsent == 1 and driver.counters["store_failures"] >= 2
        assert "device.gate-1.stamp.ATTLOG" not in site.state
        failing["on"] = False
        wait_until(lambda: site.pipeline.count() == 1 and sim.unsent == 0, what="resent after recovery")


def test_date_header_only_from_a_synchronised_clock():
    fixed = datetime(2025, 3, 15, 0, 0, 0, tzinfo=timezone.utc)
    synced = Site([], synced=True, clock=Clock(wall_ns=lambda: int(fixed.timestamp() * 1e9)))
    unsynced = Site([], synced=False)
    try:
        with running(synced):
            sim = synced.sim()
            wait_until(lambda: sim.date_headers > 0, what="Date header")
            assert sim.last_date == fixed
        with running(unsynced):
            sim = unsynced.sim()
            wait_until(lambda: sim.statuses[200] >= 3, what="calls")
            assert sim.date_headers == 0
    finally:
        synced.stop()
        unsynced.stop()


def test_access_dialect_rtlog(site):
    with running(site) as driver:
        sim = site.sim(dialect="access", users={"1001": SimUser("张三")})
        wait_until(lambda: driver.counters["handshakes"] >= 1, what="registry and push")
        sim.punch("1001", verify="face", status=1, at=datetime(2017, 1, 10, 11, 49, 32))
        sim.punch("9999", verify="card", at=datetime(2017, 1, 10, 11, 50, 0))
        wait_until(lambda: site.pipeline.count() == 2, what="rtlog observations")
        granted, denied = site.pipeline.observations
        assert granted.source_key == f"{SN}:rt:1" and granted.direction is Direction.OUT
        assert granted.device_decision == ADMIT and granted.method is Method.FACE
        assert denied.device_decision.outcome is Outcome.DENIED
        assert denied.device_decision.reason is DenyReason.DEVICE_DENIED and denied.credential.value == "9999"
        sim.reset_stamp()
        wait_until(lambda: len(site.pipeline.emits) == 4, what="resent rtlog")
        assert site.pipeline.count() == 2


def test_other_endpoints_answer_plainly(site):
    with running(site) as driver:
        url = site.url
        tabledata = requests.post(f"{url}/iclock/cdata?SN={SN}&table=tabledata&tablename=user&count=2",
                                  data=b"user uid=1\tpin=1\nuser uid=2\tpin=2\n", timeout=5)
        assert (tabledata.status_code, tabledata.text) == (200, "user=2")
        oplog = requests.post(f"{url}/iclock/cdata?SN={SN}&table=OPERLOG&Stamp=9", data=b"OPLOG 4\t0\nzz\n", timeout=5)
        assert (oplog.status_code, oplog.text) == (200, "OK") and site.state["device.gate-1.stamp.OPERLOG"] == "9"
        assert requests.get(f"{url}/iclock/ping?SN={SN}", timeout=5).text == "OK"
        assert requests.get(f"{url}/iclock/getrequest.aspx?SN={SN}", timeout=5).status_code == 200
        assert requests.get(f"{url}/iclock/cdata?table=ATTLOG", timeout=5).status_code == 400
        assert requests.get(f"{url}/elsewhere?SN={SN}", timeout=5).status_code == 404
        assert requests.post(f"{url}/iclock/devicecmd?SN={SN}", data=b"ID=999&Return=0&CMD=DATA\n", timeout=5).text == "OK"
        assert driver.counters["commands_unknown"] == 1 and driver.counters["bad_lines.OPERLOG"] == 1


def test_driver_is_registered_and_describes_itself():
    from sitegate.drivers.registry import driver_class

    cls = driver_class("zk-push")
    assert cls is ZkPushDriver
    d = cls.describe()
    assert (d["transport"], d["mode"], d["reports_direction"], d["keeps_roster"]) == ("http", "push", True, True)
    assert d["keys"]["listen"]["default"] == "127.0.0.1:8088" and d["keys"]["serial"]["required"]
    assert d["keys"]["timezone"]["default"] == "Asia/Shanghai" and d["keys"]["offline_after_s"]["default"] == 120


def test_cli_simulator_punches_into_a_running_driver(site, tmp_path):
    users = tmp_path / "users.csv"
    users.write_text("pin,name,card\n1001,张三,3659533\n", encoding="utf-8")
    with running(site):
        proc = subprocess.Popen([sys.executable, "-m", "sitegate", "sim", "zk-push", "--server", site.url,
                                 "--serial", SN, "--users", str(users), "--poll", "0.05", "--punch", "1001",
                                 "--punch-every", "0.1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_until(lambda: site.pipeline.count() >= 2, timeout=30, what="punches from the CLI simulator")
        finally:
            proc.terminate()               # SIGTERM ends a simulator normally
            out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert f"zk-push simulator {SN} (attendance) calling {site.url}" in out


def test_cli_simulator_refuses_a_bad_server_url():
    import argparse

    from sitegate.drivers.zk_push import simulator
    from sitegate.errors import UsageError

    parser = argparse.ArgumentParser()
    simulator.add_arguments(parser)
    with pytest.raises(UsageError, match="http"):
        simulator.main(parser.parse_args(["--server", "ftp://x", "--serial", SN]))
