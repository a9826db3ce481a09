"""WG ("微耕") Wiegand access controllers — the boards behind most site turnstiles — over UDP.

Layers, codec apart from I/O (uhppote-core's shape; reference/protocols.md §2):

- ``codec``       the 64-byte packet: header, serial, sequence number, validation (``PacketError``)
- ``bcd``         BCD date-times and dates
- ``messages``    every operation's request and reply, both directions; ``REPLY_DECODERS``
- ``reasons``     record reason codes -> text and category
- ``client``      ``WgClient``: retries, matching, gap-free record download
- ``push``        ``PushListener``: pushed 0x20 packets, de-duplicated by record index
- ``controller``, ``simulator``  a controller on a UDP socket (``sitegate sim wg``)
"""
from .client import WgClient, WgError, WgTimeout, discover
from .codec import Function, Packet, PacketError
from .messages import DeviceInfo, DoorControl, Privilege, PushTarget, Record, Status
from .push import PushedRecord, PushListener

__all__ = [
    "WgClient", "WgError", "WgTimeout", "discover", "Function", "Packet", "PacketError", "DeviceInfo",
    "DoorControl", "Privilege", "PushTarget", "Record", "Status", "PushListener", "PushedRecord",
]
