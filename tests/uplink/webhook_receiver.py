"""A real webhook receiver on 127.0.0.1 for the tests, written from docs/platform.md and NOT from
the code under test: it checks the HMAC over ``timestamp "." body`` and the time window itself,
decrypts ID numbers with AES-GCM itself, de-duplicates by event_id, and can misbehave on purpose
(errors before or after storing, resets, slow answers, garbage, rejections)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tests.uplink.mosquitto import GATEWAY, PAYLOAD_KEY_HEX, PROJECT, secret_file

# what a fault does: (status or None for a reset/slow, store the records first?)
FAULTS = {
    "500": (500, False), "500-after-storing": (500, True), "503": (503, False), "429": (429, False),
    "html": (200, False), "bad-json": (200, False), "reset-after-storing": (None, True),
    "slow-after-storing": (None, True),
}


class Receiver:
    def __init__(self, secret: str, *, payload_key_hex: str = PAYLOAD_KEY_HEX, seed: int = 1, port: int = 0,
                 window_s: int = 300, delay_s: float = 0.0, tls=None):
        self.secret = secret.encode()
        self.aes = AESGCM(bytes.fromhex(payload_key_hex))
        self.rng = random.Random(seed)
        self.window_s = window_s
        self.delay_s = delay_s                    # per request, to widen the window for SIGKILL tests
        self.port = port
        self.tls = tls                            # tests.uplink.mosquitto.TlsFiles: serve HTTPS
        self.lock = threading.Lock()
        self.records: dict[str, dict] = {}        # the de-duplicated store: event_id -> record
        self.id_numbers: dict[str, str] = {}      # event_id -> decrypted ID number
        self.receipts: Counter[str] = Counter()   # event_id -> times received (duplicates included)
        self.batch_keys: Counter[str] = Counter()
        self.bodies: dict[str, set[str]] = {}    # Idempotency-Key -> SHA-256 of every body sent under it
        self.requests = 0
        self.bad_signatures = 0
        self.error_rate = 0.0
        self.error_kinds: list[str] = ["500", "500-after-storing", "503", "429", "html", "bad-json",
                                       "reset-after-storing"]
        self.faults_injected: Counter[str] = Counter()
        self.queue: list[str] = []                # faults for the next requests, in order
        self.reject: Callable[[dict, str], str | None] = lambda rec, idn: None
        self.slow_s = 2.0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/hook"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True    # headers and body are two writes: no 40 ms delayed-ACK stall

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                receiver.handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._server.handle_error = lambda request, address: None   # resets on purpose are not errors
        if self.tls is not None:
            import ssl

            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.tls.cert, self.tls.key)
            self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
        self._server = None

    # -- one request ----------------------------------------------------------------------------
    def _verify(self, h: BaseHTTPRequestHandler, body: bytes) -> bool:
        ts = h.headers.get("X-Sitegate-Timestamp", "")
        sig = h.headers.get("X-Sitegate-Signature", "")
        if not ts.isdigit() or abs(time.time() - int(ts)) > self.window_s:
            return False
        want = "sha256=" + hmac.new(self.secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(want, sig)

    def _decrypt(self, token: str, aad: str) -> str:
        raw = base64.b64decode(token)
        return self.aes.decrypt(raw[:12], raw[12:], aad.encode()).decode()

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        body = h.rfile.read(int(h.headers.get("Content-Length", "0")))
        with self.lock:
            self.requests += 1
            fault = self.queue.pop(0) if self.queue else None
            if fault is None and self.error_rate and self.rng.random() < self.error_rate:
                fault = self.rng.choice(self.error_kinds)
            if fault:
                self.faults_injected[fault] += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        if not self._verify(h, body):
            with self.lock:
                self.bad_signatures += 1
            return self._reply(h, 401, b'{"error":"bad signature"}')
        doc = json.loads(body)
        with self.lock:
            self.bodies.setdefault(h.headers["Idempotency-Key"], set()).add(hashlib.sha256(body).hexdigest())
        assert doc["schema"] == "sitegate.webhook/1" and doc["batch_id"] == h.headers["Idempotency-Key"]
        status, store_first = FAULTS.get(fault, (200, True)) if fault else (200, True)
        answer = {"accepted": [], "rejected": []}
        if store_first:
            answer = self._store(doc)
        if fault in ("reset-after-storing",):
            h.close_connection = True
            h.connection.close()
            return
        if fault == "slow-after-storing":
            time.sleep(self.slow_s)
            status = 200
        if fault == "html":
            return self._reply(h, 200, b"<html><body>Welcome to nginx!</body></html>", "text/html")
        if fault == "bad-json":
            return self._reply(h, 200, b'{"accepted": [', "application/json")
        if status == 429:
            return self._reply(h, 429, b"slow down", "text/plain", {"Retry-After": "0"})
        if status != 200:
            return self._reply(h, status, b"oops", "text/plain")
        self._reply(h, 200, json.dumps(answer).encode())

    def _store(self, doc: dict) -> dict:
        accepted, rejected = [], []
        with self.lock:
            self.batch_keys[doc["batch_id"]] += 1
            for rec in doc["records"]:
                eid = rec["event_id"]
                assert rec["project_code"] == PROJECT and rec["gateway_id"] == GATEWAY
                idn = self._decrypt(rec["id_card_number_enc"], f"{eid}|id_card_number")
                assert rec["id_card_number_masked"] == idn[:6] + "********" + idn[-4:]
                self.receipts[eid] += 1
                reason = self.reject(rec, idn)
                if reason:
                    rejected.append({"event_id": eid, "reason": reason, "code": "E_TEST"})
                    continue
                self.records.setdefault(eid, rec)     # de-duplicated by event_id
                self.id_numbers.setdefault(eid, idn)
                accepted.append(eid)
        return {"accepted": accepted, "rejected": rejected}

    @staticmethod
    def _reply(h: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str = "application/json",
               extra: dict | None = None) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)


def webhook_config_text(root: Path, url: str, secret: str, *, batch_size: int = 20, timeout_s: float = 5.0,
                        ca_file: Path | None = None) -> str:
    key = secret_file(root / "payload.key", PAYLOAD_KEY_HEX)
    hook_secret = secret_file(root / "webhook.secret", secret)
    return "\n".join([
        "[site]", f'project_code = "{PROJECT}"', f'gateway_id = "{GATEWAY}"', f'data_dir = "{root / "data"}"',
        "[uplink]", 'profile = "webhook"', f'payload_key_file = "{key}"', f"batch_size = {batch_size}",
        f"timeout_s = {timeout_s}", f'ca_file = "{ca_file or ""}"',
        "[uplink.webhook]", f'url = "{url}"', f'secret_file = "{hook_secret}"',
    ]) + "\n"


def webhook_config(root: Path, url: str, secret: str, **kw):
    from sitegate.config import loads

    return loads(webhook_config_text(root, url, secret, **kw), str(root / "sitegate.toml"))
