"""The ga467-serial driver on the real road: the simulated reader on a real pseudo-terminal (opened
by pyserial), the driver under the real supervisor, the real pipeline on a temp store."""
from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest

from sitegate.buffer import Worker
from sitegate.drivers.ga467_serial.card import card_from_dict
from sitegate.drivers.ga467_serial.codec import Command
from sitegate.drivers.ga467_serial.driver import Ga467Driver, identity_of, read_one_card
from sitegate.drivers.ga467_serial.simulator import Ga467Simulator, ScheduledCard
from sitegate.model import DenyReason, Method
from tests.conftest import make_id
from tests.drivers.gate_fixtures import Gate, wait_for

KNOWN, STRANGER, EXPIRED = make_id(11), make_id(12), make_id(13)


def card(number: str, name: str = "张三", valid_to: str = "20400101", **kw):
    return card_from_dict({"name": name, "gender": "1", "nation": "01", "birth": "19851120",
                           "address": "山东省济南市历下区", "id_number": number, "issuer": "济南市公安局",
                           "valid_from": "20200101", "valid_to": valid_to, **kw})


@pytest.fixture
def sim(tmp_path):
    simulator = Ga467Simulator(tmp_path / "ttyID0", seed=7).start()
    yield simulator
    simulator.stop()


def device(sim, **options) -> dict:
    return {"id": "east-id", "driver": "ga467-serial", "lane": "east-1", "direction": "in", "port": str(sim.link),
            "poll_interval": 0.05, **options}


@pytest.fixture
def gate_for(tmp_path):
    gates = []

    def make(dev: dict, repeat_window_s: float = 10.0) -> Gate:
        g = Gate(tmp_path, [Worker(KNOWN, "张三", team_sys_no=100156750, team_name="钢筋班"),
                            Worker(EXPIRED, "王五", team_sys_no=100156750)], [dev])
        g.policy.repeat_window_s = repeat_window_s
        gates.append(g)
        return g

    yield make
    for g in gates:
        g.close()


def up(runner) -> bool:
    return wait_for(lambda: runner.health()["state"] == "up")


def polls_later(sim, n: int = 10) -> bool:
    """Wait until the driver has asked the reader ``n`` more times (progress, not time)."""
    start = sim.counters["requests"]
    return wait_for(lambda: sim.counters["requests"] >= start + n)


def test_a_presented_card_is_one_admitted_event_per_presentation(sim, gate_for):
    gate = gate_for(device(sim), repeat_window_s=0.0)   # every presentation is a passage
    runner = gate.supervise("east-id")
    assert up(runner) and runner.health()["reason"] == "SAM 0501000020130511000000010000002a"
    sim.present(card(KNOWN))
    assert wait_for(lambda: len(gate.events()) == 1)
    assert polls_later(sim, 30)             # the card lies on the reader: read again and again …
    assert len(gate.events()) == 1          # … and reported once
    # Taken away and presented again (after another card: the reader ignores the same card coming
    # back within 2 s, as some readers flicker a card out of the field for one cycle).
    sim.present(card(STRANGER, name="李四"))
    assert wait_for(lambda: len(gate.events()) == 2)
    sim.present(card(KNOWN))
    assert wait_for(lambda: len(gate.events()) == 3)
    assert [e.decision.admitted for e in gate.events()] == [True, False, True]
    first = gate.events()[0]
    assert first.decision.admitted and first.method is Method.IDCARD and first.direction.value == "in"
    assert (first.worker.id_card_number, first.worker.name, first.worker.team_name) == (KNOWN, "张三", "钢筋班")
    assert first.source.lane == "east-1" and first.source.driver == "ga467-serial"
    assert first.extra == {"card_type": "resident"} and first.photo_id is None   # the WLT photo is never kept
    assert gate.store.query("SELECT count(*) FROM photos")[0][0] == 0


def test_unknown_card_is_a_denied_event_that_keeps_who_it_was(sim, gate_for):
    gate = gate_for(device(sim))
    runner = gate.supervise("east-id")
    assert up(runner)
    sim.present(card(STRANGER, name="李四"))
    assert wait_for(lambda: len(gate.events()) == 1)
    ev = gate.events()[0]
    assert not ev.decision.admitted and ev.decision.reason is DenyReason.UNKNOWN
    assert (ev.worker.id_card_number, ev.worker.name, ev.worker.id_card_type) == (STRANGER, "李四", "01")
    assert not ev.uploadable


def test_expired_card_is_denied_id_card_expired(sim, gate_for):
    gate = gate_for(device(sim))
    runner = gate.supervise("east-id")
    assert up(runner)
    sim.present(card(EXPIRED, name="王五", valid_to="20200101"))
    assert wait_for(lambda: len(gate.events()) == 1)
    ev = gate.events()[0]
    assert ev.decision.reason is DenyReason.ID_CARD_EXPIRED and "2020-01-01" in ev.decision.detail


