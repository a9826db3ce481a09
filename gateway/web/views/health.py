"""/healthz and /metrics: for systemd watchdogs, load balancers and Prometheus, without login.

Neither exposes personal data: /healthz answers ok or the reason it is not; /metrics carries counts
labelled by method, outcome, reason, uplink and device id only.
"""
from __future__ import annotations

import concurrent.futures
import logging
import sqlite3
import time

from sitegate.metrics import CONTENT_TYPE
from sitegate.web.http import Response, json_response

log = logging.getLogger(__name__)

HEARTBEAT_KEY = "web.healthz"
WRITE_TIMEOUT_S = 2.0


def _heartbeat(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT INTO kv(key, value, updated_ts) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
                 "value = excluded.value, updated_ts = excluded.updated_ts",
                 (HEARTBEAT_KEY, "ok", time.time()))


def healthz(app, req) -> Response:
    ctx, problems = app.ctx, []
    try:
        if not ctx.healthy():
            problems.append("the daemon's main loop is not alive")
    except Exception as exc:  # noqa: BLE001 - a health check reports, it does not raise
        problems.append(f"health callback failed: {exc}")
    try:
        # a real write through the one writer: proves the disk, the database and the writer thread
        ctx.store.write(_heartbeat, timeout=WRITE_TIMEOUT_S)
    except concurrent.futures.TimeoutError:
        problems.append(f"the store did not commit within {WRITE_TIMEOUT_S:g} s")
    except Exception as exc:  # noqa: BLE001
        problems.append(f"the store is not writable: {exc}")
    if problems:
        log.warning("health check failed: %s", "; ".join(problems))
        return json_response({"ok": False, "reason": "; ".join(problems)}, 503)
    return json_response({"ok": True})


def metrics(app, req) -> Response:
    return Response(200, app.ctx.metrics.render(), CONTENT_TYPE)
