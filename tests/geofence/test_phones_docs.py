"""docs/phones.md is what the phone-app developer builds from: its example request verifies, its
canonical string and signature are the ones the gateway computes, and every refusal code, answer
status and [geofence] key of the code is documented there."""
from __future__ import annotations

import json
import re

from sitegate.config.tables import GEOFENCE
from sitegate.geofence.clockin import REASONS, canonical_bytes, parse_and_verify
from sitegate.geofence.guards import NonceCache
from sitegate.geofence.intake import STATUS
from sitegate.geofence.phonekeys import key_from_text
from tests.conftest import REPO

DOC = (REPO / "docs" / "phones.md").read_text(encoding="utf-8")


def _block(after: str, lang: str = "") -> str:
    start = DOC.index(after)
    m = re.compile(rf"```{lang}\n(.*?)```", re.S).search(DOC, start)
    assert m, f"no ```{lang} block after {after!r}"
    return m.group(1).strip()


def test_the_example_request_verifies_with_the_documented_key():
    key_hex = re.search(r"hex `([0-9a-f]{64})`", DOC).group(1)
    key_b32 = re.search(r"base32 `([A-Z2-7]{52})`", DOC).group(1)
    key = key_from_text(key_hex)
    assert key == bytes(range(32)) == key_from_text(key_b32)
    body = _block("The request body", "json").encode()
    canonical = _block("Canonical string (one line)")
    sig = _block("Its HMAC-SHA256")
    obj = json.loads(body)
    assert obj["sig"] == sig
    assert canonical_bytes(obj).decode() == canonical
    clockin = parse_and_verify(body, {"P-0001": key}.get, NonceCache(), obj["fix_time"] / 1000 + 2)
    assert (clockin.phone_id, clockin.lng, clockin.accuracy_m) == ("P-0001", 117.0012345, 8.5)


def test_the_qr_payload_example_has_the_fields_the_cli_writes():
    from sitegate.commands.phones import enrolment
    from sitegate.config import loads

    example = json.loads(_block("The QR code holds one line of JSON", "json"))
    cfg = loads('[site]\nproject_code = "P1"\ngateway_id = "g"\ndata_dir = "/tmp/x"\n[uplink]\nenabled = false\n')
    made = enrolment(cfg, example["phone_id"], example["key"], example["url"])
    assert made == example


def test_every_refusal_code_is_in_the_table_with_its_status():
    rows = {m.group(2): int(m.group(1)) for m in re.finditer(r"^\| (\d{3}) \| `(\w+)`", DOC, re.M)}
    for shared in re.finditer(r"^\| (\d{3}) \| ((?:`\w+`,? ?)+) \|", DOC, re.M):
        for code in re.findall(r"`(\w+)`", shared.group(2)):
            rows[code] = int(shared.group(1))
    assert set(REASONS) <= set(STATUS)
    assert rows == STATUS


def test_every_geofence_key_is_named():
    for key in GEOFENCE.keys:
        assert f"`{key}`" in DOC, key
