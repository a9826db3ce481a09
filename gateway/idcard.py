"""Chinese resident ID numbers (GB 11643-1999): check digit, validation, masking.

The 18th character is the ISO 7064 MOD 11-2 check digit over the first 17 (weights 2^(17-i) mod 11,
i.e. 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2; result 10 is written 'X').
"""
from __future__ import annotations

import re
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"  # index = sum mod 11
_SHAPE = re.compile(r"^\d{17}[\dX]$")
_MASK_FIND = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")


def check_digit(first17: str) -> str:
    """The check character for the first 17 digits."""
    total = sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def normalise(number: str) -> str:
    """Strip blanks and upper-case the 'x' that people type."""
    return number.strip().replace(" ", "").upper()


def check_digit_ok(number: str) -> bool:
    number = normalise(number)
    return bool(_SHAPE.match(number)) and check_digit(number[:17]) == number[17]


def problem(number: str) -> str | None:
    """Why ``number`` is not a valid 18-digit resident ID number, or None when it is."""
    n = normalise(number)
    if len(n) != 18:
        return f"ID number must have 18 characters, got {len(n)}"
    if not _SHAPE.match(n):
        return "ID number must be 17 digits followed by a digit or X"
    try:
        date(int(n[6:10]), int(n[10:12]), int(n[12:14]))
    except ValueError:
        return f"ID number has an impossible birth date {n[6:14]}"
    expected = check_digit(n[:17])
    if expected != n[17]:
        return f"ID number check digit is {n[17]}, GB 11643 requires {expected}"
    return None


def mask(number: str | None) -> str:
    """``370102********1234``: first 6 and last 4 kept, the rest starred (any length)."""
    if not number:
        return ""
    n = normalise(number)
    if len(n) <= 10:
        return n[:2] + "*" * max(len(n) - 2, 0)
    return n[:6] + "*" * (len(n) - 10) + n[-4:]


def mask_text(text: str) -> str:
    """Mask every 18-character ID number inside free text (log lines, error messages)."""
    return _MASK_FIND.sub(lambda m: m.group(1) + "*" * 8 + m.group(2)[-4:], text)
