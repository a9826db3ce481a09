"""The answers of a simulated ID-card reader, without I/O: request frame in, reply frame out.

Behaviour follows reference/protocols.md §1: find answers 9F while a card is on the field (the
same card is found again and again until it leaves, as real readers do), select needs a found
card, read needs a selected card; a request with a bad checksum or length is answered with SW3
10 / 11, an unknown command with 21.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import status as sw
from .card import IdCard
from .codec import Command, ParseError, Request, build_reply
from .textblock import encode_appended_address, encode_read_reply

DEFAULT_SAM_ID = bytes.fromhex("0501000020130511000000010000002a")


@dataclass
class Presentation:
    card: IdCard
    appended_address: str | None = None


class SimulatedReader:
    def __init__(self, sam_id: bytes = DEFAULT_SAM_ID):
        self.sam_id = sam_id
        self.presented: Presentation | None = None
        self._found = False
        self._selected = False
        self._failures: dict[Command, list[int]] = {}

    def fail_next(self, command: Command, sw3: int, count: int = 1) -> None:
        """Answer the next ``count`` ``command`` requests with status ``sw3`` (e.g. select -> 81)."""
        self._failures.setdefault(command, []).extend([sw3] * count)

    def present(self, card: IdCard, appended_address: str | None = None) -> None:
        self.presented = Presentation(card, appended_address)
        self._found = self._selected = False

    def remove(self) -> None:
        self.presented = None
        self._found = self._selected = False

    def answer_error(self, err: ParseError) -> bytes | None:
        """A reader answers a damaged request with its error status; garbage gets no answer."""
        if err.kind == "checksum":
            return build_reply(0x10)
        if err.kind == "length":
            return build_reply(0x11)
        return None

    def answer(self, request: Request) -> bytes:
        command = request.command
        card = self.presented
        failures = self._failures.get(command) if command is not None else None
        if failures:
            if command in (Command.FIND_CARD, Command.SELECT_CARD):
                self._found = self._selected = False
            return build_reply(failures.pop(0))
        if command in (Command.SAM_STATUS, Command.RESET_SAM):
            if command is Command.RESET_SAM:
                self._found = self._selected = False
            return build_reply(sw.OK)
        if command is Command.SAM_ID:
            return build_reply(sw.OK, self.sam_id)
        if command is Command.SET_MAX_RF_FRAME:
            return build_reply(sw.OK if len(request.data) == 1 else 0x11)
        if command is Command.FIND_CARD:
            self._found = card is not None
            self._selected = False
            return build_reply(sw.FIND_OK, bytes(4)) if self._found else build_reply(sw.NO_CARD)
        if command is Command.SELECT_CARD:
            self._selected = card is not None and self._found
            return build_reply(sw.OK, bytes(8)) if self._selected else build_reply(sw.SELECT_FAILED)
        if command in (Command.READ_TEXT_PHOTO, Command.READ_TEXT_PHOTO_FINGERPRINT):
            if card is None or not self._selected:
                return build_reply(sw.READ_FAILED)
            return encode_read_reply(card.card, fingerprint=command is Command.READ_TEXT_PHOTO_FINGERPRINT)
        if command is Command.READ_APPENDED_ADDRESS:
            if card is None or not self._selected:
                return build_reply(sw.READ_FAILED)
            if card.appended_address is None:
                return build_reply(sw.NO_SUCH_ITEM)
            return build_reply(sw.OK, encode_appended_address(card.appended_address))
        return build_reply(0x21)