def test_unplugged_reader_goes_down_and_reads_again_when_replugged(sim, gate_for):
    gate = gate_for(device(sim), repeat_window_s=0.0)
    runner = gate.supervise("east-id")
    assert up(runner)
    sim.unplug()
    assert wait_for(lambda: runner.health()["state"] == "down" and "unplugged" in runner.health()["reason"])
    restarts = runner.restarts
    assert wait_for(lambda: runner.restarts > restarts + 1)   # reconnect attempts, with backoff
    sim.replug()
    assert up(runner)                                         # by itself: the daemon never restarted
    sim.present(card(KNOWN))
    assert wait_for(lambda: len(gate.events()) == 1)
    assert gate.events()[0].decision.admitted


def test_garbage_and_damaged_replies_are_counted_and_survived(sim, gate_for):
    gate = gate_for(device(sim))
    runner = gate.supervise("east-id")
    assert up(runner)
    sim.inject("garbage", 5)
    sim.inject("bad_checksum", 2)
    sim.present(card(KNOWN))
    assert wait_for(lambda: len(gate.events()) == 1)
    driver = runner.driver
    assert wait_for(lambda: driver.protocol_errors >= 7)
    assert driver.reader.parser.errors["garbage"] == 5 and driver.reader.counters.corrupt_replies == 2
    assert runner.health()["state"] == "up" and runner.restarts == 0


def test_a_noisy_line_degrades_health_and_recovers(sim, gate_for):
    gate = gate_for(device(sim))
    runner = gate.supervise("east-id")
    assert up(runner)
    sim.inject("bad_checksum", 12)
    assert wait_for(lambda: runner.health()["state"] == "degraded")
    assert "polls failed" in runner.health()["reason"] and "checksum" in runner.health()["reason"]
    assert up(runner) and runner.restarts == 0


def test_a_reader_that_stops_answering_is_down_then_initialised_again(sim, gate_for):
    gate = gate_for(device(sim))
    runner = gate.supervise("east-id")
    assert up(runner)
    sim.inject("no_answer", 4)
    assert wait_for(lambda: runner.health()["state"] == "down" and "not answering" in runner.health()["reason"])
    reader_device, seen = sim.device, []   # the SAM is set up anew once it answers: 11 FF again
    real_answer = reader_device.answer

    def spy(request):
        seen.append(request.command)
        return real_answer(request)

    reader_device.answer = spy
    assert up(runner) and runner.restarts == 0
    assert wait_for(lambda: Command.SAM_STATUS in seen and Command.SET_MAX_RF_FRAME in seen)


def test_a_card_moved_away_during_the_read_is_not_an_error(sim, gate_for):
    gate = gate_for(device(sim))
    runner = gate.supervise("east-id")
    assert up(runner)
    sim.fail_next(Command.READ_TEXT_PHOTO, 0x41, 3)
    sim.present(card(KNOWN))
    assert wait_for(lambda: len(gate.events()) == 1)
    assert runner.driver.protocol_errors == 0 and runner.health()["state"] == "up"


def test_options_reach_the_reader_and_fingerprints_are_dropped(sim, gate_for):
    gate = gate_for(device(sim, fingerprint=True, repeat_after_s=30))
    runner = gate.supervise("east-id")
    assert up(runner)
    reader = runner.driver.reader
    assert reader.fingerprint and reader.repeat_after == 30.0
    sim.present(replace(card(KNOWN), fingerprint=bytes(range(256)) * 4))
    assert wait_for(lambda: len(gate.events()) == 1)
    assert gate.events()[0].extra == {"card_type": "resident"}


def test_stopping_closes_the_port(sim, gate_for):
    gate = gate_for(device(sim))
    runner = gate.supervise("east-id")
    assert up(runner)
    runner.stop()
    assert runner.health()["state"] == "down"
    sim.present(card(KNOWN))
    assert read_one_card(str(sim.link), 10.0) is not None   # the exclusive lock was released


def test_personal_data_is_masked_in_the_log(sim, gate_for, caplog):
    gate = gate_for(device(sim))
    runner = gate.supervise("east-id")
    caplog.set_level(logging.DEBUG)
    assert up(runner)
    sim.present(card(STRANGER, name="李四"))
    assert wait_for(lambda: len(gate.events()) == 1)
    runner.stop()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert STRANGER not in text and "李四" not in text
    assert f"{STRANGER[:6]}********{STRANGER[-4:]}" in text


