"""``IdCard``: what the reader returns for one presented card, with personal data masked in repr.

Card types (byte 248 of the text block, reference/protocols.md §1): resident ID card, 'J' Hong
Kong/Macau/Taiwan residence permit, 'I' foreign permanent residence card (old layout), 'Y'
foreign permanent residence card (2023 layout).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date

from sitegate.errors import ProtocolError, UsageError
from sitegate.idcard import check_digit_ok, mask

from .nations import nation_name

RESIDENT = "resident"
HMT_RESIDENCE = "hmt_residence"  # 'J' 港澳台居民居住证
FOREIGN_PERMANENT = "foreign_permanent"  # 'I' 外国人永久居留身份证 (2017 layout)
FOREIGN_PERMANENT_2023 = "foreign_permanent_2023"  # 'Y' (2023 layout)

TYPE_BY_MARK = {" ": RESIDENT, "\x00": RESIDENT, "J": HMT_RESIDENCE, "I": FOREIGN_PERMANENT, "Y": FOREIGN_PERMANENT_2023}
MARK_BY_TYPE = {RESIDENT: " ", HMT_RESIDENCE: "J", FOREIGN_PERMANENT: "I", FOREIGN_PERMANENT_2023: "Y"}
LONG_TERM = "长期"
GENDERS = {"0": "unknown", "1": "male", "2": "female", "9": "unspecified"}  # GB/T 2261.1


@dataclass(frozen=True)
class IdCard:
    card_type: str = RESIDENT
    name: str = ""  # Chinese name ('I' cards: may be empty, see english_name)
    gender: str = ""  # "1" male, "2" female
    nation: str = ""  # GB 3304 code "01".."56", "97", "98"; "" where the card has none
    birth: str = ""  # YYYYMMDD
    address: str = ""
    id_number: str = ""  # ID number, or the permit number of foreign cards
    issuer: str = ""
    valid_from: str = ""  # YYYYMMDD
    valid_to: str = ""  # YYYYMMDD or "长期"
    english_name: str = ""  # 'I' cards
    nationality: str = ""  # GB/T 2659 alpha-3, foreign cards
    permit_number: str = ""  # 'J': the travel permit number
    issue_count: str = ""  # 'J': how many times issued
    expired: bool = False
    id_number_ok: bool = True  # check digit (GB 11643) or, for 'I' cards, the number's shape
    photo_wlt: bytes = field(default=b"", repr=False)  # 1024 bytes, decodable only by the vendor's library
    fingerprint: bytes | None = field(default=None, repr=False)

    @property
    def display_name(self) -> str:
        return self.name or self.english_name

    @property
    def nation_name(self) -> str:
        return nation_name(self.nation)

    @property
    def gender_text(self) -> str:
        return GENDERS.get(self.gender, f"?{self.gender}")

    @property
    def valid_to_date(self) -> date | None:
        """The last valid day, None for long-term (长期) cards."""
        return None if self.valid_to == LONG_TERM else parse_yyyymmdd(self.valid_to, "valid_to")

    def is_expired(self, today: date) -> bool:
        last = self.valid_to_date
        return last is not None and last < today

    def __repr__(self) -> str:  # personal data masked: this object ends up in logs
        return (f"IdCard(card_type={self.card_type!r}, name={_mask_name(self.display_name)!r}, "
                f"id_number={mask(self.id_number)!r}, valid_to={self.valid_to!r}, expired={self.expired}, "
                f"id_number_ok={self.id_number_ok})")

    __str__ = __repr__

    def to_dict(self) -> dict:
        """The identity fields as JSON-ready values (photo and fingerprint as hex)."""
        d = asdict(self)
        d["photo_wlt"] = self.photo_wlt.hex()
        d["fingerprint"] = self.fingerprint.hex() if self.fingerprint is not None else None
        return d


_TEXT_FIELDS = {f.name for f in fields(IdCard)} - {"expired", "id_number_ok", "photo_wlt", "fingerprint"}


def _mask_name(name: str) -> str:
    return name[:1] + "*" * (len(name) - 1) if name else ""


def parse_yyyymmdd(text: str, what: str) -> date:
    if len(text) != 8 or not text.isascii() or not text.isdigit():
        raise ProtocolError(f"{what} {text!r} is not YYYYMMDD")
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise ProtocolError(f"{what} {text!r} is not a real date") from None


def id_number_ok(card_type: str, number: str) -> bool:
    if card_type == FOREIGN_PERMANENT:  # 15 characters: 3 letters + 12 digits (unconfirmed)
        return len(number) == 15 and number[:3].isalpha() and number[:3].isascii() and number[3:].isdigit()
    return check_digit_ok(number)


def card_from_dict(data: dict, today: date | None = None) -> IdCard:
    """An ``IdCard`` from JSON-like identity fields (simulator cards, fixtures).

    Unknown keys and a bad card_type are refused with a UsageError naming them; ``expired`` and
    ``id_number_ok`` are computed, never taken from the input.
    """
    if not isinstance(data, dict):
        raise UsageError(f"a card must be a JSON object, got {type(data).__name__}")
    extra = set(data) - _TEXT_FIELDS - {"photo_wlt", "fingerprint"}
    if extra:
        raise UsageError(f"unknown card field(s): {', '.join(sorted(extra))}")
    values = {k: v for k, v in data.items() if k in _TEXT_FIELDS}
    for key, value in values.items():
        if not isinstance(value, str):
            raise UsageError(f"card field {key} must be a string, got {type(value).__name__}")
    card_type = values.get("card_type", RESIDENT)
    if card_type not in MARK_BY_TYPE:
        raise UsageError(f"card_type {card_type!r} is not one of {', '.join(MARK_BY_TYPE)}")
    try:
        photo = bytes.fromhex(data.get("photo_wlt") or "")
        fp = data.get("fingerprint")
        fingerprint = bytes.fromhex(fp) if isinstance(fp, str) else None
    except ValueError as exc:
        raise UsageError(f"card photo_wlt/fingerprint must be hex: {exc}") from None
    card = IdCard(photo_wlt=photo, fingerprint=fingerprint, **values)
    try:
        check_dates(card)
    except ProtocolError as exc:
        raise UsageError(f"card: {exc}") from None
    return finish(card, today)


def check_dates(card: IdCard) -> None:
    """Raise ProtocolError naming the first date field that is neither empty nor YYYYMMDD."""
    for what in ("birth", "valid_from", "valid_to"):
        value = getattr(card, what)
        if value and not (what == "valid_to" and value == LONG_TERM):
            parse_yyyymmdd(value, what)


def finish(card: IdCard, today: date | None = None) -> IdCard:
    """Fill the computed flags (expired against ``today``, ID number check); dates must be valid."""
    expired = bool(card.valid_to) and card.is_expired(today or date.today())
    return replace(card, expired=expired, id_number_ok=id_number_ok(card.card_type, card.id_number))
