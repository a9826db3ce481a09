"""``sitegate user …``: accounts for the clerk pages, passwords never on the command line."""
from __future__ import annotations

import io
import json
import time

import pytest

from sitegate.web.accounts import Accounts
from sitegate.web.passwords import verify_password

GOOD = "correct horse battery"


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def stdin(monkeypatch):
    def feed(text: str, tty: bool = False):
        monkeypatch.setattr("sys.stdin", (TTY if tty else io.StringIO)(text))
    return feed


def _user(site, name):
    with site.store() as store:
        return Accounts(store).get(name), store.query("SELECT password_hash FROM users WHERE username = ?", (name,))


def test_add_reads_the_password_from_stdin_and_stores_only_a_scrypt_hash(site, stdin):
    stdin(GOOD + "\n")
    code, out, err = site.cli("user", "add", "-c", str(site.config), "wang", "--display-name", "王会计")
    assert code == 0, err
    assert "wang added" in out
    user, rows = _user(site, "wang")
    assert user.display_name == "王会计" and user.role == "clerk" and not user.disabled
    stored = rows[0][0]
    assert GOOD not in stored and stored.startswith("$scrypt$") and verify_password(GOOD, stored)
    with site.store() as store:
        assert store.query("SELECT action, subject FROM audit WHERE action = 'user.add'")[0][:] == ("user.add", "wang")


def test_add_asks_twice_on_a_terminal(site, stdin, monkeypatch):
    stdin("", tty=True)
    answers = iter([GOOD, GOOD])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    code, _out, err = site.cli("user", "add", "-c", str(site.config), "li", "--role", "admin")
    assert code == 0, err
    assert _user(site, "li")[0].role == "admin"
    stdin("", tty=True)
    answers2 = iter([GOOD, GOOD + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers2))
    code, _out, err = site.cli("user", "add", "-c", str(site.config), "zhao")
    assert code == 2 and "differ" in err


def test_there_is_no_password_option(site, stdin):
    stdin(GOOD + "\n")
    code, _out, err = site.cli("user", "add", "-c", str(site.config), "wang", "--password", GOOD)
    assert code == 2 and "unrecognized arguments" in err


@pytest.mark.parametrize("argv,stdin_text,message", [
    (["wang"], "short\n", "at least 10 characters"),
    (["wang"], "", "no password on standard input"),
    (["bad name"], GOOD + "\n", "user name"),
    (["wang", "--role", "root"], GOOD + "\n", "invalid choice"),
])
def test_add_refusals_exit_2_with_a_message(site, stdin, argv, stdin_text, message):
    stdin(stdin_text)
    code, _out, err = site.cli("user", "add", "-c", str(site.config), *argv)
    assert code == 2 and message in err


def test_duplicate_user_is_refused(site, stdin):
    stdin(GOOD + "\n")
    assert site.cli("user", "add", "-c", str(site.config), "wang")[0] == 0
    stdin(GOOD + "\n")
    code, _out, err = site.cli("user", "add", "-c", str(site.config), "wang")
    assert code == 2 and "already exists" in err


def test_list_disable_enable_passwd_unlock(site, stdin):
    stdin(GOOD + "\n")
    site.cli("user", "add", "-c", str(site.config), "wang")
    with site.store() as store:
        store.write(lambda c: c.execute("INSERT INTO sessions(token_hash, username, csrf, created_ts, last_seen_ts) "
                                        "VALUES ('h', 'wang', 'c', 1, 1)"))
        store.write(lambda c: c.execute("UPDATE users SET failed_logins = 0, locked_until = ? WHERE username = 'wang'",
                                        (time.time() + 900,)))
    code, out, _ = site.cli("user", "list", "-c", str(site.config), "--json")
    assert code == 0 and json.loads(out)[0]["username"] == "wang" and "password" not in out
    code, out, _ = site.cli("user", "list", "-c", str(site.config))
    assert "locked until" in out
    assert site.cli("user", "unlock", "-c", str(site.config), "wang")[0] == 0
    assert _user(site, "wang")[0].locked_until == 0
    assert site.cli("user", "disable", "-c", str(site.config), "wang")[0] == 0
    with site.store() as store:
        assert store.query("SELECT count(*) FROM sessions")[0][0] == 0      # sessions ended
    assert _user(site, "wang")[0].disabled
    assert site.cli("user", "enable", "-c", str(site.config), "wang")[0] == 0
    assert not _user(site, "wang")[0].disabled
    stdin("another long password\n")
    assert site.cli("user", "passwd", "-c", str(site.config), "wang")[0] == 0
    assert verify_password("another long password", _user(site, "wang")[1][0][0])
    code, _out, err = site.cli("user", "disable", "-c", str(site.config), "nobody")
    assert code == 2 and "no user 'nobody'" in err