def test_identity_of_each_card_type(vectors):
    resident = card_from_dict(vectors["sam"]["read_reply"]["expect"])
    doc = identity_of(resident)
    assert (doc.id_number, doc.name, doc.id_card_type) == ("37010219720124281X", "张三", "01")
    assert identity_of(replace(resident, valid_to="长期")).valid_to is None
    assert identity_of(replace(resident, valid_to="20310615")).valid_to == "2031-06-15"
    permit = card_from_dict({"card_type": "hmt_residence", "name": "陈大文", "id_number": "810000199001011234"})
    assert identity_of(permit).id_card_type == "99"      # unconfirmed code: see ID_CARD_TYPES
    assert identity_of(permit).valid_to is None


def test_probe(sim, tmp_path, gate_for):
    assert Ga467Driver.probe({"port": str(sim.link)}) is None
    problem = Ga467Driver.probe({"port": str(tmp_path / "ttyNONE")})
    assert "cannot open" in problem and "ttyNONE" in problem
    sim.fail_next(Command.SAM_STATUS, 0x60)
    assert "SAM self-test failed" in Ga467Driver.probe({"port": str(sim.link)})
    gate = gate_for(device(sim))
    runner = gate.supervise("east-id")
    assert up(runner)
    assert Ga467Driver.probe({"port": str(sim.link)}) is None   # in use by the daemon: present


def test_read_one_card(sim):
    sim.present(card(KNOWN))
    got = read_one_card(str(sim.link), 10.0)
    assert got.id_number == KNOWN and got.photo_wlt == b"" and got.fingerprint is None
    sim.remove()
    assert read_one_card(str(sim.link), 0.3) is None


# -- sitegate card read ---------------------------------------------------------------------------
def card_config(site, link: str, driver: str = "ga467-serial", extra: str = "") -> None:
    site.write_config(f'\n[[devices]]\nid = "desk"\ndriver = "{driver}"\ndirection = "in"\nport = "{link}"\n{extra}')


def test_card_read_command_checks_the_roster(site, sim):
    card_config(site, str(sim.link))
    with site.store() as store:
        from sitegate.buffer import Roster

        Roster(store).upsert_many([Worker(KNOWN, "张三", team_name="钢筋班", card_no="3659533")])
    sim.present(card(KNOWN))
    code, out, err = site.cli("card", "read", "-c", str(site.config), "--device", "desk", "--timeout", "10")
    assert code == 0, err
    assert f"{KNOWN[:6]}********{KNOWN[-4:]}  张三" in out and KNOWN not in out
    assert "on the roster, team 钢筋班, active, card 3659533" in out
    sim.present(card(STRANGER, name="李四"))
    code, out, err = site.cli("card", "read", "-c", str(site.config), "--device", "desk", "--timeout", "10", "--json")
    assert code == 0, err
    found = json.loads(out)
    assert found["on_roster"] is False and found["name"] == "李四" and found["id_card_number"].count("*") == 8


def test_card_read_command_errors(site, sim, tmp_path):
    card_config(site, str(sim.link))
    code, _, err = site.cli("card", "read", "-c", str(site.config), "--device", "nope")
    assert code == 2 and "no device 'nope'" in err
    code, _, err = site.cli("card", "read", "-c", str(site.config), "--device", "desk", "--timeout", "0.3")
    assert code == 1 and "no card presented" in err
    card_config(site, str(tmp_path / "ttyGONE"))
    code, _, err = site.cli("card", "read", "-c", str(site.config), "--device", "desk", "--timeout", "1")
    assert code == 1 and "cannot open" in err


def test_card_read_while_the_daemon_holds_the_reader(site, sim, gate_for):
    card_config(site, str(sim.link))
    gate = gate_for(device(sim))
    assert up(gate.supervise("east-id"))
    code, _, err = site.cli("card", "read", "-c", str(site.config), "--device", "desk", "--timeout", "1")
    assert code == 1 and "stop it first" in err


# -- sitegate drivers test ------------------------------------------------------------------------
def test_conformance_run_passes_against_the_simulator(site, tmp_path):
    schedule = [ScheduledCard(card(KNOWN), present_for=0.4, absent_for=0.2)]
    with Ga467Simulator(tmp_path / "ttyCONF", schedule, garbage_rate=0.3, seed=3) as simulator:
        simulator.inject("garbage", 5)    # the first replies come with garbage, whatever the dice say
        card_config(site, str(simulator.link), extra="poll_interval = 0.1\n")
        code, out, err = site.cli("drivers", "test", "desk", "-c", str(site.config), "--no-prompt", "--timeout", "15",
                                  "--json")
    steps = {s["name"]: s for s in json.loads(out)}
    assert code == 0, out + err
    assert all(s["passed"] for s in steps.values()), steps
    assert not steps["rejects garbage"]["skipped"]
    assert "id_number" in steps["produces an observation"]["detail"]
    assert "via idcard" in steps["produces an observation"]["detail"]
