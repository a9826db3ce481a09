"""The PII grep must be able to fail: it finds real-looking ID numbers and passes masked ones."""
from __future__ import annotations

from tests.conftest import make_id

from .pii import find_unmasked_ids, scan

REAL_LOOKING = make_id(7)                    # 17 digits + a valid check digit


def test_an_unmasked_id_number_in_a_log_line_is_found_and_reported_masked():
    line = f"2026-11-28 10:21:12 INFO sitegate.pipeline: admitted {REAL_LOOKING} at east-idcard"
    [leak] = find_unmasked_ids(line, "stderr")
    assert leak.source == "stderr" and leak.number == REAL_LOOKING[:6] + "********" + REAL_LOOKING[-4:]
    assert REAL_LOOKING not in str(leak)      # the failure message itself leaks nothing


def test_numbers_with_an_x_in_html_and_json_are_found():
    with_x = "11010519491231002X"
    html = f'<td>{with_x}</td><td>{REAL_LOOKING.lower()}</td>'
    json_text = f'{{"id_card_number": "{with_x}"}}'
    leaks = scan({"/roster": html, "/api/roster": json_text})
    assert [(leak.source, leak.number[-4:]) for leak in leaks] == [
        ("/roster", "002X"), ("/roster", REAL_LOOKING[-4:]), ("/api/roster", "002X")]


def test_masked_numbers_and_other_long_numbers_pass():
    text = (f"{REAL_LOOKING[:6]}********{REAL_LOOKING[-4:]} event 0190a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b "
            "ns 1764324000123456789 sam 0501000020130511000000010000002a ms 1764324000123 card 3600017")
    assert find_unmasked_ids(text) == []


def test_a_known_number_is_found_even_inside_a_longer_token():
    text = f"key=abc{REAL_LOOKING}def"
    assert find_unmasked_ids(text) == []                       # not an ID number by shape …
    assert len(find_unmasked_ids(text, known=[REAL_LOOKING])) == 1   # … but a number we know leaked
