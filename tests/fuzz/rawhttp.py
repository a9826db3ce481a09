"""Raw bytes to a listener on loopback, as a broken or hostile client sends them: the fuzz tests of
the device listeners and the clerk web server share this."""
from __future__ import annotations

import socket


def exchange(port: int, raw: bytes, timeout: float = 20.0) -> bytes:
    """Send ``raw``, close our side, and return all the listener answered (b"" if it just closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        try:
            conn.sendall(raw)
            conn.shutdown(socket.SHUT_WR)
        except OSError:             # the listener may refuse and close before we finished sending
            pass
        chunks = []
        try:
            while chunk := conn.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
    return b"".join(chunks)
