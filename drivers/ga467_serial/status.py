"""SW3, the result byte of every reply from an ID-card reader's SAM module.

Codes and meanings from public vendor samples (HslCommunication ``SAMSerial``, libsamv.h,
YinanSoft SerialReader), collected in reference/protocols.md §1. ``category`` groups them by who
has to act: the person at the gate (card), the site technician (reader), or the programmer
(request).
"""
from __future__ import annotations

OK = 0x90
FIND_OK = 0x9F  # "find card" succeeds with 9F, not 90
NO_SUCH_ITEM = 0x91
NO_CARD = 0x80
SELECT_FAILED = 0x81
READ_FAILED = 0x41

REASONS: dict[int, str] = {
    0x90: "ok",
    0x9F: "card found",
    0x91: "no such item on the card (e.g. no appended address)",
    0x10: "the reader received a request with a bad checksum",
    0x11: "the reader received a request with a bad length",
    0x21: "the reader does not know this command",
    0x23: "command not permitted now (out of sequence)",
    0x24: "the reader reported an unrecognised error",
    0x31: "the card failed to authenticate the SAM",
    0x32: "the SAM failed to authenticate the card (damaged or forged card?)",
    0x33: "verification error",
    0x40: "unknown card type",
    0x41: "reading the card failed (card moved away too early?)",
    0x47: "the SAM's random-number generator failed",
    0x60: "SAM self-test failed",
    0x66: "SAM not authorised",
    0x80: "no card in the field",
    0x81: "selecting the card failed",
}

_CATEGORY: dict[int, str] = {
    0x90: "ok", 0x9F: "ok",
    0x80: "card", 0x81: "card", 0x91: "card", 0x31: "card", 0x32: "card", 0x33: "card",
    0x40: "card", 0x41: "card",
    0x24: "reader", 0x47: "reader", 0x60: "reader", 0x66: "reader",
    0x10: "request", 0x11: "request", 0x21: "request", 0x23: "request",
}


def reason(sw3: int) -> str:
    """What SW3 means, in words; unknown codes are named by their hex value."""
    return REASONS.get(sw3, f"unknown reader status 0x{sw3:02X}")


def category(sw3: int) -> str:
    """'ok', 'card' (present it again / another card), 'reader' (hardware or SAM fault: alarm),
    'request' (our bytes were wrong: a bug or line noise) or 'unknown'."""
    return _CATEGORY.get(sw3, "unknown")


def describe(sw3: int) -> str:
    """``SW3 0x41 (card): reading the card failed …`` for logs and error messages."""
    return f"SW3 0x{sw3:02X} ({category(sw3)}): {reason(sw3)}"
