"""The reference platform: the national OpenAPI's server side, for demos, tests and vendors.

``Receiver`` (server.py) serves ``POST /open.api`` and ``GET /stats`` on loopback; the platform's
checks and answers are in platform.py and validation.py, its SQLite store in store.py, fault
injection in faults.py. ``python -m sitegate.receiver …`` equals ``sitegate receiver …``.
"""
from sitegate.receiver.faults import Faults
from sitegate.receiver.platform import Rules
from sitegate.receiver.roster import RosterWorker, load_roster, parse_roster
from sitegate.receiver.server import Receiver
from sitegate.receiver.store import Record

__all__ = ["Faults", "Receiver", "Record", "RosterWorker", "Rules", "load_roster", "parse_roster"]
