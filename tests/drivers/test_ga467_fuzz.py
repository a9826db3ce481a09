"""Property tests: whatever bytes arrive, the frame parser and the card decoders only ever return
frames / our documented errors, resynchronise, and count what they skipped."""
from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sitegate.drivers.ga467_serial import codec, textblock
from sitegate.drivers.ga467_serial.card import IdCard, card_from_dict
from sitegate.drivers.ga467_serial.codec import Frame, FrameParser, ParseError
from sitegate.errors import ProtocolError

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VALID = codec.build_reply(0x9F, bytes(4))  # "card found", from the reference's sample


def feed_in_chunks(parser: FrameParser, data: bytes, cuts: list[int]) -> list:
    items, last = [], 0
    for cut in sorted({c % (len(data) + 1) for c in cuts}) + [len(data)]:
        items += parser.feed(data[last:cut])
        last = cut
    return items + parser.flush()


def check_accounting(parser: FrameParser, items: list, total: int) -> None:
    """Every byte is either in a frame or counted as skipped; every error is counted."""
    frames = [i for i in items if isinstance(i, Frame)]
    errors = [i for i in items if isinstance(i, ParseError)]
    assert len(frames) + len(errors) == len(items)
    assert sum(f.size for f in frames) + parser.skipped_bytes == total
    assert sum(parser.errors.values()) == len(errors)
    assert sum(e.skipped for e in errors) == parser.skipped_bytes
    for f in frames:  # every frame returned has a correct checksum
        assert codec.encode_frame(f.payload) == codec.PREAMBLE + (len(f.payload) + 1).to_bytes(2, "big") + \
            f.payload + bytes((codec.checksum((len(f.payload) + 1).to_bytes(2, "big") + f.payload),))


# Streams built from pieces that stress the parser: preambles, real frames, wild LENs, noise.
pieces = st.one_of(
    st.binary(max_size=40),
    st.just(codec.PREAMBLE),
    st.just(VALID),
    st.binary(min_size=1, max_size=len(VALID)).map(lambda b: VALID[:len(b)]),  # a frame cut short
    st.integers(min_value=0, max_value=0xFFFF).map(lambda n: codec.PREAMBLE + n.to_bytes(2, "big")),
)
streams = st.lists(pieces, max_size=30).map(b"".join)


@FUZZ
@given(st.one_of(st.binary(max_size=3000), streams), st.lists(st.integers(min_value=0), max_size=8))
def test_random_bytes_never_raise(data, cuts):
    parser = FrameParser()
    items = feed_in_chunks(parser, data, cuts)
    check_accounting(parser, items, len(data))
    assert parser.pending == 0


no_preamble = st.binary(max_size=400).filter(lambda b: codec.PREAMBLE not in b)


@FUZZ
@given(no_preamble, st.lists(st.integers(min_value=0), max_size=6))
def test_valid_frame_after_garbage_is_found(garbage, cuts):
    parser = FrameParser()
    items = feed_in_chunks(parser, garbage + VALID, cuts)
    frames = [i for i in items if isinstance(i, Frame)]
    assert len(frames) == 1 and frames[0].offset == len(garbage) and frames[0].payload == VALID[7:-1]
    check_accounting(parser, items, len(garbage) + len(VALID))
    assert parser.errors["garbage"] == (1 if garbage else 0)


@FUZZ
@given(st.one_of(st.binary(max_size=600), streams), st.lists(st.integers(min_value=0), max_size=6))
def test_resync_after_any_garbage(garbage, cuts):
    """Even garbage holding preambles and wild LENs cannot hide the next good frame — unless a
    bogus "frame" over it passes the 1-byte XOR by chance, which no parser can tell apart."""
    parser = FrameParser()
    items = feed_in_chunks(parser, garbage + VALID, cuts)
    at = len(garbage)
    frames = [i for i in items if isinstance(i, Frame)]
    assert any(f.offset == at for f in frames) or any(f.offset < at < f.offset + f.size for f in frames)
    check_accounting(parser, items, len(garbage) + len(VALID))


@FUZZ
@given(st.integers(min_value=0, max_value=len(VALID) - 1), st.integers(min_value=1, max_value=255))
def test_corrupted_frame_then_good_frame(position, flip):
    corrupted = bytearray(VALID)
    corrupted[position] ^= flip
    parser = FrameParser()
    items = parser.feed(bytes(corrupted) + VALID) + parser.flush()
    frames = [i for i in items if isinstance(i, Frame)]
    at = len(VALID)
    assert any(f.offset == at for f in frames) or any(f.offset < at < f.offset + f.size for f in frames)
    assert sum(parser.errors.values()) >= 1
    check_accounting(parser, items, 2 * len(VALID))


@FUZZ
@given(st.integers(min_value=codec.MAX_LEN + 1, max_value=0xFFFF), st.binary(max_size=64))
def test_oversized_len_never_waits_for_it(length, tail):
    parser = FrameParser()
    items = parser.feed(codec.PREAMBLE + length.to_bytes(2, "big") + tail.replace(b"\xAA", b"") + VALID)
    assert items[0].kind == "length"
    assert isinstance(items[-1], Frame) and items[-1].payload == VALID[7:-1]


@FUZZ
@given(st.binary(max_size=2000), st.booleans())
def test_read_data_decoder_only_raises_protocol_error(data, fingerprint):
    try:
        textblock.decode_read_data(data, fingerprint, today=date(2025, 1, 1))
    except ProtocolError:
        pass


@FUZZ
@given(st.binary(min_size=256, max_size=256))
def test_text_block_decoder_only_raises_protocol_error(block):
    try:
        card = textblock.decode_text_block(block, today=date(2025, 1, 1))
    except ProtocolError:
        return
    assert card.id_number


def field_text(max_chars: int):
    return st.text(st.characters(min_codepoint=0x21, max_codepoint=0xFFFF, exclude_categories=("Cs", "Zs", "Cc")),
                   max_size=max_chars)


digits8 = st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)).map(lambda d: d.strftime("%Y%m%d"))


@FUZZ
@given(name=field_text(15), address=field_text(35), issuer=field_text(15), birth=digits8, valid_from=digits8,
       valid_to=st.one_of(digits8, st.just("长期")), id_number=field_text(18).filter(bool),
       nation=st.sampled_from(["01", "56", "97", "98"]))
def test_resident_card_round_trip(name, address, issuer, birth, valid_from, valid_to, id_number, nation):
    card = card_from_dict(dict(name=name, gender="1", nation=nation, birth=birth, address=address,
                               id_number=id_number, issuer=issuer, valid_from=valid_from, valid_to=valid_to),
                          today=date(2025, 1, 1))
    again = textblock.decode_text_block(textblock.encode_text_block(card), today=date(2025, 1, 1))
    assert again == card


def test_card_type_default_is_resident():
    assert IdCard().card_type == "resident"
