"""Who may push events: only the configured terminal.

The event push carries no credential (ISAPI ``httpHosts`` pushes are unauthenticated), so the one
thing the listener can check is the sender's IP address against the terminal ``host`` the driver
was configured with (docs/security.md, "What each endpoint trusts"). A LAN host that spoofs the
terminal's IP on a switched network still gets through; that is network placement's job.
"""
from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from urllib.parse import urlsplit

from .client import base_url

log = logging.getLogger(__name__)

RESOLVE_RETRY_S = 30.0      # an unresolvable host name is tried again at most this often
MAX_LOGGED_SOURCES = 100    # one warning per refused source, and no more than this many


def _canonical(address: str) -> str:
    """``::ffff:10.0.0.5`` (a dual-stack listener's view of an IPv4 peer) -> ``10.0.0.5``."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return address
    mapped = getattr(ip, "ipv4_mapped", None)
    return str(mapped or ip)


class TerminalSender:
    """The terminal's IP addresses, resolved once from its ``host`` (a name is retried while it
    does not resolve), and the check of a push's peer address against them."""

    def __init__(self, host: str):
        parts = urlsplit(base_url(host))
        self.hostname = parts.hostname or ""
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self._addresses: frozenset[str] = frozenset()
        self._resolved_at: float | None = None
        self._refused_logged: set[str] = set()
        self._lock = threading.Lock()

    def resolve(self) -> str | None:
        """Look the host up; returns why it failed, or None."""
        with self._lock:
            self._resolved_at = time.monotonic()
        try:
            infos = socket.getaddrinfo(self.hostname, self.port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            return f"terminal host {self.hostname!r} does not resolve: {exc}"
        found = frozenset(_canonical(str(info[4][0])) for info in infos)
        with self._lock:
            self._addresses = found
        return None

    @property
    def addresses(self) -> frozenset[str]:
        with self._lock:
            return self._addresses

    def allows(self, peer: str) -> bool:
        with self._lock:
            retry = not self._addresses and (self._resolved_at is None
                                             or time.monotonic() - self._resolved_at >= RESOLVE_RETRY_S)
        if retry:
            problem = self.resolve()
            if problem:
                log.warning("%s; pushes refused until it does", problem)
        return _canonical(peer) in self.addresses

    def first_refusal(self, peer: str) -> bool:
        """True the first time a source is refused (log it once, not per push)."""
        source = _canonical(peer)
        with self._lock:
            first = source not in self._refused_logged and len(self._refused_logged) < MAX_LOGGED_SOURCES
            self._refused_logged.add(source)
        return first
