"""The card data in a read reply: the vector of ../shared, and hand-built blocks for each card type.

The hand-built blocks place each field at the offset reference/protocols.md §1 gives, with an
encoder written here (not the one under test).
"""
from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from sitegate.drivers.ga467_serial import textblock
from sitegate.drivers.ga467_serial.card import IdCard, card_from_dict
from sitegate.drivers.ga467_serial.codec import FrameParser, decode_reply
from sitegate.drivers.ga467_serial.nations import NATIONS, nation_name
from sitegate.drivers.ga467_serial.textblock import TextBlockError
from sitegate.errors import ProtocolError, UsageError

TODAY = date(2025, 6, 1)


def ucs2(text: str, size: int) -> bytes:
    raw = text.encode("utf-16-le")
    return raw + b"\x20\x00" * ((size - len(raw)) // 2)


def block(fields: dict[int, tuple[str, int]], mark: str = " ") -> bytes:
    out = bytearray(b"\x20\x00" * 128)
    for offset, (text, size) in fields.items():
        out[offset:offset + size] = ucs2(text, size)
    out[248:250] = mark.encode("utf-16-le")
    return bytes(out)


def read_data(text: bytes, photo: bytes = bytes(1024), fingerprint: bytes | None = None) -> bytes:
    head = len(text).to_bytes(2, "big") + len(photo).to_bytes(2, "big")
    if fingerprint is not None:
        head += len(fingerprint).to_bytes(2, "big")
    return head + text + photo + (fingerprint or b"")


def test_vector_read_reply_decodes_to_expected_fields(vectors):
    sam = vectors["sam"]["read_reply"]
    reply = decode_reply(FrameParser().feed(bytes.fromhex(sam["hex"]))[0])
    card = textblock.decode_read_data(reply.data, fingerprint=False, today=TODAY)
    for key, expected in sam["expect"].items():
        assert getattr(card, key) == expected, key
    assert card.photo_wlt == bytes(1024) and card.fingerprint is None
    assert card.nation_name == "汉" and card.gender_text == "male"
    assert card.id_number_ok and not card.expired


def test_vector_read_reply_encoded_from_its_fields(vectors):
    sam = vectors["sam"]["read_reply"]
    card = card_from_dict(sam["expect"], today=TODAY)
    assert textblock.encode_read_reply(card) == bytes.fromhex(sam["hex"])


def test_worked_example_text_starts_with_name():
    """reference §1: the text block at offset 14 starts 20 5F 09 4E (张三)."""
    card = IdCard(name="张三", id_number="37010219720124281X")
    raw = textblock.encode_read_reply(card)
    assert raw[:20] == bytes.fromhex("AA AA AA 96 69 05 08 00 00 90 01 00 04 00 20 5F 09 4E 20 00")


RESIDENT_FIELDS = {0: ("李四", 30), 30: ("2", 2), 32: ("56", 4), 36: ("19900307", 16), 52: ("云南省西双版纳", 70),
                   122: ("53282219900307002X", 36), 158: ("景洪市公安局", 30), 188: ("20150101", 16),
                   204: ("长期", 16)}


def test_resident_long_term_card():
    card = textblock.decode_text_block(block(RESIDENT_FIELDS), today=TODAY)
    assert (card.card_type, card.name, card.gender, card.nation, card.nation_name) == ("resident", "李四", "2", "56", "基诺")
    assert card.valid_to == "长期" and card.valid_to_date is None and not card.expired
    assert textblock.encode_text_block(card) == block(RESIDENT_FIELDS)


def test_expired_flag_uses_injected_today():
    fields = {**RESIDENT_FIELDS, 204: ("20250531", 16)}
    assert textblock.decode_text_block(block(fields), today=date(2025, 6, 1)).expired
    assert not textblock.decode_text_block(block(fields), today=date(2025, 5, 31)).expired  # last valid day


def test_check_digit_flagged_not_fatal():
    fields = {**RESIDENT_FIELDS, 122: ("532822199003070021", 36)}
    card = textblock.decode_text_block(block(fields), today=TODAY)
    assert card.id_number == "532822199003070021" and not card.id_number_ok


def test_hmt_residence_permit_J():
    fields = {0: ("陈大文", 30), 30: ("1", 2), 36: ("19880808", 16), 52: ("广东省深圳市福田区", 70),
              122: ("810000198808080013", 36), 158: ("深圳市公安局福田分局", 30), 188: ("20200101", 16),
              204: ("20250101", 16), 220: ("H12345678", 18), 238: ("01", 4)}
    card = textblock.decode_text_block(block(fields, "J"), today=TODAY)
    assert card.card_type == "hmt_residence" and card.nation == ""
    assert (card.permit_number, card.issue_count, card.id_number) == ("H12345678", "01", "810000198808080013")
    assert card.expired and card.id_number_ok
    assert textblock.encode_text_block(card) == block(fields, "J")


def test_old_foreign_permanent_residence_I():
    fields = {0: ("SMITH, JOHN", 120), 120: ("1", 2), 122: ("USA110075061501", 30), 152: ("USA", 6),
              158: ("史密斯", 30), 188: ("20160101", 16), 204: ("20260101", 16), 220: ("19750615", 16)}
    card = textblock.decode_text_block(block(fields, "I"), today=TODAY)
    assert card.card_type == "foreign_permanent"
    assert (card.english_name, card.name, card.nationality, card.birth) == ("SMITH, JOHN", "史密斯", "USA", "19750615")
    assert card.id_number == "USA110075061501" and card.id_number_ok
    assert card.display_name == "史密斯"
    assert textblock.encode_text_block(card) == block(fields, "I")


def test_foreign_permanent_residence_2023_Y():
    fields = {0: ("MUELLER ANNA", 30), 30: ("2", 2), 36: ("19920202", 16), 122: ("932768199202020023", 36),
              188: ("20230101", 16), 204: ("20330101", 16), 242: ("DEU", 6)}
    card = textblock.decode_text_block(block(fields, "Y"), today=TODAY)
    assert card.card_type == "foreign_permanent_2023"
    assert (card.name, card.nationality, card.id_number) == ("MUELLER ANNA", "DEU", "932768199202020023")
    assert card.id_number_ok and card.gender_text == "female"
    assert textblock.encode_text_block(card) == block(fields, "Y")


def test_fingerprint_read_reply_layout():
    text = block(RESIDENT_FIELDS)
    fp = bytes(range(256)) * 4
    card = textblock.decode_read_data(read_data(text, bytes([7]) * 1024, fp), fingerprint=True, today=TODAY)
    assert card.fingerprint == fp and card.photo_wlt == bytes([7]) * 1024
    assert textblock.encode_read_data(card, fingerprint=True) == read_data(text, bytes([7]) * 1024, fp)


def test_card_without_fingerprint_on_30_10():
    card = textblock.decode_read_data(read_data(block(RESIDENT_FIELDS), fingerprint=b""), fingerprint=True, today=TODAY)
    assert card.fingerprint == b""


@pytest.mark.parametrize("data, message", [
    (b"\x01\x00", "no length fields"),
    (read_data(bytes(254)), "text length 254"),
    (read_data(block(RESIDENT_FIELDS))[:-1], "do not match"),
    (read_data(block(RESIDENT_FIELDS)) + b"\x00", "do not match"),
])
def test_read_data_errors(data, message):
    with pytest.raises(TextBlockError, match=message):
        textblock.decode_read_data(data, fingerprint=False, today=TODAY)


@pytest.mark.parametrize("mutate, message", [
    (lambda b: b[:200], "must be 256 bytes"),
    (lambda b: b[:248] + "Q".encode("utf-16-le") + b[250:], "unknown card type mark 'Q'"),
    (lambda b: b"\x00\xd8" + b[2:], "name at text offset 0 is not UCS-2"),  # lone surrogate
    (lambda b: b[:36] + ucs2("1990-3-7", 16) + b[52:], "birth '1990-3-7' is not YYYYMMDD"),
    (lambda b: b[:204] + ucs2("20251340", 16) + b[220:], "valid_to '20251340' is not a real date"),
    (lambda b: b[:122] + ucs2("", 36) + b[158:], "no ID number"),
])
def test_text_block_errors(mutate, message):
    with pytest.raises(TextBlockError, match=message):
        textblock.decode_text_block(mutate(block(RESIDENT_FIELDS)), today=TODAY)


def test_nation_table_gb3304():
    assert len(NATIONS) == 58
    assert [NATIONS[c] for c in ("01", "02", "03", "05", "10", "15", "29", "43", "56")] == \
        ["汉", "蒙古", "回", "维吾尔", "朝鲜", "土家", "柯尔克孜", "乌孜别克", "基诺"]
    assert NATIONS["97"] == "其他" and NATIONS["98"].startswith("外国血统")
    assert nation_name("77") == "?77" and nation_name("") == ""


def test_encoder_refuses_what_the_card_cannot_hold():
    with pytest.raises(UsageError, match="name holds at most 15"):
        textblock.encode_text_block(IdCard(name="很" * 16, id_number="1"))
    with pytest.raises(UsageError, match="outside UCS-2"):
        textblock.encode_text_block(IdCard(name="𠀀", id_number="1"))


def test_repr_masks_personal_data(vectors):
    card = card_from_dict(vectors["sam"]["read_reply"]["expect"], today=TODAY)
    text = repr(card)
    assert "37010219720124281X" not in text and "370102********281X" in text
    assert "张三" not in text and "张*" in text
    assert "山东" not in text


def test_card_from_dict_errors():
    with pytest.raises(UsageError, match="unknown card field"):
        card_from_dict({"id_number": "1", "colour": "red"})
    with pytest.raises(UsageError, match="card_type 'passport'"):
        card_from_dict({"card_type": "passport"})
    with pytest.raises(UsageError, match="must be a string"):
        card_from_dict({"gender": 1})
    with pytest.raises(UsageError, match="birth"):
        card_from_dict({"birth": "1990"})
    with pytest.raises(UsageError, match="hex"):
        card_from_dict({"photo_wlt": "zz"})


def test_to_dict_round_trip(vectors):
    card = card_from_dict(vectors["sam"]["read_reply"]["expect"], today=TODAY)
    d = card.to_dict()
    assert d["photo_wlt"] == "" and d["fingerprint"] is None
    again = card_from_dict({k: v for k, v in d.items() if k not in ("expired", "id_number_ok")}, today=TODAY)
    assert again == card


def test_appended_address_both_directions():
    raw = ucs2("北京市朝阳区", 70)
    assert textblock.encode_appended_address("北京市朝阳区") == raw
    assert textblock.decode_appended_address(raw) == "北京市朝阳区"
    with pytest.raises(ProtocolError):
        textblock.decode_appended_address(b"\x00")


def test_replace_keeps_masking():
    card = replace(IdCard(name="王五", id_number="110101199003070011"), expired=True)
    assert "110101199003070011" not in str(card)
