"""Building blocks for ``sitegate bench gate``: a reproducible reader byte stream and its parse.

Nothing here is timed; the benchmark module times ``parse_frames`` against its own baseline.
"""
from __future__ import annotations

import random

from .card import IdCard
from .codec import FrameParser, build_reply, find_request, select_request
from .status import FIND_OK, NO_CARD, OK
from .textblock import encode_read_reply

SAMPLE_CARD = IdCard(name="张三", gender="1", nation="01", birth="19720124", address="山东省济南市历下区",
                     id_number="37010219720124281X", issuer="济南市公安局历下分局", valid_from="20200101",
                     valid_to="20400101")


def sample_stream(frames: int, *, garbage_every: int = 0, seed: int = 1) -> bytes:
    """``frames`` frames as a reader session sends them (no-card / found / select / 1295-byte read
    replies plus requests), with a few garbage bytes before every ``garbage_every``-th frame."""
    rng = random.Random(seed)
    cycle = [find_request(), build_reply(NO_CARD), find_request(), build_reply(FIND_OK, bytes(4)),
             select_request(), build_reply(OK, bytes(8)), encode_read_reply(SAMPLE_CARD)]
    out = bytearray()
    for n in range(frames):
        if garbage_every and n % garbage_every == 0:
            out += bytes(rng.randrange(0, 0xAA) for _ in range(rng.randint(1, 16)))
        out += cycle[n % len(cycle)]
    return bytes(out)


def parse_frames(stream: bytes, chunk: int = 4096) -> int:
    """Feed ``stream`` in ``chunk``-byte pieces (as reads from a port deliver it); frames found."""
    parser = FrameParser()
    found = 0
    for start in range(0, len(stream), chunk):
        found += sum(1 for item in parser.feed(stream[start:start + chunk]) if not isinstance(item, Exception))
    return found + sum(1 for item in parser.flush() if not isinstance(item, Exception))
