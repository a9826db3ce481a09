"""``sitegate phones add|revoke|list`` through the real CLI entry point: the key is shown once (as
text and as a QR code that an independent decoder -- OpenCV's -- reads back), kept only encrypted,
never logged; revocation takes effect in a running intake at once."""
from __future__ import annotations

import json
import logging
import re

import numpy as np
import pytest

from sitegate.buffer import Roster, Worker
from sitegate.geofence.phonekeys import key_from_text
from sitegate.geofence.phones import PhoneKeyCache, PhoneRegistry
from tests.conftest import make_id

A, B, LEFT, BLACK = make_id(21), make_id(22), make_id(23), make_id(24)
KEY_LINE = re.compile(r"^key \(shown only now; keep it secret\): ([A-Z2-7]{52})$", re.M)


@pytest.fixture
def roster(site):
    with site.store() as store:
        Roster(store).upsert_many([Worker(A, "张三"), Worker(B, "李四"), Worker(LEFT, "王五", status="left"),
                                   Worker(BLACK, "赵六", blacklisted=True)])
    return site


def qr_payload(text: str) -> str:
    """Read the QR code printed by ``print_ascii(invert=True)`` back with OpenCV's decoder."""
    import cv2

    # inverted half blocks: '█' both halves light, '▄' upper dark, '▀' lower dark, blank both dark
    halves = {"█": (0, 0), "▄": (1, 0), "▀": (0, 1), " ": (1, 1), "\xa0": (1, 1)}
    lines = [ln for ln in text.splitlines() if ln and set(ln) <= set(halves)]
    rows = []
    for ln in lines:
        rows.append([halves[ch][0] for ch in ln])
        rows.append([halves[ch][1] for ch in ln])
    dark = np.array(rows, dtype=np.uint8)
    img = np.where(dark == 1, 0, 255).astype(np.uint8)
    img = np.pad(img, 4, constant_values=255)
    img = cv2.resize(img, None, fx=8, fy=8, interpolation=cv2.INTER_NEAREST)
    # OpenCV's classic decoder misses about 2 % of these codes although the printed modules are
    # exactly the QR's (checked against qrcode's own matrix); its ArUco-based one read 400 of 400.
    for detector in (cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco()):
        data, _points, _ = detector.detectAndDecode(img)
        if data:
            return data
    return ""


def test_add_shows_the_key_once_as_text_and_qr_and_stores_it_encrypted(roster, caplog):
    site = roster
    with caplog.at_level(logging.DEBUG):
        code, out, err = site.cli("-vv", "phones", "add", "-c", str(site.config), "--id-card-number", A,
                                  "--phone-id", "P-7", "--url", "http://192.168.1.20:8080/api/clockin")
    assert code == 0, err
    key_text = KEY_LINE.search(out).group(1)
    assert f"phone P-7 registered for {A[:6]}********{A[-4:]}" in out
    enrol = json.loads(qr_payload(out))
    assert enrol == {"v": 1, "type": "sitegate-phone", "url": "http://192.168.1.20:8080/api/clockin",
                     "phone_id": "P-7", "key": key_text}
    key = key_from_text(key_text)
    with site.store() as store:
        assert PhoneRegistry(store).active()["P-7"].key == key
        (audit,) = store.query("SELECT actor, action, subject, detail FROM audit WHERE action = 'phones.add'")
        assert audit["subject"] == "P-7" and key_text not in audit["detail"] and A not in audit["detail"]
    raw = b"".join(p.read_bytes() for p in site.data_dir.glob("sitegate.db*"))
    assert key not in raw and key_text.encode() not in raw and key.hex().encode() not in raw
    assert key_text not in caplog.text and key_text not in err


def test_the_url_defaults_to_http_listen_and_the_mqtt_topic_is_given_when_on(roster):
    site = roster
    site.write_config('\n[http]\nlisten = "10.0.0.5:8443"\n\n[geofence]\nmqtt_intake = true\n')
    code, out, err = site.cli("phones", "add", "-c", str(site.config), "--id-card-number", A, "--phone-id", "P-8")
    assert code == 0, err
    enrol = json.loads(qr_payload(out))
    assert enrol["url"] == "http://10.0.0.5:8443/api/clockin"
    assert enrol["mqtt_topic"] == "sitegate/370102202300001/clockin/P-8"
    code, out, _ = site.cli("phones", "add", "-c", str(site.config), "--id-card-number", B, "--no-qr")
    assert code == 0 and "█" not in out and re.search(r"^phone P-[0-9a-f]{8} registered", out, re.M)


