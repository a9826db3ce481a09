"""The personal-data grep over what a running site shows: log lines, clerk pages, API answers.

ID numbers must appear only masked (``370102********1234``: first 6, 8 stars, last 4; design.md,
"Personal data"). An unmasked one is any run of 17 digits and a digit or X that is not part of a
longer run of letters or digits (GB 11643-1999's shape; the check digit is deliberately NOT
required, so a mistyped or made-up number is caught too).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

UNMASKED_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


@dataclass(frozen=True)
class Leak:
    source: str         # which log, page or endpoint
    number: str         # shown masked here too: the test report must not leak it either
    context: str        # the surrounding text, with the number masked

    def __str__(self) -> str:
        return f"{self.source}: unmasked ID number {self.number} in …{self.context}…"


def _mask(number: str) -> str:
    return number[:6] + "*" * 8 + number[-4:]


def find_unmasked_ids(text: str, source: str = "", known: Iterable[str] = ()) -> list[Leak]:
    """Every unmasked ID number in ``text``: by shape, and each of the ``known`` numbers verbatim
    (wherever it appears, even inside a longer token)."""
    spans = [(m.start(), m.end()) for m in UNMASKED_ID.finditer(text)]
    for number in known:
        spans += [(m.start(), m.end()) for m in re.finditer(re.escape(number), text)]
    leaks = []
    for start, end in sorted(set(spans)):
        number = text[start:end]
        before, after = text[max(0, start - 40):start], text[end:end + 40]
        leaks.append(Leak(source, _mask(number), f"{before}{_mask(number)}{after}".replace("\n", " ")))
    return leaks


def scan(texts: Mapping[str, str], known: Iterable[str] = ()) -> list[Leak]:
    """``texts``: source name -> text. All leaks, in source order."""
    known = list(known)
    return [leak for source, text in texts.items() for leak in find_unmasked_ids(text, source, known)]
