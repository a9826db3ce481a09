"""Resident ID-card readers (SAM module, ``AA AA AA 96 69`` frames) on a serial port.

Layers, codec apart from I/O (see docs and reference/protocols.md §1):

- ``codec``      frames: request builders, ``FrameParser`` (resynchronising), replies
- ``status``     SW3 result codes with reasons
- ``textblock``  the card's text block / photo / fingerprint, both directions
- ``card``       ``IdCard`` (personal data masked in its repr), ``nations`` the GB 3304 table
- ``reader``     ``Ga467Reader``: find → select → read, one result per presentation
- ``device``, ``simulator``  a reader on a pseudo-terminal (``sitegate sim ga467``)
"""
from .card import IdCard, card_from_dict
from .codec import Frame, FrameParser, ParseError
from .reader import Ga467Reader, ReaderDisconnected, ReaderError, ReaderTimeout
from .textblock import TextBlockError, decode_read_data, decode_text_block, encode_read_reply, encode_text_block

__all__ = [
    "IdCard", "card_from_dict", "Frame", "FrameParser", "ParseError", "Ga467Reader", "ReaderError",
    "ReaderTimeout", "ReaderDisconnected", "TextBlockError", "decode_read_data", "decode_text_block",
    "encode_read_reply", "encode_text_block",
]
