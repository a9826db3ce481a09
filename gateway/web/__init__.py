"""The clerk pages (劳资专管员), their JSON API, /metrics and /healthz: stdlib HTTP only.

    ctx = WebContext(cfg=cfg, store=store, roster=roster_cache, metrics=metrics, devices=..., healthy=...)
    server = WebServer(ctx, cfg["http"]["listen"])
    port = server.start()
    ...
    server.stop()
"""
from sitegate.web.context import WebContext
from sitegate.web.server import WebServer

__all__ = ["WebContext", "WebServer"]