def test_list_shows_masked_ids_and_no_keys(roster):
    site = roster
    _, out_a, _ = site.cli("phones", "add", "-c", str(site.config), "--id-card-number", A, "--phone-id", "P-1")
    site.cli("phones", "add", "-c", str(site.config), "--id-card-number", B, "--phone-id", "P-2")
    site.cli("phones", "revoke", "-c", str(site.config), "--phone-id", "P-2")
    code, out, _ = site.cli("phones", "list", "-c", str(site.config))
    assert code == 0 and "2 phone(s)" in out
    assert re.search(rf"^P-1\s+{re.escape(A[:6])}\*{{8}}{A[-4:]}\s+\S+ \S+\s+active$", out, re.M)
    assert re.search(r"^P-2\s+.*revoked", out, re.M)
    assert A not in out and KEY_LINE.search(out_a).group(1) not in out
    code, out, _ = site.cli("phones", "list", "-c", str(site.config), "--json", "--active")
    rows = json.loads(out)
    assert [(r["phone_id"], r["status"], r["id_card_number"]) for r in rows] == [("P-1", "active", f"{A[:6]}********{A[-4:]}")]
    assert "key" not in rows[0]


def test_revoke_by_phone_or_by_worker_and_the_running_cache_sees_it(roster):
    site = roster
    for pid, who in (("P-1", A), ("P-2", A), ("P-3", B)):
        assert site.cli("phones", "add", "-c", str(site.config), "--id-card-number", who, "--phone-id", pid,
                        "--no-qr")[0] == 0
    with site.store() as store:
        cache = PhoneKeyCache(store)
        cache.refresh()
        assert cache.key("P-3") is not None
        code, out, _ = site.cli("phones", "revoke", "-c", str(site.config), "--phone-id", "P-3")
        assert code == 0 and out.strip() == "revoked: P-3"
        assert cache.refresh() and cache.key("P-3") is None            # the version moved: reloaded
        code, out, _ = site.cli("phones", "revoke", "-c", str(site.config), "--id-card-number", A)
        assert code == 0 and out.strip() == "revoked: P-1, P-2"
        cache.refresh()
        assert len(cache) == 0 and not cache.refresh()                  # nothing changed since
        actions = [r[0] for r in store.query("SELECT action FROM audit WHERE action LIKE 'phones.%' ORDER BY id")]
    assert actions == ["phones.add"] * 3 + ["phones.revoke"] * 3
    # a revoked phone id may be issued again (a new key)
    assert site.cli("phones", "add", "-c", str(site.config), "--id-card-number", B, "--phone-id", "P-3",
                    "--no-qr")[0] == 0


@pytest.mark.parametrize("argv,words", [
    (["add", "--id-card-number", make_id(99)], "no worker with ID number"),
    (["add", "--id-card-number", LEFT], "has left the project"),
    (["add", "--id-card-number", BLACK], "is blacklisted"),
    (["add", "--id-card-number", A, "--phone-id", "bad id!"], "must be 1-64 of"),
    (["add", "--id-card-number", A, "--phone-id", "P-1"], "already registered: revoke it first"),
    (["revoke", "--phone-id", "P-404"], "not registered or already revoked"),
    (["revoke", "--id-card-number", B], "has no active phone"),
])
def test_bad_input_exits_2_with_a_message(roster, argv, words):
    site = roster
    site.cli("phones", "add", "-c", str(site.config), "--id-card-number", A, "--phone-id", "P-1", "--no-qr")
    code, out, err = site.cli("phones", argv[0], "-c", str(site.config), *argv[1:])
    assert code == 2 and words in err, (out, err)
    assert make_id(99) not in err and LEFT not in err      # ID numbers masked in messages


def test_every_phones_command_has_help(site):
    for action in ("add", "revoke", "list"):
        code, out, _ = site.cli("phones", action, "--help")
        assert code == 0 and "-c FILE" in out
